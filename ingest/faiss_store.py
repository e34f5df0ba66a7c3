"""The default store: a knowledge base as a folder of files (FAISS + BM25, see ``ingest.index``).

The default knowledge base lives in the index folder itself (``data/index``, as before knowledge bases
existed); another one named NAME in ``<index folder>/kbs/NAME``. A writer collects the changes and
``commit`` writes a whole new generation, switched in atomically.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.errors import ConfigError, KnowledgeBaseMissingError
from core.settings import DEFAULT_KB, KB_NAME, Settings
from core.text import tokenize
from core.types import Document, Passage
from ingest.index import Index, Manifest, current_generation, load_index, text_hash, write_index
from ingest.store import Hit, Store, check_model


class FaissStore:
    """A loaded index generation behind the store interface.

    ``search_threads``: FAISS threads per query (see ``faiss_threads``); ``None`` leaves FAISS's default.
    """

    def __init__(self, index: Index, kb: str = DEFAULT_KB, search_threads: int | None = 1) -> None:
        self.index = index
        self.kb = kb
        self.location = str(index.path.parent)
        self.search_threads = search_threads
        self._rows = {p.passage_id: i for i, p in enumerate(index.passages)}
        self._doc_rows: dict[str, list[int]] | None = None
        self._hash_rows: dict[str, int] | None = None

    @classmethod
    def open(cls, settings: Settings) -> FaissStore:
        if settings.kb != DEFAULT_KB and current_generation(settings.kb_index_dir) is None:
            raise KnowledgeBaseMissingError(settings.kb, str(settings.kb_index_dir), "faiss")
        return cls(load_index(settings.kb_index_dir), settings.kb)

    @property
    def manifest(self) -> Manifest:
        return self.index.manifest

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.index.documents

    @property
    def passages(self) -> list[Passage]:
        return self.index.passages

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None) -> list[Hit]:
        passages = self.index.passages
        if doc_ids is not None:
            rows = self._rows_of(doc_ids)
            if not rows:
                return []
            scores = self.index.dense.reconstruct_batch(np.asarray(rows, dtype=np.int64)) @ vector
            return [Hit(passages[rows[i]].passage_id, float(scores[i])) for i in _top(scores, k)]
        n = min(k, self.index.dense.ntotal)
        if n <= 0:
            return []
        with faiss_threads(self.search_threads):
            scores, ids = self.index.dense.search(vector[None, :].astype(np.float32), n)
        return [Hit(passages[int(i)].passage_id, float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def keyword_search(self, tokens: Sequence[str], k: int, doc_ids: Collection[str] | None = None) -> list[Hit]:
        known = [t for t in tokens if t in self.index.bm25.vocab_dict]
        if not known or not self.index.passages:
            return []
        scores = self.index.bm25.get_scores(known)
        if doc_ids is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[self._rows_of(doc_ids)] = True
            scores = np.where(mask, scores, 0.0)
        passages = self.index.passages
        return [Hit(passages[i].passage_id, float(scores[i])) for i in _top(scores, k) if scores[i] > 0]

    def fetch(self, passage_ids: Sequence[str]) -> list[tuple[Passage, np.ndarray]]:
        """The passages and their vectors, from the FAISS index (flat or HNSW: stored exactly, the same floats).

        Not from the memory-mapped ``vectors.npy``: the kernel maps 64 KB around each row read there, so
        scattered candidates made that file resident too (+240 MB RSS over 30 answers at 175k passages),
        a second copy of what the flat index already holds in memory.
        """
        rows = [self._rows[i] for i in passage_ids]
        if not rows:
            return []
        vectors = self.index.dense.reconstruct_batch(np.asarray(rows, dtype=np.int64))
        return [(self.index.passages[r], v) for r, v in zip(rows, vectors, strict=True)]

    def vectors_for(self, text_hashes: Collection[str]) -> dict[str, np.ndarray]:
        if self._hash_rows is None:
            self._hash_rows = {text_hash(p.text): i for i, p in enumerate(self.index.passages)}
        found = {h: self._hash_rows[h] for h in text_hashes if h in self._hash_rows}
        return {h: np.asarray(self.index.vectors[row], dtype=np.float32) for h, row in found.items()}

    def rows_of(self, doc_id: str) -> list[int]:
        return self._rows_of([doc_id])

    def _rows_of(self, doc_ids: Collection[str]) -> list[int]:
        if self._doc_rows is None:
            self._doc_rows = {}
            for i, p in enumerate(self.index.passages):
                self._doc_rows.setdefault(p.doc_id, []).append(i)
        return sorted(r for d in doc_ids for r in self._doc_rows.get(d, ()))


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    n = min(k, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, n - 1)[:n]
    return top[np.argsort(-scores[top], kind="stable")]


class FaissWriter:
    """Collects adds and deletes; ``commit`` writes the new generation (kept documents first, in order)."""

    def __init__(
        self, index_dir: Path, previous: FaissStore | None, model: str, dim: int, chunking: dict[str, int]
    ) -> None:
        self.index_dir = index_dir
        self.previous = previous
        self.model = model
        self.dim = dim
        self.chunking = chunking
        self._deleted: set[str] = set()
        self._added: dict[str, tuple[Document, list[Passage], np.ndarray, str]] = {}

    def add(self, document: Document, passages: list[Passage], vectors: np.ndarray, ingested_at: str) -> None:
        self._added[document.doc_id] = (document, passages, vectors, ingested_at)

    def delete(self, doc_id: str) -> None:
        self._deleted.add(doc_id)
        self._added.pop(doc_id, None)

    def commit(self) -> str:
        documents, passages, parts, times = self._kept()
        for doc, doc_passages, vectors, at in self._added.values():
            documents.append(doc)
            passages.extend(doc_passages)
            parts.append(np.asarray(vectors, dtype=np.float32))
            times[doc.doc_id] = at
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)
        path = write_index(
            self.index_dir,
            documents,
            passages,
            vectors,
            [tokenize(p.title + " " + p.text) for p in passages],
            model=self.model,
            chunking=self.chunking,
            ingested_at=times,
        )
        return str(path)

    def _kept(self) -> tuple[list[Document], list[Passage], list[np.ndarray], dict[str, str]]:
        documents: list[Document] = []
        passages: list[Passage] = []
        parts: list[np.ndarray] = []
        times: dict[str, str] = {}
        if self.previous is None:
            return documents, passages, parts, times
        old = self.previous
        entries = {e.doc_id: e for e in old.manifest.documents}
        for doc_id, entry in entries.items():
            if doc_id in self._deleted or doc_id in self._added:
                continue
            rows = old.rows_of(doc_id)
            documents.append(old.documents[doc_id])
            passages.extend(old.index.passages[r] for r in rows)
            parts.append(np.asarray(old.index.vectors[rows], dtype=np.float32))
            times[doc_id] = entry.ingested_at
        return documents, passages, parts, times


def faiss_writer(
    settings: Settings, model: str, dim: int, chunking: dict[str, int], *, rebuild: bool = False
) -> tuple[Store | None, FaissWriter]:
    index_dir = settings.kb_index_dir
    previous = None
    if not rebuild and current_generation(index_dir) is not None:
        previous = FaissStore(load_index(index_dir), settings.kb)
        check_model(previous.manifest, model, dim)
    return previous, FaissWriter(index_dir, previous, model, dim, chunking)


def faiss_kbs(settings: Settings) -> list[str]:
    root = settings.resolved_index_dir
    names = [DEFAULT_KB] if current_generation(root) is not None else []
    kbs = root / "kbs"
    if kbs.is_dir():
        names += sorted(
            p.name for p in kbs.iterdir() if KB_NAME.fullmatch(p.name) and current_generation(p) is not None
        )
    return names


def drop_faiss_kb(settings: Settings) -> None:
    if settings.kb == DEFAULT_KB:
        raise ConfigError("默认知识库 default 不能删除；如需清空，请用 `python -m ingest <文档目录> --rebuild` 重建。")
    folder = settings.kb_index_dir
    if current_generation(folder) is None:
        raise KnowledgeBaseMissingError(settings.kb, str(folder), "faiss")
    shutil.rmtree(folder)


@contextmanager
def faiss_threads(n: int | None) -> Iterator[None]:
    """FAISS's OpenMP thread count at ``n`` for the calling thread, restored afterwards (``None``: unchanged).

    One query gains nothing from more threads: at 50k passages on 2 busy cores a flat search took 6.2 ms with
    FAISS's default pool and 2.1 ms with one thread. libgomp keeps the count per calling thread, so this is set
    around each search, in whichever thread serves it (Gradio answers in worker threads), and never touches an
    index build running elsewhere.
    """
    if n is None:
        yield
        return
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
