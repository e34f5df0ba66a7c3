"""Hybrid retrieval: dense (FAISS) and BM25 over Chinese word tokens, fused.

Fusion is reciprocal rank fusion, weighted towards the dense ranking (the
weights were chosen on CMRC2018 dev and the seed question set; see the
README's evaluation section). Every candidate carries both its dense cosine
and its BM25 score, which the support gate uses.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from core.errors import ModelMismatchError
from core.text import normalize, tokenize
from core.types import ScoredPassage
from ingest.embed import Embedder
from ingest.index import Index

Method = Literal["dense", "bm25", "hybrid"]
RRF_K = 60


class Reranker(Protocol):
    def rerank(self, question: str, candidates: list[ScoredPassage]) -> list[ScoredPassage]: ...


class HybridRetriever:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        candidates: int = 50,
        dense_weight: float = 1.0,
        keyword_weight: float = 1.0,
        reranker: Reranker | None = None,
    ) -> None:
        if index.manifest.model != embedder.name or index.manifest.dim != embedder.dim:
            raise ModelMismatchError(index.manifest.model, index.manifest.dim, embedder.name, embedder.dim)
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self.reranker = reranker

    def search(self, question: str, k: int = 5, method: Method = "hybrid") -> list[ScoredPassage]:
        query = normalize(question)
        if not query or not self.index.passages:
            return []
        qvec = self.embedder.embed_queries([query])[0]
        dense = self._dense(qvec) if method != "bm25" else []
        keyword = self._keyword(query) if method != "dense" else []
        fused = self._fuse(dense, keyword)
        kw = dict(keyword)
        results = [self._scored(i, score, qvec, kw.get(i, 0.0)) for i, score in fused[: max(k, self.candidates)]]
        if self.reranker is not None and method == "hybrid":
            results = self.reranker.rerank(question, results)
        return results[:k]

    def _dense(self, qvec: np.ndarray) -> list[tuple[int, float]]:
        n = min(self.candidates, self.index.dense.ntotal)
        scores, ids = self.index.dense.search(qvec[None, :].astype(np.float32), n)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _keyword(self, query: str) -> list[tuple[int, float]]:
        tokens = tokenize(query)
        known = [t for t in tokens if t in self.index.bm25.vocab_dict]
        if not known:
            return []
        scores = self.index.bm25.get_scores(known)
        n = min(self.candidates, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def _fuse(self, dense: list[tuple[int, float]], keyword: list[tuple[int, float]]) -> list[tuple[int, float]]:
        fused: dict[int, float] = {}
        for weight, ranking in ((self.dense_weight, dense), (self.keyword_weight, keyword)):
            for rank, (i, _) in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + weight / (RRF_K + rank + 1)
        return sorted(fused.items(), key=lambda item: -item[1])

    def _scored(self, i: int, score: float, qvec: np.ndarray, keyword_score: float) -> ScoredPassage:
        return ScoredPassage(
            passage=self.index.passages[i],
            score=score,
            dense_score=float(np.dot(self.index.vectors[i], qvec)),
            keyword_score=keyword_score,
        )


class CrossEncoderReranker:
    """Reorders candidates with a sentence-transformers CrossEncoder (e.g. bge-reranker)."""

    def __init__(self, model: str) -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model, device="cpu")

    def rerank(self, question: str, candidates: list[ScoredPassage]) -> list[ScoredPassage]:
        if not candidates:
            return candidates
        scores = self.model.predict([(question, c.passage.text) for c in candidates])
        order = np.argsort(-np.asarray(scores))
        return [candidates[i] for i in order]
