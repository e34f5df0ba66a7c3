"""Citation verification: what each citation points at."""

from __future__ import annotations

from core.types import Passage, ScoredPassage, citation_record
from qa.verify import verify


def _scored(text: str, paragraph: int) -> ScoredPassage:
    return ScoredPassage(Passage(f"p{paragraph}", "d", "d.txt", "标题", paragraph, 1, 1, 0, len(text), text), 1.0)


def test_every_sentence_citing_a_passage_gets_its_span_highlighted() -> None:
    first = _scored("处理好速度与质量的关系。高质量发展是协同推进。质量是速度的根本，速度是质量的载体。", 12)
    other = _scored("创新是第一动力。人才是第一资源。", 8)
    answer = "质量是速度的根本，速度是质量的载体。[2]人才是第一资源。[1]高质量发展是协同推进。[2]"
    checked = verify(answer, [other, first])

    assert checked.text.count("[1]") == 2 and checked.text.count("[2]") == 1  # renumbered by first use
    cite = checked.citations[0]
    assert cite.passage is first.passage
    assert cite.quote == "质量是速度的根本，速度是质量的载体。"  # the first sentence citing it
    text = first.passage.text
    assert [text[s:e] for s, e in cite.highlights] == ["高质量发展是协同推进。", cite.quote]  # passage order
    assert citation_record(cite)["spans"] == [list(span) for span in cite.highlights]
    assert checked.citations[1].highlights == ((8, 16),)


def test_a_sentence_with_a_figure_its_passage_lacks_is_removed() -> None:
    p = _scored("全国中小微企业数量已超过5200万户。", 1)
    checked = verify("中小微企业超过5200万户。[1]其中60%在东部。[1]", [p])
    assert checked.text == "中小微企业超过5200万户。[1]"
    assert checked.removed == ("其中60%在东部。",)
    assert checked.citations[0].highlights == ((0, len(p.passage.text)),)
