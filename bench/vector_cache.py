"""Embeddings cached on disk by model, runtime, prompt and text, outside the repository.

The at-scale measurements (query latency, memory, retrieval quality) reuse
vectors embedded once; only the ingest throughput measurement embeds for
real. The store is one SQLite file, committed every batch, so an interrupted
warm-up keeps what it finished.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE_DIR = ROOT / ".cache" / "bench"
_LOOKUP_CHUNK = 500
_WRITE_CHUNK = 256


def cache_key(tag: str, prompt: str, text: str) -> str:
    return hashlib.sha1(f"{tag}\x00{prompt}{text}".encode()).hexdigest()


class VectorStore:
    """key → float32 vector, in SQLite."""

    def __init__(self, path: Path, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.db = sqlite3.connect(str(path))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)", rows)

    def count(self, keys: Sequence[str]) -> int:
        """How many of ``keys`` (distinct) are stored, without reading the vectors."""
        unique = list(dict.fromkeys(keys))
        total = 0
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            total += self.db.execute(f"SELECT COUNT(*) FROM vec WHERE key IN ({marks})", chunk).fetchone()[0]
        return total

    def close(self) -> None:
        self.db.close()


class CachingEmbedder:
    """An ``Embedder`` that looks vectors up first and embeds (and stores) only the misses."""

    def __init__(self, inner, store: VectorStore, tag: str) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.store = store
        self.tag = tag
        self.name = inner.name
        self.dim = inner.dim
        self.passage_prompt = inner.passage_prompt  # sentence vectors are keyed by it (ingest.sentence_vectors)
        self.embedded = 0  # texts that were not in the cache

    def _cached(self, texts: Sequence[str], prompt: str, embed: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
        keys = [cache_key(self.tag, prompt, t) for t in texts]
        found = self.store.get_many(keys)
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        missing = [i for k, i in first.items() if k not in found]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(missing), _WRITE_CHUNK):
            rows = missing[start : start + _WRITE_CHUNK]
            vectors = embed([texts[i] for i in rows])
            self.store.put_many([keys[i] for i in rows], vectors)
            found.update({keys[i]: v for i, v in zip(rows, vectors, strict=True)})
            self.embedded += len(rows)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(texts, self.inner.passage_prompt, self.inner.embed_passages)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(texts, self.inner.query_prompt, self.inner.embed_queries)

    def missing(self, texts: Sequence[str], prompt: str) -> int:
        keys = [cache_key(self.tag, prompt, t) for t in texts]
        return len(set(keys)) - self.store.count(keys)
