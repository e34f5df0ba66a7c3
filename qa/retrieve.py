"""Hybrid retrieval: dense (FAISS) and BM25 over Chinese word tokens, fused.

Fusion is reciprocal rank fusion, weighted towards the dense ranking (the
weights were chosen on CMRC2018 dev and the seed question set; see the
README's evaluation section). Every candidate carries both its dense cosine
and its BM25 score, which the support gate uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

import numpy as np

from core.errors import ModelMismatchError
from core.text import normalize, tokenize
from core.types import ScoredPassage
from ingest.embed import Embedder
from ingest.index import Index
from qa.terms import is_english
from qa.translate import translate

Method = Literal["dense", "bm25", "hybrid"]
RRF_K = 60


class Reranker(Protocol):
    def rerank(self, question: str, candidates: list[ScoredPassage]) -> list[ScoredPassage]: ...


class HybridRetriever:
    """``search_threads``: FAISS threads per query (see ``faiss_threads``); ``None`` leaves FAISS's default."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        candidates: int = 50,
        dense_weight: float = 1.0,
        keyword_weight: float = 1.0,
        reranker: Reranker | None = None,
        search_threads: int | None = 1,
    ) -> None:
        if index.manifest.model != embedder.name or index.manifest.dim != embedder.dim:
            raise ModelMismatchError(index.manifest.model, index.manifest.dim, embedder.name, embedder.dim)
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self.reranker = reranker
        self.search_threads = search_threads

    def search(self, question: str, k: int = 5, method: Method = "hybrid") -> list[ScoredPassage]:
        query = normalize(question)
        if not query or not self.index.passages:
            return []
        qvec = self.embedder.embed_queries([query])[0]
        dense = self._dense(qvec) if method != "bm25" else []
        keyword = self._keyword(keyword_tokens(query)) if method != "dense" else []
        fused = self._fuse(dense, keyword)
        kw = dict(keyword)
        top = fused[: max(k, self.candidates)]
        vectors = self._vectors([i for i, _ in top])
        results = [self._scored(i, score, v, qvec, kw.get(i, 0.0)) for (i, score), v in zip(top, vectors, strict=True)]
        if self.reranker is not None and method == "hybrid":
            results = self.reranker.rerank(question, results)
        return results[:k]

    def _dense(self, qvec: np.ndarray) -> list[tuple[int, float]]:
        n = min(self.candidates, self.index.dense.ntotal)
        with faiss_threads(self.search_threads):
            scores, ids = self.index.dense.search(qvec[None, :].astype(np.float32), n)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _keyword(self, tokens: list[str]) -> list[tuple[int, float]]:
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

    def _vectors(self, ids: list[int]) -> np.ndarray:
        """The candidates' vectors, from the FAISS index (flat or HNSW: stored exactly, the same floats).

        Not from the memory-mapped ``vectors.npy``: the kernel maps 64 KB around each row read there, so
        scattered candidates made that file resident too (+240 MB RSS over 30 answers at 175k passages),
        a second copy of what the flat index already holds in memory.
        """
        if not ids:
            return np.zeros((0, self.index.manifest.dim), dtype=np.float32)
        return self.index.dense.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def _scored(
        self, i: int, score: float, vector: np.ndarray, qvec: np.ndarray, keyword_score: float
    ) -> ScoredPassage:
        return ScoredPassage(
            passage=self.index.passages[i],
            score=score,
            dense_score=float(np.dot(vector, qvec)),
            keyword_score=keyword_score,
        )


def keyword_tokens(query: str) -> list[str]:
    """BM25 tokens of a question. An English one is matched through its words' Chinese translations
    (see qa.translate): on the en-fit half of eval/english_questions.jsonl, recall@5 went from 62.5 %
    (dense alone) and 42.5 % (fused with BM25 over the English words) to 90.0 %."""
    if is_english(query):
        return [w for concept in translate(query) for w in concept.chinese]
    return tokenize(query)


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
