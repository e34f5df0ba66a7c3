"""Retrieval quality at scale: CMRC2018 dev questions among the distractors, and ANN recall."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.scoring import Question, hit_rank

METHODS = ("dense", "bm25", "hybrid")


def rank_metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    """recall@1, recall@5 and MRR@10 from 1-based hit ranks (``None`` = not retrieved)."""
    n = max(len(ranks), 1)
    return {
        "recall_at_1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "recall_at_5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr_at_10": sum(1.0 / r for r in ranks if r is not None and r <= 10) / n,
        "questions": len(ranks),
    }


def retrieval_quality(retriever: Any, questions: Sequence[Question], methods: Sequence[str] = METHODS) -> dict:
    """Per method: the rank of the first passage holding the question's evidence sentence."""
    out = {}
    for method in methods:
        ranks = [
            hit_rank(q, [r.passage.text for r in retriever.search(q.question, k=10, method=method)]) for q in questions
        ]
        out[method] = rank_metrics(ranks)
    return out


def overlap_at_k(exact: np.ndarray, approximate: np.ndarray) -> float:
    """Mean share of the exact top-k ids that the approximate search also returned."""
    if exact.size == 0:
        return 1.0
    hits = [len(set(e.tolist()) & set(a.tolist())) / len(e) for e, a in zip(exact, approximate, strict=True)]
    return float(np.mean(hits))


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 65536) -> np.ndarray:
    """Brute-force inner-product top-k, in blocks so a memory-mapped matrix is not copied whole."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ np.asarray(vectors[start : start + block]).T
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, ids], axis=1)
        keep = np.argsort(-all_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(all_scores, keep, axis=1)
        best_ids = np.take_along_axis(all_ids, keep, axis=1)
    return best_ids
