"""Sentence vectors kept beside the index, so that answering does not embed sentences per question.

The extractive answerer compares the question with every quotable sentence of the top passages. Embedding
those sentences took most of an answer's time; here each is embedded once, at ingest, and answering looks it
up. Entries are keyed by the embedder's name and the sentence itself, not by passage, so a stored vector is
never a wrong one. When documents are deleted or replaced, ingest forgets the sentences of their passages
that the passages it adds do not hold (``stale_sentences``); one that an untouched document shares is then
embedded again when asked. A sentence not found (an index built before, a document ingested with
``YIJU_SENTENCE_VECTORS=false``) is embedded when asked and kept.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from core.settings import Settings
from ingest.chunk import split_sentences
from ingest.embed import Embedder

FILE_NAME = "sentence_vectors.sqlite"
_LOOKUP_CHUNK = 500
_PRIME_STEP = 256  # sentences embedded between two progress reports


def sentence_vectors_path(settings: Settings) -> Path:
    """One file per knowledge base, beside its FAISS generations (the Milvus store keeps it there too)."""
    return settings.kb_index_dir / FILE_NAME


def open_sentence_vectors(settings: Settings, embedder: Embedder) -> SentenceVectors | None:
    """The knowledge base's sentence vectors, or None where ``settings.sentence_vectors`` is off."""
    if not settings.sentence_vectors:
        return None
    return SentenceVectors(sentence_vectors_path(settings), embedder)


def stale_sentences(gone: Iterable[str], added: Iterable[str]) -> list[str]:
    """The quotable sentences of the passages ``gone`` that none of the passages ``added`` holds."""
    kept = {t for p in added for _, _, t in split_sentences(p)}
    return list(dict.fromkeys(t for p in gone for _, _, t in split_sentences(p) if t not in kept))


def forget_sentence_vectors(settings: Settings) -> None:
    """Remove the knowledge base's file (with SQLite's write-ahead log), as when the base is deleted."""
    path = sentence_vectors_path(settings)
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        part.unlink(missing_ok=True)


class SentenceVectors:
    """An ``Embedder`` for passage sentences that looks vectors up first (SQLite, float16)."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.inner = embedder
        self.name = embedder.name
        self.dim = embedder.dim
        self._prompt = getattr(embedder, "passage_prompt", "")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")

    def _key(self, text: str) -> bytes:
        return hashlib.sha1(f"{self.name}\x00{self._prompt}{text}".encode()).digest()

    def _lookup(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", chunk):
                    found[key] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        return found

    def _store(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = [(k, np.asarray(v, dtype=np.float16).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)", rows)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` (passage sentences): stored ones looked up, the others embedded and kept."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        found = self._lookup(keys)
        first: dict[bytes, int] = {}  # each missing sentence once, by its first position
        for i, k in enumerate(keys):
            if k not in found:
                first.setdefault(k, i)
        missing = list(first.values())
        if missing:
            fresh = self.inner.embed_passages([texts[i] for i in missing])
            self._store([keys[i] for i in missing], fresh)
            found.update((keys[i], v) for i, v in zip(missing, fresh, strict=True))
        # The float16 round trip, applied to fresh vectors too, so a sentence scores the same the next time.
        return np.stack([found[k] for k in keys]).astype(np.float16).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def prime(self, passages: Iterable[str], progress: Callable[[int, int], None] | None = None) -> int:
        """Embed and keep the quotable sentences of ``passages`` not stored yet; returns how many."""
        texts = list(dict.fromkeys(t for p in passages for _, _, t in split_sentences(p)))
        keys = [self._key(t) for t in texts]
        found = self._lookup(keys)
        todo = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in found]
        for start in range(0, len(todo), _PRIME_STEP):
            chunk = todo[start : start + _PRIME_STEP]
            self._store([k for k, _ in chunk], self.inner.embed_passages([t for _, t in chunk]))
            if progress:
                progress(start + len(chunk), len(todo))
        return len(todo)

    def forget(self, texts: Iterable[str]) -> int:
        """Remove this embedder's vectors of ``texts`` (sentences); returns how many were stored."""
        keys = list(dict.fromkeys(self._key(t) for t in texts))
        with self._lock, self._db:
            before = self._db.total_changes
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = keys[start : start + _LOOKUP_CHUNK]
                self._db.execute(f"DELETE FROM vec WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            return self._db.total_changes - before

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vec").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
