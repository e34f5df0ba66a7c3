"""``python -m bench warm``: embed a slice into the vector cache ahead of a run (resumable)."""

from __future__ import annotations

import time

from bench.corpus import build_corpus
from bench.vector_cache import CachingEmbedder


def warm(embedder: CachingEmbedder, target: int | None, settings, chunk: int = 2048) -> dict:  # type: ignore[no-untyped-def]
    corpus = build_corpus(target, settings)
    texts = corpus.texts()
    started = time.perf_counter()
    embedder.embed_queries([q.question for q in corpus.questions])
    for start in range(0, len(texts), chunk):
        embedder.embed_passages(texts[start : start + chunk])
        done = min(start + chunk, len(texts))
        rate = embedder.embedded / max(time.perf_counter() - started, 1e-9)
        print(f"warm: {done}/{len(texts)} passages, embedded {embedder.embedded} ({rate:.1f}/s)", flush=True)
    return {"passages": len(texts), "embedded": embedder.embedded, "seconds": time.perf_counter() - started}
