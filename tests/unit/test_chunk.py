from __future__ import annotations

from core.types import Article, Document
from ingest.chunk import chunk_document, sentence_spans
from ingest.clean import clean_text
from tests.conftest import SEED_FILE


def _doc(text: str, title: str = "t") -> Document:
    cleaned, articles = clean_text(text, title)
    return Document("d" * 32, "x.txt", "x.txt", cleaned, articles)


def test_sentence_spans_cover_the_text() -> None:
    text = "第一句。第二句！“第三句？”尾巴"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["第一句。", "第二句！", "“第三句？”", "尾巴"]


def test_long_paragraph_splits_at_sentence_ends_only() -> None:
    sentence = "这是一个用来测试切分的句子，长度大约三十个字符左右。"
    doc = _doc(sentence * 30)
    passages = chunk_document(doc, max_chars=120, min_chars=10)
    assert len(passages) > 1
    assert all(p.text.endswith("。") and len(p.text) <= 120 for p in passages)
    assert "".join(p.text for p in passages) == sentence * 30
    assert [p.part for p in passages] == list(range(1, len(passages) + 1))


def test_tiny_fragment_is_merged_into_its_neighbour() -> None:
    doc = Document(
        "d" * 32, "x", "x", "正文第一段，足够长的一段话。\n\n短。", (Article("t", paragraphs=((0, 14), (16, 18))),)
    )
    passages = chunk_document(doc, max_chars=350, min_chars=5)
    assert len(passages) == 1
    assert passages[0].text.endswith("短。")


def test_offsets_point_at_the_text_and_titles_are_set() -> None:
    doc = _doc(SEED_FILE.read_text("utf-8"), "seed")
    passages = chunk_document(doc)
    assert all(doc.text[p.start : p.end] == p.text for p in passages)
    assert all(p.title and p.paragraph >= 1 for p in passages)
    five = [p for p in passages if "5200万户" in p.text]
    assert len(five) == 1 and five[0].paragraph == 2 and five[0].title.endswith("专利产业化助力中小企业加快成长")


def test_passage_ids_are_stable() -> None:
    text = SEED_FILE.read_text("utf-8")
    first = [p.passage_id for p in chunk_document(_doc(text))]
    second = [p.passage_id for p in chunk_document(_doc(text))]
    assert first == second and len(set(first)) == len(first)
