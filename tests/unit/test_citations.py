"""Citation markers in the styles models write, read into sentences and passage numbers."""

from __future__ import annotations

import pytest

from core.types import Passage, ScoredPassage
from qa.citations import Claim, canonical_citations, split_claims, strip_citations
from qa.prompt import refusal_like
from qa.verify import verify

A = "中小微企业超过5200万户。"
B = "高新技术企业46.5万家。"
C = "个体工商户达到1.22亿户。"


def claims(answer: str, passages: int = 5) -> list[tuple[str, tuple[int, ...]]]:
    return [(c.text, c.cited) for c in split_claims(answer, passages)]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # the form the prompt asks for, and the plain variants read as before
        (f"{A}[1]{B}[2]", [(A, (1,)), (B, (2,))]),
        (f"{A}【1】{B}【2】", [(A, (1,)), (B, (2,))]),
        (f"{A}［1］", [(A, (1,))]),
        (f"{A}[1][2]", [(A, (1, 2))]),
        (f"{A}[1, 2]{B}[3]", [(A, (1, 2)), (B, (3,))]),
        (f"{A}[1,2]", [(A, (1, 2))]),
        (f"{A}【1，2、3】", [(A, (1, 2, 3))]),
        (f"{A} [1]", [(A, (1,))]),
        (
            "中小微企业超过5200万户[1]，高新技术企业46.5万家[2]。",
            [("中小微企业超过5200万户，高新技术企业46.5万家。", (1, 2))],
        ),
        # footnotes; their definitions assert nothing and are dropped
        (f"{A}[^1]{B}[^2]", [(A, (1,)), (B, (2,))]),
        ("中小微企业超过5200万户[^1]。\n\n[^1]: 资料1，来源：工业和信息化部", [(A, (1,))]),
        # keyword forms, in either bracket, full-width or not
        (f"中小微企业超过5200万户（来源1）。{B}", [(A, (1,)), (B, ())]),
        (f"{A}(来源：1){B}（资料2）", [(A, (1,)), (B, (2,))]),
        (f"{A}（来源：1、3）", [(A, (1, 3))]),
        (f"{A}（来源1，来源2）", [(A, (1, 2))]),
        (f"{A}[来源1]{B}[来源：2]", [(A, (1,)), (B, (2,))]),
        (f"{A}【资料3】", [(A, (3,))]),
        (f"{A}（参考资料2）", [(A, (2,))]),
        (f"{A}（见资料第2段）", [(A, (2,))]),
        (f"{A}(Source 2)", [(A, (2,))]),
        (f"{A}（来源：[1]、[2]）", [(A, (1, 2))]),
        (f"{A}来源：[2]", [(A, (2,))]),
        (f"{A}\n\n资料来源：[1][3]", [(A, (1, 3))]),
        # ranges
        (f"{A}[1-3]", [(A, (1, 2, 3))]),
        (f"{A}[2–4]{B}[1～2]", [(A, (2, 3, 4)), (B, (1, 2))]),
        (f"{A}[1-2, 4]", [(A, (1, 2, 4))]),
        # after the final punctuation, a closing quote, or on a line of their own
        ("他说：“中小微企业超过5200万户。”[1]", [("他说：“中小微企业超过5200万户。”", (1,))]),
        (f"{A}\n[2]", [(A, (2,))]),
        # before the sentence they support
        (f"[1] 数据显示，{A}[2] {B}", [(f"数据显示，{A}", (1,)), (B, (2,))]),
        (f"【1】{A}【2】{B}", [(A, (1,)), (B, (2,))]),
        (f"（来源1）{A}（来源2）{B}", [(A, (1,)), (B, (2,))]),
        (f"[1][3] {A}\n[2] {B}", [(A, (1, 3)), (B, (2,))]),
        (f"- [1] {A}\n- [2] {B}", [(f"- {A}", (1,)), (f"- {B}", (2,))]),
        (f"[1] {A}[2] {B}[3]", [(A, (1,)), (B, (2, 3))]),  # a last marker has no sentence after it
        # mixed in one answer
        (f"{A}【1】\n{B}[^2]\n[3] {C}", [(A, (1,)), (B, (2,)), (C, (3,))]),
    ],
)
def test_each_style_gives_the_sentences_and_their_passages(answer: str, expected: list) -> None:
    assert claims(answer) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # years and ordinary brackets are words, not citations
        ("2023年[2023]全年中小微企业超过5200万户。[1]", [("2023年[2023]全年中小微企业超过5200万户。", (1,))]),
        ("【2023】全年中小微企业超过5200万户。[1]", [("【2023】全年中小微企业超过5200万户。", (1,))]),
        ("全国（2023年）中小微企业超过5200万户。[1]", [("全国（2023年）中小微企业超过5200万户。", (1,))]),
        (
            "中小微企业超过5200万户（来源：2023年统计公报）。[1]",
            [("中小微企业超过5200万户（来源：2023年统计公报）。", (1,))],
        ),
        # parentheses without a keyword number list items
        (f"（1）{A}[1]（2）{B}[2]", [(f"（1）{A}", (1,)), (f"（2）{B}", (2,))]),
        ("一是稳增长(1)，二是促就业(2)。[1]", [("一是稳增长(1)，二是促就业(2)。", (1,))]),
        # a form other than the plain one is read only when every number is a passage number
        ("中小微企业超过5200万户（资料12）。[1]", [("中小微企业超过5200万户（资料12）。", (1,))]),
        (f"{A}[来源7]", [(A, ()), ("[来源7]", ())]),
        (f"{B}[1]{A}[2-9]", [(B, (1,)), (A, ()), ("[2-9]", ())]),
        ("中小微企业超过5200万户[^8]。", [("中小微企业超过5200万户[^8]。", ())]),
        # the plain form stays a citation whatever its number (verification ignores [9] of five)
        (f"{A}[9]", [(A, (9,))]),
        (f"{A}[1, 9]", [(A, (1, 9))]),
        ("中小微企业超过5200万户[^1]，见表[3-1]。", [("中小微企业超过5200万户，见表[3-1]。", (1,))]),
    ],
)
def test_numbers_that_are_no_passage_numbers_stay_text(answer: str, expected: list) -> None:
    assert claims(answer) == expected


def test_the_passage_count_bounds_the_styled_forms_only() -> None:
    assert canonical_citations(f"{A}（来源3）", 2) == f"{A}（来源3）"
    assert canonical_citations(f"{A}（来源3）", 3) == f"{A}[3]"
    assert canonical_citations(f"{A}（来源3）") == f"{A}[3]"  # no count given: any three-digit number
    assert canonical_citations(f"{A}[3]", 0) == f"{A}[3]"
    assert split_claims(f"{A}[1-3]") == [Claim(A, (1, 2, 3))]


def test_strip_citations_removes_every_style() -> None:
    assert strip_citations("中小微企业超过5200万户【1】（来源2）[^3]。[4-5]", 5) == A
    assert refusal_like("根据现有资料无法回答。（来源：1）")


def _scored(text: str, n: int) -> ScoredPassage:
    return ScoredPassage(Passage(f"p{n}", "d", "d.txt", "标题", n, 1, 1, 0, len(text), text), 1.0)


def test_verify_keeps_and_renumbers_sentences_in_any_style() -> None:
    passages = [
        _scored("全国高新技术企业46.5万家。", 1),
        _scored("全国中小微企业超过5200万户。", 2),
        _scored("个体工商户达到1.22亿户。", 3),
    ]
    answer = f"[2] {A}\n{B}（来源1）\n{C}[^3]\n2023年[2023]的个体工商户有1.5亿户。[3]"
    checked = verify(answer, passages)
    assert checked.text == f"{A}[1]{B}[2]{C}[3]"
    assert checked.removed == ("2023年[2023]的个体工商户有1.5亿户。",)
    assert [c.passage.passage_id for c in checked.citations] == ["p2", "p1", "p3"]
