"""Ingest files into the index, incrementally.

Unchanged files (same content hash) keep their passages; a passage whose
text was embedded before reuses its vector; files that disappeared from a
folder being ingested lose their passages. The new index is written as a
whole and switched in atomically (see ``ingest.index``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import LoadError, ModelMismatchError
from core.settings import Settings
from core.text import tokenize
from core.types import Document, Passage
from ingest.chunk import chunk_document
from ingest.embed import Embedder
from ingest.index import Index, current_generation, load_index, text_hash, write_index
from ingest.load import Skipped, iter_files, load_document

Progress = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    documents: int = 0
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    index_path: str = ""


def _under(path: str, roots: list[Path]) -> bool:
    p = Path(path).resolve()
    return any(p == r or r in p.parents for r in roots)


def _previous(index_dir: Path, embedder: Embedder, rebuild: bool) -> Index | None:
    if rebuild or current_generation(index_dir) is None:
        return None
    previous = load_index(index_dir)
    if previous.manifest.model != embedder.name or previous.manifest.dim != embedder.dim:
        raise ModelMismatchError(previous.manifest.model, previous.manifest.dim, embedder.name, embedder.dim)
    return previous


def _scan(
    paths: Iterable[Path], settings: Settings, previous: Index | None, report: IngestReport
) -> dict[str, Document]:
    """Load every file under ``paths``; an unreadable one is skipped with its reason."""
    known = {d.path: d for d in previous.documents.values()} if previous else {}
    found: dict[str, Document] = {}
    max_bytes = int(settings.max_file_mb * 1e6)
    for path in iter_files(paths):
        try:
            doc = load_document(path, max_bytes=max_bytes)
        except LoadError as exc:
            report.skipped.append(Skipped(str(path), str(exc)))
            continue
        if doc.doc_id in found:
            report.skipped.append(Skipped(str(path), f"与 {found[doc.doc_id].path} 内容相同，已跳过"))
            continue
        found[doc.doc_id] = doc
        old = known.get(doc.path)
        (report.unchanged if old and old.doc_id == doc.doc_id else report.added).append(doc.path)
    return found


def ingest(
    paths: list[Path],
    settings: Settings,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    remove_doc_ids: Iterable[str] = (),
    progress: Progress | None = None,
) -> IngestReport:
    """Index ``paths`` (files or folders) into ``settings.resolved_index_dir``."""
    started = time.perf_counter()
    index_dir = settings.resolved_index_dir
    report = IngestReport()
    previous = _previous(index_dir, embedder, rebuild)
    found = _scan(paths, settings, previous, report)
    roots = [p.resolve() for p in paths]
    drop = set(remove_doc_ids)

    found_paths = {d.path for d in found.values()}
    documents: list[Document] = []
    if previous:
        for doc in previous.documents.values():
            if doc.doc_id in found or doc.doc_id in drop or _under(doc.path, roots):
                if doc.doc_id not in found and doc.path not in found_paths:
                    report.removed.append(doc.path)
                continue
            documents.append(doc)
    documents.extend(found.values())
    passages = _passages(documents, previous, settings)
    vectors = _vectors(passages, previous, embedder, report, progress)
    ingested_at = _ingested_times(documents, previous)
    report.index_path = str(
        write_index(
            index_dir,
            documents,
            passages,
            vectors,
            [tokenize(p.title + " " + p.text) for p in passages],
            model=embedder.name,
            chunking={"max_chars": settings.max_passage_chars, "min_chars": settings.min_passage_chars},
            ingested_at=ingested_at,
        )
    )
    report.documents, report.passages = len(documents), len(passages)
    report.seconds = time.perf_counter() - started
    return report


def _passages(documents: list[Document], previous: Index | None, settings: Settings) -> list[Passage]:
    same_chunking = previous is not None and previous.manifest.chunking == {
        "max_chars": settings.max_passage_chars,
        "min_chars": settings.min_passage_chars,
    }
    by_doc: dict[str, list[Passage]] = {}
    if previous and same_chunking:
        for p in previous.passages:
            by_doc.setdefault(p.doc_id, []).append(p)
    out: list[Passage] = []
    for doc in documents:
        kept = by_doc.get(doc.doc_id)
        out.extend(kept if kept else chunk_document(doc, settings.max_passage_chars, settings.min_passage_chars))
    return out


def _vectors(
    passages: list[Passage],
    previous: Index | None,
    embedder: Embedder,
    report: IngestReport,
    progress: Progress | None,
) -> np.ndarray:
    cache: dict[str, int] = {}
    if previous:
        cache = {text_hash(p.text): i for i, p in enumerate(previous.passages)}
    vectors = np.zeros((len(passages), embedder.dim), dtype=np.float32)
    todo: list[int] = []
    for i, p in enumerate(passages):
        row = cache.get(text_hash(p.text))
        if row is None:
            todo.append(i)
        else:
            assert previous is not None
            vectors[i] = previous.vectors[row]
    report.reused = len(passages) - len(todo)
    report.embedded = len(todo)
    step = 2048
    for start in range(0, len(todo), step):
        batch = todo[start : start + step]
        vectors[batch] = embedder.embed_passages([passages[i].text for i in batch])
        if progress:
            progress("embed", min(start + step, len(todo)), len(todo))
    return vectors


def _ingested_times(documents: list[Document], previous: Index | None) -> dict[str, str]:
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    old = {d.doc_id: d.ingested_at for d in previous.manifest.documents} if previous else {}
    return {d.doc_id: old.get(d.doc_id, now) for d in documents}
