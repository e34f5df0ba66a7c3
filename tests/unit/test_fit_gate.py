"""The gate fit's in-memory index is searchable by the embedder that made its vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from learn.fit_gate import corpus_passages, memory_index
from qa.retrieve import HybridRetriever


class _HashEmbedder:
    name = "hash-embedder"
    dim = 8

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                out[i, ord(ch) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def test_memory_index_records_the_model_and_is_searchable() -> None:
    embedder = _HashEmbedder()
    passages = corpus_passages(
        [("d1", "专利", "专利产业化促进中小企业成长。"), ("d2", "消费", "居民存款新增16.67万亿。")]
    )
    index = memory_index(passages, embedder.embed_passages([p.text for p in passages]), "test", embedder.name)
    assert index.manifest.model == embedder.name
    hits = HybridRetriever(index, embedder).search("居民存款新增多少？", k=1)
    assert hits[0].passage.doc_id == "d2"
