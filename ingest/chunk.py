"""Split articles into passages: one paragraph each, long ones at sentence ends.

A paragraph longer than ``max_chars`` is split between sentences (。！？；),
never inside one; a fragment shorter than ``min_chars`` is merged into its
neighbour in the same article.
"""

from __future__ import annotations

import re
from typing import Any

from core.types import Document, Line, Passage
from ingest.ocr import LOW_CONFIDENCE

_SENTENCE = re.compile(r".*?(?:[。！？!?；;…]+[”’」』）)]*|$)", re.S)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, covering it without gaps."""
    spans = []
    for m in _SENTENCE.finditer(text):
        if m.end() > m.start():
            spans.append((m.start(), m.end()))
    return spans


_MIN_SENTENCE = 6  # shorter "sentences" (a dateline, a lone 对。) are never quoted
_ATTRIBUTION = re.compile(r"[^，。！？“”]{2,30}(?:说|表示|介绍|指出|认为|强调|坦言|告诉记者)[。！]?")


def split_sentences(passage: str) -> list[tuple[int, int, str]]:
    """(start, end, stripped text) of the sentences of a passage worth quoting.

    A short attribution after a quotation (``“……。”潘波说。``) stays with it:
    the speaker is part of what the quote says.
    """
    out: list[tuple[int, int, str]] = []
    for s, e in sentence_spans(passage):
        text = passage[s:e]
        lead = len(text) - len(text.lstrip())
        text = text.strip()
        start, end = s + lead, s + lead + len(text)
        if out and _ATTRIBUTION.fullmatch(text) and out[-1][2].endswith(("”", "」", "』")):
            prev_start = out[-1][0]
            out[-1] = (prev_start, end, passage[prev_start:end])
        elif len(text) >= _MIN_SENTENCE:
            out.append((start, end, text))
    return out


def _pieces(start: int, end: int, text: str, max_chars: int) -> list[tuple[int, int]]:
    """Greedy groups of whole sentences of at most ``max_chars`` each."""
    if end - start <= max_chars:
        return [(start, end)]
    groups: list[tuple[int, int]] = []
    for s, e in sentence_spans(text[start:end]):
        s, e = s + start, e + start
        if groups and e - groups[-1][0] <= max_chars:
            groups[-1] = (groups[-1][0], e)
        else:
            groups.append((s, e))
    return [window for g in groups for window in _hard_split(g, max_chars)]


def _hard_split(span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    """A "sentence" over three times the limit (a table, a list without 。) is cut in windows."""
    s, e = span
    if e - s <= 3 * max_chars:
        return [span]
    return [(i, min(i + max_chars, e)) for i in range(s, e, max_chars)]


def _merge_tiny(spans: list[tuple[int, int, int]], min_chars: int) -> list[tuple[int, int, int]]:
    """Merge (paragraph, start, end) spans shorter than ``min_chars`` into a neighbour."""
    out: list[tuple[int, int, int]] = []
    for para, s, e in spans:
        if (out and e - s < min_chars) or (out and out[-1][2] - out[-1][1] < min_chars):
            out[-1] = (out[-1][0], out[-1][1], e)
        else:
            out.append((para, s, e))
    return out


def passage_id(doc_id: str, article: int, paragraph: int, part: int) -> str:
    return f"{doc_id[:12]}-a{article}-p{paragraph}-{part}"


def _layout(lines: tuple[Line, ...], start: int, end: int) -> dict[str, Any]:
    """A passage's page, the boxes of its lines on that page, and its OCR marks (paged documents only)."""
    inside = [ln for ln in lines if ln.start < end and ln.end > start]
    if not inside:
        return {}
    page = inside[0].page
    uncertain = tuple(
        (max(ln.start, start) - start, min(ln.end, end) - start)
        for ln in inside
        if ln.ocr and ln.score < LOW_CONFIDENCE
    )
    return {
        "page": page,
        "boxes": tuple(ln.box for ln in inside if ln.page == page),
        "ocr": any(ln.ocr for ln in inside),
        "uncertain": uncertain,
    }


def chunk_document(doc: Document, max_chars: int = 350, min_chars: int = 20) -> list[Passage]:
    passages: list[Passage] = []
    for a_idx, article in enumerate(doc.articles, start=1):
        spans: list[tuple[int, int, int]] = []
        for p_idx, (start, end) in enumerate(article.paragraphs, start=1):
            spans.extend((p_idx, s, e) for s, e in _pieces(start, end, doc.text, max_chars))
        part_of: dict[int, int] = {}
        for para, s, e in _merge_tiny(spans, min_chars):
            part_of[para] = part_of.get(para, 0) + 1
            passages.append(
                Passage(
                    passage_id=passage_id(doc.doc_id, a_idx, para, part_of[para]),
                    doc_id=doc.doc_id,
                    doc_name=doc.name,
                    title=article.title,
                    article=a_idx,
                    paragraph=para,
                    part=part_of[para],
                    start=s,
                    end=e,
                    text=doc.text[s:e],
                    **_layout(doc.lines, s, e),
                )
            )
    return passages
