"""Property-based tests: no exception on any Unicode input, nothing lost, offsets exact."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.text import normalize, tokenize
from core.types import Document
from ingest.chunk import chunk_document, sentence_spans
from ingest.clean import clean_text
from qa.terms import analyze, number_forms
from qa.verify import split_claims, verify

# Text shaped like Chinese documents: CJK, punctuation, digits, newlines, plus anything at all.
chinese = st.text(
    alphabet=st.sampled_from(
        list("中小微企业户数量专利年月日我国的是了，。！？；：“”（）《》——\n\n  0123456789.%万亿abc")
    ),
    max_size=600,
)
anything = st.text(max_size=400)
_MD_HEADING_MARK = re.compile(r"^#{1,6}(?=\s+\S)")
layout = st.one_of(chinese, anything)


@settings(max_examples=200, deadline=None)
@given(layout)
def test_cleaning_never_loses_non_whitespace(text: str) -> None:
    """Only layout goes: whitespace and the ``#`` marks of Markdown headings (the heading text stays)."""
    cleaned, articles = clean_text(text, "标题")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = "".join(_MD_HEADING_MARK.sub("", line.strip()) for line in lines)
    assert re.sub(r"\s", "", cleaned) == re.sub(r"\s", "", kept)
    for a in articles:
        for s, e in a.paragraphs:
            assert 0 <= s < e <= len(cleaned)


@settings(max_examples=200, deadline=None)
@given(layout, st.integers(min_value=80, max_value=400), st.integers(min_value=0, max_value=60))
def test_passage_offsets_point_at_their_text(text: str, max_chars: int, min_chars: int) -> None:
    cleaned, articles = clean_text(text, "标题")
    doc = Document("0" * 32, "x.txt", "x.txt", cleaned, articles)
    passages = chunk_document(doc, max_chars=max_chars, min_chars=min_chars)
    for p in passages:
        assert cleaned[p.start : p.end] == p.text
        assert p.text.strip()
    assert len({p.passage_id for p in passages}) == len(passages)


@settings(max_examples=200, deadline=None)
@given(anything)
def test_sentence_spans_tile_the_text(text: str) -> None:
    spans = sentence_spans(text)
    assert "".join(text[s:e] for s, e in spans) == text


@settings(max_examples=200, deadline=None)
@given(anything)
def test_text_helpers_never_raise(text: str) -> None:
    normalize(text)
    tokenize(text)
    number_forms(text)
    analyze(text)
    split_claims(text)
    verify(text, [])


@given(st.integers(min_value=0, max_value=10**9))
def test_number_forms_ignore_thousands_separators_and_width(n: int) -> None:
    plain = str(n)
    grouped = f"{n:,}"
    fullwidth = plain.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert plain in number_forms(grouped + "万") and plain + "万" in number_forms(fullwidth + "万")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=99), min_size=1, max_size=4), chinese)
def test_citation_markers_are_parsed(ns: list[int], body: str) -> None:
    body = re.sub(r"[。！？；!?;\[\]【】\n]", "", body) or "内容"
    if not re.search(r"\w", body):
        body = "内容"
    claims = split_claims(body + "。" + "".join(f"[{n}]" for n in ns))
    assert claims and claims[-1].cited == tuple(ns)
