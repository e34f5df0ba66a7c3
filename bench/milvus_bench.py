"""Milvus Lite beside FAISS at one corpus size: the same passages and vectors written into a Milvus Lite
knowledge base, then the same quality and latency measurements through the same retriever."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.quality import retrieval_quality
from bench.query_bench import retrieval_latency
from bench.scale import serving_memory
from ingest.faiss_store import FaissStore
from ingest.index import Index


def measure_milvus(index: Index, folder: Path, ctx: Any) -> dict[str, Any]:
    """Write ``index``'s documents, passages and vectors into Milvus Lite (no embedding; FAISS is written
    the same way, for the comparison), then measure."""
    from ingest.store import open_store, open_writer
    from qa.retrieve import HybridRetriever

    settings = ctx.settings.replace(store="milvus", milvus_uri=str(folder / "milvus" / "bench.db"), kb="bench")
    print(f"[{index.manifest.passages}] Milvus Lite: writing the same passages and vectors…", flush=True)
    seconds = _write(index, settings, open_writer)
    faiss_seconds = _write(index, ctx.settings.replace(index_dir=folder / "faiss-rewrite", kb="default"), open_writer)
    store = open_store(settings)
    result: dict[str, Any] = {
        "write_seconds": round(seconds, 2),
        "faiss_write_seconds": round(faiss_seconds, 2),
        "passages_per_s": round(index.manifest.passages / seconds, 1) if seconds else 0.0,
        "dense_index": store.manifest.dense_index,
        "disk_mb": round(sum(p.stat().st_size for p in (folder / "milvus").rglob("*") if p.is_file()) / 1e6, 1),
    }
    print(f"[{index.manifest.passages}] Milvus Lite: quality and latency…", flush=True)
    result["quality"] = retrieval_quality(
        HybridRetriever(store, ctx.cached, candidates=ctx.candidates), ctx.quality_questions
    )
    retriever = HybridRetriever(store, ctx.embedder, candidates=ctx.candidates)
    result["latency"] = retrieval_latency(retriever, ctx.latency_questions, ctx.embedder.clear_cache)
    store.close()  # the engine serves one process per file: the serving probe opens it next
    print(f"[{index.manifest.passages}] Milvus Lite: serving memory (subprocess)…", flush=True)
    result["serving"] = serving_memory(folder, ctx, ["--milvus-uri", settings.resolved_milvus_uri, "--kb", "bench"])
    return result


def _write(index: Index, settings: Any, open_writer: Any) -> float:
    source = FaissStore(index)
    m = index.manifest
    started = time.perf_counter()
    _, writer = open_writer(settings, m.model, m.dim, m.chunking, rebuild=True)
    for entry in m.documents:
        rows = source.rows_of(entry.doc_id)
        vectors = index.vectors[rows]
        writer.add(index.documents[entry.doc_id], [index.passages[r] for r in rows], vectors, entry.ingested_at)
    writer.commit()
    return time.perf_counter() - started
