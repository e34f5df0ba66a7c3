"""Subprocess entry points, so peak memory is measured in a process that does only that.

``python -m bench.probes build --files DIR --index DIR``: ingest with the vector cache.
``python -m bench.probes serve --index DIR --questions FILE``: load once, answer, report memory.
Both print one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def memory_mb() -> dict[str, float]:
    """Peak and current RSS of this process, the current one split into anonymous and file-backed pages.

    The peak is ``VmHWM``, not ``getrusage``: on Linux ``ru_maxrss`` survives ``exec``, so a child
    would report its parent's size.
    """
    status: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                status[key] = int(value.split()[0]) / 1024
    except OSError:
        status["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "peak_rss_mb": round(status.get("VmHWM", 0.0), 1),
        "rss_mb": round(status.get("VmRSS", 0.0), 1),
        "rss_anon_mb": round(status.get("RssAnon", 0.0), 1),
        "rss_file_mb": round(status.get("RssFile", 0.0), 1),
    }


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from core.settings import Settings

    return Settings(index_dir=args.index, model_cache_dir=args.model_cache, data_dir=args.index.parent / "data")


def build(args: argparse.Namespace) -> dict[str, Any]:
    from bench.vector_cache import CachingEmbedder, VectorStore
    from ingest.embed import SentenceTransformerEmbedder
    from ingest.pipeline import ingest

    settings = _settings(args).replace(sentence_vectors=not args.no_sentence_vectors)
    inner = SentenceTransformerEmbedder(settings, backend=args.backend)
    embedder = CachingEmbedder(
        inner, VectorStore(args.cache, inner.dim), f"{settings.embedding_model}/{inner.runtime_tag}"
    )
    started = time.perf_counter()
    report = ingest([args.files], settings, embedder, rebuild=True)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "passages": report.passages,
        "documents": report.documents,
        "embedded_uncached": embedder.embedded,
        "index_path": report.index_path,
        **memory_mb(),
    }


def serve(args: argparse.Namespace) -> dict[str, Any]:
    from ingest.embed import SentenceTransformerEmbedder
    from qa.assistant import Assistant

    settings = _settings(args)
    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder(settings, backend=args.backend)
    assistant = Assistant(settings, embedder)
    loaded = time.perf_counter() - started
    after_load = memory_mb()
    questions = json.loads(args.questions.read_text("utf-8"))
    first = time.perf_counter()
    errors: list[str] = []
    rss_after: list[float] = []  # after each question: shows whether memory levels off
    for q in questions:
        try:
            assistant.ask(q, use_llm=False)
        except Exception as exc:  # report memory even when answering is broken
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
        for method in ("dense", "bm25", "hybrid"):
            assistant.retriever.search(q, k=5, method=method)
        if q is questions[0]:
            first_answer = time.perf_counter() - first
        rss_after.append(round(memory_mb()["rss_mb"]))
    return {
        "load_seconds": round(loaded, 2),
        "first_answer_seconds": round(first_answer, 2),
        "after_load": after_load,
        "questions": len(questions),
        "rss_mb_after_each": rss_after,
        "errors": errors[:3],
        **memory_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probes")
    parser.add_argument("command", choices=["build", "serve"])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--files", type=Path)
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--model-cache", type=Path, required=True)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--no-sentence-vectors", action="store_true", help="build: passages only")
    args = parser.parse_args(argv)
    result = build(args) if args.command == "build" else serve(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
