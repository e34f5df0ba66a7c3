"""Query latency: dense, BM25, hybrid, a full extractive answer, and LangChain's similarity_search."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

WARMUP = 3


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    if not samples_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan"), "n": 0}
    values = np.asarray(samples_ms, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "n": len(values),
    }


def time_each(
    fn: Callable[[str], Any], questions: Sequence[str], before: Callable[[], None] | None = None
) -> list[float]:
    """Milliseconds per call; the first ``WARMUP`` calls are run but not counted."""
    samples = []
    for i, q in enumerate(questions):
        if before is not None:
            before()
        started = time.perf_counter()
        fn(q)
        if i >= WARMUP:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def retrieval_latency(retriever: Any, questions: Sequence[str], clear: Callable[[], None]) -> dict[str, dict]:
    """p50/p95 per method, with the query embedding computed afresh each time (its cache cleared)."""
    out = {}
    for method in ("dense", "bm25", "hybrid"):
        samples = time_each(lambda q, m=method: retriever.search(q, k=5, method=m), questions, clear)
        out[method] = percentiles(samples)
    return out


def ask_latency(assistant: Any, questions: Sequence[str], clear: Callable[[], None]) -> dict[str, float]:
    return percentiles(time_each(lambda q: assistant.ask(q, use_llm=False), questions, clear))


def langchain_latency(store: Any, questions: Sequence[str]) -> dict[str, float]:
    return percentiles(time_each(lambda q: store.similarity_search(q, k=5), questions))
