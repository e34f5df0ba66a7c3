"""Subprocess entry points, so peak memory is measured in a process that does only that.

``python -m bench.probes build --files DIR --index DIR``: ingest with the vector cache.
``python -m bench.probes serve --index DIR --questions FILE [--milvus-uri FILE --kb NAME]``: load once,
answer, report memory (with Milvus Lite, its engine's too: ``children_rss_mb``).
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
        "children_rss_mb": round(children_rss_mb(), 1),
    }


def children_rss_mb(pid: str = "self") -> float:
    """RSS of the processes this one started, and theirs (Milvus Lite's engine runs as a child)."""
    total = 0.0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0.0
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                for line in Path(f"/proc/{child}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                continue
            total += children_rss_mb(child)
    return total


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from core.settings import Settings

    settings = Settings(index_dir=args.index, model_cache_dir=args.model_cache, data_dir=args.index.parent / "data")
    if getattr(args, "milvus_uri", None):
        settings = settings.replace(store="milvus", milvus_uri=args.milvus_uri, kb=args.kb)
    return settings


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
    parser.add_argument("--milvus-uri", help="serve: from this Milvus Lite file instead of the FAISS index")
    parser.add_argument("--kb", default="default", help="serve: the knowledge base (with --milvus-uri)")
    args = parser.parse_args(argv)
    result = build(args) if args.command == "build" else serve(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
