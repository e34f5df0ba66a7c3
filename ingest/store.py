"""The store interface: where a knowledge base's documents, passages and vectors live.

Two engines sit behind it, chosen by ``Settings.store``: ``faiss`` (the default; one folder of files per
knowledge base, see ``ingest.faiss_store``) and ``milvus`` (Milvus Lite in a local file, or a Milvus server
or cluster, see ``ingest.milvus_store``). The retriever, the ingest pipeline, the app and the LangChain
retriever use only what is declared here; neither engine is imported before it is asked for.

Reading: ``dense_search`` and ``keyword_search`` return ``Hit``s (passage id and that side's score), fused
by the retriever; ``fetch`` returns the passages and their vectors. ``doc_ids`` restricts a search to
some documents, inside the engine. Writing goes through a ``StoreWriter``: ``add`` a document with its
passages and vectors, ``delete`` a document, then ``commit``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.errors import ConfigError, ModelMismatchError
from core.settings import Settings
from core.types import Document, Passage
from ingest.index import Manifest
from ingest.sentence_vectors import forget_sentence_vectors


@dataclass(frozen=True, slots=True)
class Hit:
    """One result of one side of the search: a passage id and that side's score (cosine or BM25)."""

    passage_id: str
    score: float


class Store(Protocol):
    """A knowledge base, open for reading."""

    kb: str
    location: str  # an index folder or a Milvus address with its collection, for messages

    @property
    def manifest(self) -> Manifest: ...

    @property
    def documents(self) -> Mapping[str, Document]: ...

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None) -> list[Hit]: ...

    def keyword_search(self, tokens: Sequence[str], k: int, doc_ids: Collection[str] | None = None) -> list[Hit]: ...

    def fetch(self, passage_ids: Sequence[str]) -> list[tuple[Passage, np.ndarray]]: ...

    def vectors_for(self, text_hashes: Collection[str]) -> dict[str, np.ndarray]: ...


class StoreWriter(Protocol):
    """Changes to one knowledge base, visible to readers once committed (FAISS) or document by document
    (Milvus, where a document's passages count only once its entry is written)."""

    def add(self, document: Document, passages: list[Passage], vectors: np.ndarray, ingested_at: str) -> None: ...

    def delete(self, doc_id: str) -> None: ...

    def commit(self) -> str: ...


def check_model(manifest: Manifest, name: str, dim: int) -> None:
    """Refuse to mix an index built by one model with queries or passages of another."""
    if manifest.model != name or manifest.dim != dim:
        raise ModelMismatchError(manifest.model, manifest.dim, name, dim)


def open_store(settings: Settings) -> Store:
    """The knowledge base ``settings.kb`` on ``settings.store``; raises ``IndexMissingError`` if it has no index."""
    if settings.store == "milvus":
        from ingest.milvus_store import MilvusStore

        return MilvusStore.open(settings)
    from ingest.faiss_store import FaissStore

    return FaissStore.open(settings)


def store_exists(settings: Settings) -> bool:
    return settings.kb in list_kbs(settings)


def open_writer(
    settings: Settings, model: str, dim: int, chunking: dict[str, int], *, rebuild: bool = False
) -> tuple[Store | None, StoreWriter]:
    """The knowledge base as it is now (``None`` when new or rebuilt) and a writer for it."""
    if settings.store == "milvus":
        from ingest.milvus_store import milvus_writer

        return milvus_writer(settings, model, dim, chunking, rebuild=rebuild)
    from ingest.faiss_store import faiss_writer

    return faiss_writer(settings, model, dim, chunking, rebuild=rebuild)


@dataclass(frozen=True)
class KnowledgeBase:
    name: str
    documents: int
    passages: int
    model: str


def list_kbs(settings: Settings) -> list[str]:
    """The names of the knowledge bases that have an index on ``settings.store``."""
    if settings.store == "milvus":
        from ingest.milvus_store import milvus_kbs

        return milvus_kbs(settings)
    from ingest.faiss_store import faiss_kbs

    return faiss_kbs(settings)


def describe_kbs(settings: Settings) -> list[KnowledgeBase]:
    out = []
    for name in list_kbs(settings):
        manifest = open_store(settings.replace(kb=name)).manifest
        out.append(KnowledgeBase(name, len(manifest.documents), manifest.passages, manifest.model))
    return out


def resolve_documents(manifest: Manifest, refs: Sequence[str]) -> list[str]:
    """Document ids for ``refs``: each a document id (or its first 12 characters), a file name or a path."""
    out = []
    for ref in refs:
        matches = [e.doc_id for e in manifest.documents if ref in (e.doc_id, e.doc_id[:12], e.name, e.path)]
        if not matches:
            names = "、".join(e.name for e in manifest.documents[:5]) or "（无）"
            raise ConfigError(f"知识库中没有文档 {ref!r}。请给出文档 id、文件名或路径，例如：{names}")
        out.extend(matches)
    return out


def delete_kb(settings: Settings) -> None:
    """Remove the knowledge base ``settings.kb`` with all its documents and passages."""
    if settings.store == "milvus":
        from ingest.milvus_store import drop_milvus_kb

        drop_milvus_kb(settings)
        forget_sentence_vectors(settings)
        return
    from ingest.faiss_store import drop_faiss_kb

    drop_faiss_kb(settings)
