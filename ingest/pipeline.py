"""Ingest files into a knowledge base, incrementally, on any store (``ingest.store``).

Unchanged files (same content hash, same path, same chunking) are left as they are; a changed file
replaces its passages; a passage whose text was embedded before reuses its vector; files that
disappeared from a folder being ingested lose their passages, on the dense and the keyword side alike.
On FAISS the new index is written as a whole and switched in atomically (see ``ingest.index``); on
Milvus each document is added whole before the documents it replaces are deleted (see
``ingest.milvus_store``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import LoadError
from core.settings import Settings
from core.types import Document, Passage
from ingest.chunk import chunk_document
from ingest.embed import Embedder
from ingest.index import DocumentEntry, text_hash
from ingest.load import Skipped, iter_files, load_document
from ingest.ocr import Ocr
from ingest.sentence_vectors import SentenceVectors, open_sentence_vectors, stale_sentences
from ingest.store import Store, StoreWriter, open_writer

Progress = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    documents: int = 0
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    sentences_embedded: int = 0  # sentence vectors stored for answering (ingest.sentence_vectors)
    reader_sentences_embedded: int = 0  # the same from the learned reader's encoder, when one was given
    sentences_forgotten: int = 0  # stored sentence vectors of deleted or replaced passages, removed
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    index_path: str = ""


def _under(path: str, roots: list[Path]) -> bool:
    p = Path(path).resolve()
    return any(p == r or r in p.parents for r in roots)


def _scan(
    paths: Iterable[Path],
    settings: Settings,
    entries: dict[str, DocumentEntry],
    report: IngestReport,
    progress: Progress | None,
) -> dict[str, Document]:
    """Load every file under ``paths``; an unreadable one is skipped with its reason. Scanned pages are
    OCR'd by one engine, made on the first page that needs it; ``progress("ocr", page, pages)``."""
    ocr = Ocr()
    pages = (lambda done, total: progress("ocr", done, total)) if progress else None
    known = {e.path: e for e in entries.values()}
    found: dict[str, Document] = {}
    max_bytes = int(settings.max_file_mb * 1e6)
    for path in iter_files(paths):
        try:
            doc = load_document(path, max_bytes=max_bytes, ocr=ocr, progress=pages)
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
    reader: Embedder | None = None,
) -> IngestReport:
    """Index ``paths`` (files or folders) into the knowledge base ``settings.kb`` on ``settings.store``.
    ``reader``: the learned reader's own sentence encoder (``YIJU_ANSWERER=learned``), whose sentence
    vectors are stored too."""
    started = time.perf_counter()
    chunking = {"max_chars": settings.max_passage_chars, "min_chars": settings.min_passage_chars}
    current, writer = open_writer(settings, embedder.name, embedder.dim, chunking, rebuild=rebuild)
    entries = {e.doc_id: e for e in current.manifest.documents} if current else {}
    report = IngestReport()
    found = _scan(paths, settings, entries, report, progress)
    deleted = _deletions(entries, found, [p.resolve() for p in paths], set(remove_doc_ids), report)
    same_chunking = current is not None and current.manifest.chunking == chunking
    adds = [d for d in found.values() if not _unchanged(d, entries, same_chunking, deleted)]
    if current is not None and not same_chunking:  # every kept document is chunked anew
        adds += [current.documents[i] for i in entries if i not in found and i not in deleted]
    # Read before Milvus deletes them: their sentences' stored vectors are forgotten after the commit.
    gone = _passage_texts(current, deleted) if current is not None and settings.sentence_vectors else []
    encoders = {"sentences": embedder, "reader_sentences": reader} if adds or gone else {}
    sentences = {stage: s for stage, e in encoders.items() if e and (s := open_sentence_vectors(settings, e))}
    try:
        added = _add(adds, current, writer, embedder, sentences, settings, entries, report, progress)
        for doc_id in deleted:
            writer.delete(doc_id)
        report.index_path = writer.commit()
        stale = stale_sentences(gone, (p.text for passages in added.values() for p in passages)) if gone else []
        report.sentences_forgotten = sum(store.forget(stale) for store in sentences.values())
    finally:
        for store in sentences.values():
            store.close()
    kept = [e for i, e in entries.items() if i not in deleted and i not in added]
    report.documents = len(kept) + len(added)
    report.passages = sum(e.passages for e in kept) + sum(len(passages) for passages in added.values())
    report.reused = report.passages - report.embedded
    report.seconds = time.perf_counter() - started
    return report


def _deletions(
    entries: dict[str, DocumentEntry],
    found: dict[str, Document],
    roots: list[Path],
    drop: set[str],
    report: IngestReport,
) -> set[str]:
    """Documents to delete: asked for, or under a folder ingested now but no longer there in this version."""
    found_paths = {d.path for d in found.values()}
    deleted = set()
    for doc_id, entry in entries.items():
        if doc_id in found or not (doc_id in drop or _under(entry.path, roots)):
            continue
        deleted.add(doc_id)
        if entry.path not in found_paths:
            report.removed.append(entry.path)
    return deleted


def _passage_texts(current: Store, doc_ids: Iterable[str]) -> list[str]:
    """The passages the documents ``doc_ids`` were chunked into (chunked again, with the store's chunking)."""
    chunking = current.manifest.chunking
    texts = []
    for doc_id in doc_ids:
        doc = current.documents.get(doc_id)
        if doc is not None:
            texts += [p.text for p in chunk_document(doc, chunking["max_chars"], chunking["min_chars"])]
    return texts


def _unchanged(doc: Document, entries: dict[str, DocumentEntry], same_chunking: bool, deleted: set[str]) -> bool:
    old = entries.get(doc.doc_id)
    return old is not None and old.path == doc.path and same_chunking and doc.doc_id not in deleted


_EMBED_STEP = 2048
_PROGRESS_STEP = 128  # passages embedded between two progress reports (larger steps sort by length better)


def _add(
    documents: list[Document],
    current: Store | None,
    writer: StoreWriter,
    embedder: Embedder,
    sentences: Mapping[str, SentenceVectors],
    settings: Settings,
    entries: dict[str, DocumentEntry],
    report: IngestReport,
    progress: Progress | None,
) -> dict[str, list[Passage]]:
    """Chunk, embed (reusing known vectors) and add ``documents``, in order; returns their passages by id.
    With ``sentences`` (by progress stage), the passages' quotable sentences are embedded and kept too."""
    chunked = [chunk_document(d, settings.max_passage_chars, settings.min_passage_chars) for d in documents]
    hashes = {text_hash(p.text) for passages in chunked for p in passages}
    known = current.vectors_for(hashes) if current is not None and hashes else {}
    todo = sum(1 for passages in chunked for p in passages if text_hash(p.text) not in known)
    report.embedded = todo
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    batch: list[tuple[Document, list[Passage], np.ndarray, list[int]]] = []
    added: dict[str, list[Passage]] = {}
    done = 0

    def flush() -> None:
        nonlocal done
        texts = [passages[i].text for _, passages, _, missing in batch for i in missing]
        if texts:
            parts = []
            step = _PROGRESS_STEP if progress else len(texts)  # in steps, so a long document's progress moves
            for start in range(0, len(texts), step):
                parts.append(embedder.embed_passages(texts[start : start + step]))
                done += len(parts[-1])
                if progress:
                    progress("embed", done, todo)
            vectors = iter(np.concatenate(parts))
            for _, _, matrix, missing in batch:
                for i in missing:
                    matrix[i] = next(vectors)
        for stage, store in sentences.items():
            primed = store.prime(
                (p.text for _, passages, _, _ in batch for p in passages),
                (lambda d, t, stage=stage: progress(stage, d, t)) if progress else None,
            )
            if stage == "sentences":
                report.sentences_embedded += primed
            else:
                report.reader_sentences_embedded += primed
        for doc, passages, matrix, _ in batch:
            old = entries.get(doc.doc_id)
            writer.add(doc, passages, matrix, old.ingested_at if old else now)
            added[doc.doc_id] = passages
        batch.clear()

    waiting = 0
    for doc, passages in zip(documents, chunked, strict=True):
        matrix = np.zeros((len(passages), embedder.dim), dtype=np.float32)
        missing = []
        for i, p in enumerate(passages):
            vector = known.get(text_hash(p.text))
            if vector is None:
                missing.append(i)
            else:
                matrix[i] = vector
        batch.append((doc, passages, matrix, missing))
        waiting += len(missing)
        if waiting >= _EMBED_STEP:
            flush()
            waiting = 0
    flush()
    return added
