"""At one corpus size: build the index (subprocess, cached vectors), then measure
quality, query latency, ANN recall, LangChain's query latency, serving memory and disk."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import CorpusDoc, write_files
from bench.quality import exact_top_k, overlap_at_k, retrieval_quality
from bench.query_bench import ask_latency, langchain_latency, percentiles, retrieval_latency, time_each
from bench.vector_cache import cache_key
from eval.scoring import Question
from ingest.index import build_dense, load_index

ROOT = Path(__file__).resolve().parents[1]


def run_probe(args: list[str]) -> dict[str, Any]:
    """Run ``python -m bench.probes ...`` and parse its JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.probes", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.probes {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def disk_usage(gen: Path, passages: int, dim: int) -> dict[str, Any]:
    sizes = {p.name: p.stat().st_size for p in gen.iterdir() if p.is_file()}
    sizes["bm25/"] = sum(p.stat().st_size for p in (gen / "bm25").rglob("*") if p.is_file())
    raw = passages * dim * 4
    total = sum(sizes.values())
    return {
        "files_mb": {k: round(v / 1e6, 1) for k, v in sorted(sizes.items())},
        "index_mb": round(total / 1e6, 1),
        "raw_vectors_mb": round(raw / 1e6, 1),
        "index_vs_raw_vectors": round(total / raw, 2) if raw else 0.0,
        "dense_vs_raw_vectors": round(sizes.get("dense.faiss", 0) / raw, 2) if raw else 0.0,
    }


def other_kind(kind: str) -> str:
    return "hnsw" if kind == "flat" else "flat"


def dense_variants(index: Any, other: Any, other_build_s: float, query_vectors: np.ndarray, k: int = 10) -> dict:
    """Flat versus HNSW on the same vectors: search time and overlap with the exact top-k."""
    vectors = np.asarray(index.vectors, dtype=np.float32)
    exact = exact_top_k(vectors, query_vectors, k)
    out: dict[str, Any] = {}
    for kind in ("flat", "hnsw"):
        own = index.manifest.dense_index == kind
        dense = index.dense if own else other
        build_s = 0.0 if own else other_build_s
        samples = time_each(
            lambda i, d=dense: d.search(query_vectors[int(i) : int(i) + 1], k), range(len(query_vectors))
        )
        _, ids = dense.search(query_vectors, k)
        out[kind] = {
            **percentiles(samples),
            "overlap_at_10": round(overlap_at_k(exact, ids), 4),
            "build_seconds": round(build_s, 2),
        }
    out["flat_one_thread"] = _one_thread(
        index.dense if index.manifest.dense_index == "flat" else other, query_vectors, k
    )
    return out


def _one_thread(dense: Any, query_vectors: np.ndarray, k: int) -> dict[str, float]:
    """Flat search with FAISS's OpenMP pool at one thread: a single query gains nothing from more on 2 busy cores."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        samples = time_each(lambda i: dense.search(query_vectors[int(i) : int(i) + 1], k), range(len(query_vectors)))
    finally:
        faiss.omp_set_num_threads(before)
    return percentiles(samples)


def quality_with(index: Any, dense: Any, embedder: Any, questions: Sequence[Question], candidates: int) -> dict:
    from qa.retrieve import HybridRetriever

    swapped = dataclasses.replace(index, dense=dense)
    return retrieval_quality(HybridRetriever(swapped, embedder, candidates=candidates), questions)


def langchain_store(index: Any, lc_embeddings: Any, chunk: int = 8192) -> Any:
    """LangChain's FAISS store holding the same passages and vectors (``FAISS.from_embeddings``: IndexFlatL2 + docstore).

    Filled ``chunk`` passages at a time (``add_embeddings``): the vectors as lists of Python floats would
    take ~2 GB at once at 175k passages.
    """
    from langchain_community.vectorstores import FAISS

    store = None
    for start in range(0, len(index.passages), chunk):
        part = index.passages[start : start + chunk]
        vectors = np.asarray(index.vectors[start : start + len(part)], dtype=np.float32)
        pairs = [(p.text, v.tolist()) for p, v in zip(part, vectors, strict=True)]
        metadatas = [{"source": p.doc_name, "passage_id": p.passage_id} for p in part]
        if store is None:
            store = FAISS.from_embeddings(pairs, lc_embeddings, metadatas=metadatas)
        else:
            store.add_embeddings(pairs, metadatas=metadatas)
    return store


def measure_scale(
    docs: Sequence[CorpusDoc],
    workdir: Path,
    ctx: Any,  # bench.__main__.Context
) -> dict[str, Any]:
    from qa.assistant import Assistant
    from qa.retrieve import HybridRetriever

    n = sum(len(d.passages) for d in docs)
    folder = workdir / f"scale-{n}"
    write_files(docs, folder / "files")
    print(f"[{n} passages] building the index (vectors from the cache)…", flush=True)
    probe_args = ["--files", str(folder / "files"), "--index", str(folder / "index"), "--cache", str(ctx.cache_path)]
    stored_at_ingest = n <= ctx.sentence_vectors_up_to
    if not stored_at_ingest:
        probe_args.append("--no-sentence-vectors")
    built = run_probe(["build", *probe_args, "--model-cache", str(ctx.model_cache), "--backend", ctx.backend])
    index = load_index(folder / "index")
    result: dict[str, Any] = {"passages": n, "documents": len(docs), "dense_index": index.manifest.dense_index}
    result["ingest_subprocess"] = built
    result["disk"] = disk_usage(index.path, n, index.manifest.dim)

    print(f"[{n}] retrieval quality on {len(ctx.quality_questions)} CMRC2018 dev questions…", flush=True)
    result["quality"] = quality_with(index, index.dense, ctx.cached, ctx.quality_questions, ctx.candidates)
    kind = other_kind(index.manifest.dense_index)
    started = time.perf_counter()
    other = build_dense(np.asarray(index.vectors, dtype=np.float32), kind)
    other_build_s = time.perf_counter() - started
    result["quality_other_dense_index"] = {
        "kind": kind,
        **quality_with(index, other, ctx.cached, ctx.quality_questions, ctx.candidates),
    }

    print(f"[{n}] query latency…", flush=True)
    retriever = HybridRetriever(index, ctx.embedder, candidates=ctx.candidates)
    result["latency"] = retrieval_latency(retriever, ctx.latency_questions, ctx.embedder.clear_cache)
    asked = ctx.latency_questions[: ctx.ask_questions]
    here = ctx.settings.replace(index_dir=folder / "index")  # where the build stored the sentence vectors
    assistant = Assistant(here, ctx.embedder, index=index)
    if not stored_at_ingest:  # an untimed first pass stores the sentences these questions reach, as ingest would
        for question in asked:
            assistant.ask(question, use_llm=False)
    result["latency"]["ask_sentence_vectors"] = "ingest" if stored_at_ingest else "first pass"
    result["latency"]["ask"] = guarded(lambda: ask_latency(assistant, asked, ctx.embedder.clear_cache))
    # The same answers with every sentence embedded per question (YIJU_SENTENCE_VECTORS=false, nothing stored).
    per_question = Assistant(here.replace(sentence_vectors=False), ctx.embedder, index=index)
    result["latency"]["ask_per_question_vectors"] = guarded(
        lambda: ask_latency(per_question, asked, ctx.embedder.clear_cache)
    )
    qvecs = ctx.embedder.embed_queries(ctx.latency_questions)
    result["dense_variants"] = dense_variants(index, other, other_build_s, qvecs)
    if ctx.lc_embeddings is not None:
        store = langchain_store(index, ctx.lc_embeddings)
        result["latency"]["langchain"] = guarded(lambda: langchain_latency(store, ctx.latency_questions))
        del store

    if ctx.milvus:
        from bench.milvus_bench import measure_milvus

        result["milvus"] = guarded(lambda: measure_milvus(index, folder, ctx))

    print(f"[{n}] serving memory (subprocess)…", flush=True)
    result["serving"] = guarded(lambda: serving_memory(folder, ctx))
    return result


def serving_memory(folder: Path, ctx: Any, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Load the assistant in a subprocess, answer the ask questions, and report its memory."""
    qfile = folder / "questions.json"
    qfile.write_text(json.dumps(ctx.latency_questions[: ctx.ask_questions], ensure_ascii=False), "utf-8")
    args = ["--index", str(folder / "index"), "--questions", str(qfile), "--model-cache", str(ctx.model_cache)]
    return run_probe(["serve", *args, "--backend", ctx.backend, *extra])


def guarded(fn: Any) -> dict[str, Any]:
    """One measurement; a failure is recorded in the results instead of ending the run."""
    try:
        return fn()
    except Exception as exc:  # the benchmark reports every figure it could measure
        print(f"  failed: {type(exc).__name__}: {exc}", flush=True)
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}


def cached_share(docs: Sequence[CorpusDoc], tag: str, prompt: str, store: Any) -> tuple[int, int]:
    keys = [cache_key(tag, prompt, p.text) for d in docs for p in d.passages]
    return store.count(keys), len(set(keys))
