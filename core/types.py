"""The core types every stage passes along.

Document → Article → Passage → ScoredPassage → Citation → Answer.
Each pipeline stage turns one of these into the next; nothing else travels
between modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

REFUSAL_TEXT = "根据现有资料，无法回答该问题。"

AnswerMode = Literal["extractive", "llm"]

# A line's box on its page as fractions of the page's width and height: (x0, y0, x1, y1).
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Line:
    """A printed line of a paged document (PDF, scan, slide) and where it is.

    ``start``/``end`` are offsets into ``Document.text``; ``score`` is the OCR
    recogniser's confidence (1.0 for a text layer); ``ocr`` says it was read from pixels.
    """

    start: int
    end: int
    page: int
    box: Box
    score: float = 1.0
    ocr: bool = False


@dataclass(frozen=True)
class Article:
    """One article of a document: its headline, bylines and body paragraphs.

    ``paragraphs`` are (start, end) offsets into ``Document.text``.
    """

    title: str
    subtitles: tuple[str, ...] = ()
    bylines: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    paragraphs: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Document:
    """A cleaned source file. ``doc_id`` is the hash of its raw content."""

    doc_id: str
    path: str
    name: str
    text: str
    articles: tuple[Article, ...]
    encoding: str = "utf-8"
    pages: int = 0  # 0 for an unpaged document
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True, slots=True)  # slots: 175k passages take ~40 % less memory
class Passage:
    """A paragraph (or a sentence-aligned piece of one) of an article.

    ``start``/``end`` are character offsets into the cleaned document text,
    so ``document.text[start:end] == text``. ``paragraph`` counts from 1
    within the article; ``part`` counts pieces of a long paragraph from 1.
    """

    passage_id: str
    doc_id: str
    doc_name: str
    title: str
    article: int
    paragraph: int
    part: int
    start: int
    end: int
    text: str
    # Paged documents only: the 1-based page the passage starts on, the boxes of its lines on
    # that page, whether it was read by OCR, and the (start, end) offsets inside ``text`` of
    # lines the recogniser was unsure of (kept, but marked in the app).
    page: int | None = None
    boxes: tuple[Box, ...] = ()
    ocr: bool = False
    uncertain: tuple[tuple[int, int], ...] = ()

    @property
    def label(self) -> str:
        """Human-readable location, e.g. ``《标题》第3段``."""
        suffix = f"（第{self.part}部分）" if self.part > 1 else ""
        page = f"第{self.page}页 · " if self.page else ""
        return f"{self.doc_name} ·《{self.title}》{page}第{self.paragraph}段{suffix}"


@dataclass(frozen=True)
class ScoredPassage:
    passage: Passage
    score: float
    dense_score: float | None = None
    keyword_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """A numbered reference ``[n]`` from an answer to a passage.

    ``quote`` is the span supporting the first answer sentence that cites the passage, and
    ``quote_start``/``quote_end`` are its offsets inside ``passage.text``; ``spans`` holds the
    offsets of every sentence's supporting span (several sentences may cite one passage), in
    passage order, for highlighting.
    """

    n: int
    passage: Passage
    quote: str
    quote_start: int
    quote_end: int
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def highlights(self) -> tuple[tuple[int, int], ...]:
        """Every supporting span: ``spans``, or the quote's alone."""
        return self.spans or ((self.quote_start, self.quote_end),)


@dataclass(frozen=True)
class Support:
    """The support gate's verdict on the retrieved passages."""

    supported: bool
    confidence: float
    missing_terms: tuple[str, ...] = ()
    reason: str = ""
    # What the decision compared with its threshold: the gate's probability, or for an English
    # question the cosine of its best sentence (python -m qa fit-english fits that threshold).
    score: float = 0.0


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    refused: bool
    citations: tuple[Citation, ...]
    retrieved: tuple[ScoredPassage, ...]
    mode: AnswerMode
    latency_ms: float
    model: str = ""
    standalone_question: str = ""
    removed_sentences: tuple[str, ...] = ()
    notice: str = ""
    support: Support | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self, record_id: str | None = None) -> dict[str, Any]:
        """The answer record shared by the CLI, the app's API and evaluation."""
        record: dict[str, Any] = {}
        if record_id is not None:
            record["id"] = record_id
        record.update(
            {
                "question": self.question,
                "answer": self.text,
                "refused": self.refused,
                "citations": [citation_record(c) for c in self.citations],
                "retrieved": [scored_record(s) for s in self.retrieved],
                "mode": self.mode,
                "model": self.model,
                "latency_ms": round(self.latency_ms, 1),
                "standalone_question": self.standalone_question,
                "removed_sentences": list(self.removed_sentences),
                "notice": self.notice,
            }
        )
        return record


def passage_record(p: Passage) -> dict[str, Any]:
    return {
        "passage_id": p.passage_id,
        "doc": p.doc_name,
        "doc_id": p.doc_id,
        "title": p.title,
        "paragraph": p.paragraph,
        "page": p.page,
        "text": p.text,
    }


def passage_from_json(data: dict[str, Any]) -> Passage:
    """A passage from its stored dict (lists back into tuples; older indexes lack the page fields)."""
    return Passage(
        **{
            **data,
            "boxes": tuple(tuple(b) for b in data.get("boxes", ())),
            "uncertain": tuple(tuple(u) for u in data.get("uncertain", ())),
        }
    )


def scored_record(s: ScoredPassage) -> dict[str, Any]:
    record = passage_record(s.passage)
    record["score"] = round(float(s.score), 6)
    return record


def citation_record(c: Citation) -> dict[str, Any]:
    record = {"n": c.n, **passage_record(c.passage)}
    record.update(quote=c.quote, quote_start=c.quote_start, quote_end=c.quote_end)
    record["spans"] = [list(span) for span in c.highlights]
    return record
