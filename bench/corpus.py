"""The benchmark corpus: CMRC2018 dev contexts, then CRUD-RAG news as distractors.

Every slice holds all 848 CMRC2018 dev contexts (so each dev question's gold
paragraph is in it) followed by CRUD-RAG documents in a fixed order until the
slice reaches its passage count; a smaller slice is a prefix of a larger one.
Passages are counted by the pipeline's own cleaning and chunking, so the
files written for a slice ingest into exactly that many passages.
The data stays in ``/work/shared/data``; slices are written to temp folders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from core.types import Document, Passage
from eval.datasets import CorpusDocument, crud_rag_documents, load_squad
from eval.scoring import Question
from ingest.chunk import chunk_document
from ingest.clean import clean_text
from ingest.load import content_hash

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CMRC_DEV = SHARED / "cmrc2018" / "cmrc2018_dev.json"
CMRC_TRIAL = SHARED / "cmrc2018" / "cmrc2018_trial.json"
CRUD_DIR = SHARED / "crud_rag" / "80000_docs"
CRUD_DOCS = 68_798
_PASSAGES_PER_DOC_GUESS = 2.0  # CRUD-RAG averages ~2.6; a low guess only means reading a few more lines


@dataclass(frozen=True)
class CorpusDoc:
    doc: CorpusDocument
    passages: tuple[Passage, ...]


@dataclass
class Corpus:
    docs: list[CorpusDoc]
    questions: list[Question]  # CMRC2018 dev, answerable, with evidence sentences

    @property
    def passage_count(self) -> int:
        return sum(len(d.passages) for d in self.docs)

    def texts(self) -> list[str]:
        return [p.text for d in self.docs for p in d.passages]


def chunk_text(doc: CorpusDocument, settings: Settings) -> tuple[Passage, ...]:
    """The passages ``ingest`` will make of ``doc`` written as a UTF-8 file (same cleaning and chunking)."""
    data = doc.text.encode("utf-8")
    text, articles = clean_text(data.decode("utf-8-sig"), fallback_title=Path(doc.name).stem)
    document = Document(content_hash(data), doc.name, doc.name, text, articles)
    return tuple(chunk_document(document, settings.max_passage_chars, settings.min_passage_chars))


def take_passages(docs: Sequence[CorpusDoc], target: int | None) -> list[CorpusDoc]:
    """The shortest prefix of ``docs`` holding at least ``target`` passages (all when ``None``)."""
    if target is None:
        return list(docs)
    out: list[CorpusDoc] = []
    total = 0
    for d in docs:
        if total >= target:
            break
        out.append(d)
        total += len(d.passages)
    return out


def build_corpus(target: int | None, settings: Settings) -> Corpus:
    """All CMRC2018 dev contexts plus CRUD-RAG documents up to ``target`` passages in all (``None``: every document)."""
    squad = load_squad(CMRC_DEV, all_contexts=True)
    docs = [CorpusDoc(d, chunk_text(d, settings)) for d in squad.documents]
    have = sum(len(d.passages) for d in docs)
    want = CRUD_DOCS if target is None else min(CRUD_DOCS, math.ceil(max(0, target - have) / _PASSAGES_PER_DOC_GUESS))
    crud = [CorpusDoc(d, chunk_text(d, settings)) for d in crud_rag_documents(want, CRUD_DIR)]
    questions = [q for q in squad.questions if q.answerable and q.evidence]
    rest = None if target is None else max(0, target - have)
    return Corpus(docs + take_passages(crud, rest), questions)


def write_files(docs: Sequence[CorpusDoc], folder: Path) -> list[Path]:
    """Write each document as a UTF-8 ``.txt`` file (not timed by the benchmark)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in docs:
        path = folder / d.doc.name
        path.write_bytes(d.doc.text.encode("utf-8"))
        paths.append(path)
    return paths


def spread(items: Sequence, n: int) -> list:  # type: ignore[type-arg]
    """``n`` items spread evenly over ``items`` (deterministic)."""
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def latency_questions(n: int) -> list[str]:
    """Questions for latency runs: CMRC2018 trial, so no dev question's cached vector is reused."""
    squad = load_squad(CMRC_TRIAL)
    return [q.question for q in spread(squad.questions, n)]
