"""``python -m bench [--quick] [--out DIR]``: performance at scale, side by side in one run.

Ingest throughput (yiju pipeline vs raw encode vs LangChain), query latency,
retrieval quality, memory, disk and cold start; a table and ratios on the
console, ``bench.json`` and ``bench.md`` in ``--out``.

``python -m bench warm --passages N`` embeds a slice into the vector cache
(resumable) so that the at-scale measurements need not embed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results"
DEFAULT_MODEL_CACHE = ROOT / ".cache" / "models"

QUICK = {"sizes": "10000", "ingest_passages": 256, "rounds": 2, "quality": 500, "latency": 40, "ask": 15, "check": 200}
FULL = {
    "sizes": "10000,50000,all",
    "ingest_passages": 2048,
    "rounds": 4,
    "quality": 1000,
    "latency": 100,
    "ask": 30,
    "check": 200,
}


@dataclass
class Context:
    settings: Any
    model_cache: Path
    cache_path: Path
    backend: str
    embedder: Any  # the product's embedder, no vector cache: for timing
    cached: Any  # the same behind the vector cache: for quality
    lc_embeddings: Any | None
    quality_questions: list[Any]
    latency_questions: list[str]
    ask_questions: int
    candidates: int
    milvus: bool = True  # Milvus Lite beside FAISS at each size (bench.milvus_bench)
    # Larger sizes are built with passages only: embedding every sentence of 175k passages takes hours on 2 cores.
    sentence_vectors_up_to: int = 20_000


def parse_sizes(text: str) -> list[int | None]:
    """``"10000,50000,all"`` → ``[10000, 50000, None]`` (ascending, ``all`` last)."""
    sizes: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part:
            sizes.append(None if part == "all" else int(part.replace("k", "000")))
    numbers = sorted(s for s in sizes if s is not None)
    return [*numbers, *([None] if None in sizes else [])]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="依据的性能基准：入库、检索、质量、内存、冷启动。"
    )
    parser.add_argument("command", nargs="?", default="run", choices=["run", "warm", "ocr"])
    parser.add_argument("--quick", action="store_true", help="1 万段落规模的快速版本")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="结果目录（默认 bench/results/）")
    parser.add_argument("--sizes", help="规模（段落数），逗号分隔，all 表示全部，如 10000,50000,all")
    parser.add_argument("--passages", help="warm：要预先向量化的规模（段落数或 all）")
    parser.add_argument("--ingest-passages", type=int, help="入库吞吐测试的样本段落数")
    parser.add_argument("--rounds", type=int, help="入库吞吐测试的交替轮数")
    parser.add_argument("--quality-questions", type=int, help="CMRC2018 dev 评测题数")
    parser.add_argument("--latency-questions", type=int, help="延迟测试的问题数（CMRC2018 trial）")
    parser.add_argument("--ask-questions", type=int, help="完整回答延迟的问题数")
    parser.add_argument("--check-contexts", type=int, help="后端对比所用的 CMRC 段落篇数（0 跳过）")
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx-int8"], help="向量化后端")
    parser.add_argument("--max-embed", type=int, help="某规模缓存缺失超过此数则跳过该规模（默认不限）")
    parser.add_argument(
        "--sentence-vectors-up-to",
        type=int,
        default=20_000,
        help="至多此段落数的规模入库时存句子向量；更大的规模只存段落向量，回答延迟在同一批问题先答一遍（存下所需句子）后测",
    )
    parser.add_argument("--no-langchain", action="store_true", help="不比较 LangChain")
    parser.add_argument("--no-cold-start", action="store_true", help="不测冷启动")
    parser.add_argument("--no-milvus", action="store_true", help="不测 Milvus Lite（默认在每个规模与 FAISS 并列测）")
    parser.add_argument("--no-ocr", action="store_true", help="不测 OCR 吞吐（扫描页每秒页数）")
    parser.add_argument("--ocr-rounds", type=int, default=1, help="OCR 吞吐测试的轮数（每轮 3 页）")
    parser.add_argument("--model-cache", type=Path, default=DEFAULT_MODEL_CACHE)
    parser.add_argument("--cache", type=Path, help="向量缓存文件（默认 .cache/bench/vectors.sqlite）")
    return parser


def _cached_embedder(settings: Any, backend: str, cache_path: Path) -> Any:
    from bench.vector_cache import CachingEmbedder, VectorStore
    from ingest.embed import SentenceTransformerEmbedder

    inner = SentenceTransformerEmbedder(settings, backend=backend)
    return CachingEmbedder(inner, VectorStore(cache_path, inner.dim), f"{settings.embedding_model}/{inner.runtime_tag}")


def warm_main(args: argparse.Namespace, settings: Any, cache_path: Path) -> int:
    from bench.warm import warm

    size = parse_sizes(args.passages or "10000")[-1]
    print(warm(_cached_embedder(settings, args.backend, cache_path), size, settings))
    return 0


def run(args: argparse.Namespace, settings: Any, cache_path: Path) -> dict[str, Any]:
    from bench.corpus import build_corpus, latency_questions, spread, take_passages
    from bench.ingest_bench import IngestSetup, compare_ingest
    from ingest.embed import TorchEncoder, resolve_model_path

    p = QUICK if args.quick else FULL
    sizes = parse_sizes(args.sizes or p["sizes"])
    results: dict[str, Any] = {"meta": _meta(args), "notes": [], "scales": []}
    started = time.perf_counter()
    print("building the corpus (CMRC2018 dev contexts + CRUD-RAG)…", flush=True)
    corpus = build_corpus(sizes[-1], settings)
    cmrc = [d for d in corpus.docs if d.doc.name.startswith("ctx_")]
    crud = [d for d in corpus.docs if not d.doc.name.startswith("ctx_")]

    cached = _cached_embedder(settings, args.backend, cache_path)
    embedder = cached.inner
    results["meta"]["backend"] = embedder.backend
    model_dir = Path(resolve_model_path(settings))
    lc = _langchain(args, model_dir, settings.embed_batch_size, results["notes"])

    check_contexts = p["check"] if args.check_contexts is None else args.check_contexts
    if check_contexts:
        results["backend_check"] = _backend_check(settings, cache_path, corpus, check_contexts)

    sample = take_passages(crud, args.ingest_passages or p["ingest_passages"])
    results["meta"]["ingest_docs"] = len(sample)
    results["meta"]["rounds"] = args.rounds or p["rounds"]
    results["meta"]["sentence_vectors_up_to"] = args.sentence_vectors_up_to
    print(f"ingest comparison on {sum(len(d.passages) for d in sample)} passages…", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="yiju-bench-"))
    try:
        setup = IngestSetup(settings, embedder, TorchEncoder(str(model_dir)).model, lc, workdir / "ingest")
        results["ingest"] = compare_ingest(sample, setup, args.rounds or p["rounds"])
        ctx = Context(
            settings=settings,
            model_cache=args.model_cache,
            cache_path=cache_path,
            backend=embedder.backend,
            embedder=embedder,
            cached=cached,
            lc_embeddings=lc,
            quality_questions=spread(corpus.questions, args.quality_questions or p["quality"]),
            latency_questions=latency_questions(args.latency_questions or p["latency"]),
            ask_questions=args.ask_questions or p["ask"],
            candidates=settings.candidates,
            milvus=not args.no_milvus,
            sentence_vectors_up_to=args.sentence_vectors_up_to,
        )
        _scales(results, sizes, cmrc, crud, workdir, ctx, args.max_embed)
        if not args.no_cold_start and results["scales"]:
            # On the largest index (the headline figure), and on the smallest too when they differ.
            results["cold_start"] = _cold_start(results["scales"][-1]["passages"], workdir, ctx)
            if len(results["scales"]) > 1:
                results["cold_start_smallest"] = _cold_start(results["scales"][0]["passages"], workdir, ctx)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not args.no_ocr:
        from bench.ocr_bench import measure_ocr

        print("OCR throughput on printed seed pages…", flush=True)
        results["ocr"] = measure_ocr(args.ocr_rounds)
    results["meta"]["load_end"] = _load()
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    return results


def _cold_start(passages: int, workdir: Path, ctx: Context) -> dict[str, Any]:
    from bench.cold_start import measure_cold_start

    print(f"cold start of app.py on the {passages}-passage index…", flush=True)
    index = workdir / f"scale-{passages}" / "index"
    result = measure_cold_start(index, ctx.model_cache, workdir / "app-data", ctx.latency_questions[0])
    return {**result, "index_passages": passages}


def _langchain(args: argparse.Namespace, model_dir: Path, batch_size: int, notes: list[str]) -> Any:
    """LangChain's embeddings for the baseline, or None (with a note in the report) when it is not compared."""
    from bench.ingest_bench import LANGCHAIN_INSTALL, langchain_embeddings, langchain_missing

    if args.no_langchain:
        notes.append("LangChain baseline not run (--no-langchain).")
        return None
    missing = langchain_missing()
    if missing:
        note = f"LangChain baseline skipped: {', '.join(missing)} not installed (`{LANGCHAIN_INSTALL}`; `make bench` does)."
        print(note, flush=True)
        notes.append(note)
        return None
    return langchain_embeddings(model_dir, batch_size)


def _scales(
    results: dict, sizes: list, cmrc: list, crud: list, workdir: Path, ctx: Context, max_embed: int | None
) -> None:
    from bench.corpus import take_passages
    from bench.scale import cached_share, measure_scale

    have = sum(len(d.passages) for d in cmrc)
    for size in sizes:
        docs = cmrc + take_passages(crud, None if size is None else max(0, size - have))
        found, total = cached_share(docs, ctx.cached.tag, ctx.embedder.passage_prompt, ctx.cached.store)
        if max_embed is not None and total - found > max_embed:
            note = f"size {size or 'all'} ({total} passages) skipped: {total - found} vectors not in the cache"
            print(note, flush=True)
            results["notes"].append(note)
            continue
        results["scales"].append(measure_scale(docs, workdir, ctx))


def _backend_check(settings: Any, cache_path: Path, corpus: Any, contexts: int) -> dict[str, Any]:
    from bench.backend_check import compare_backends
    from ingest.embed import onnx_available

    if not onnx_available():
        return {"skipped": "onnxruntime/onnx not installed"}
    print(f"embedding runtime check on the first {contexts} CMRC contexts…", flush=True)
    embedders = {b: _cached_embedder(settings, b, cache_path) for b in ("torch", "onnx-int8")}
    return compare_backends(embedders, corpus, contexts)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "load_start": _load(),
    }


def print_summary(results: dict[str, Any]) -> None:
    from bench.report import ann_table, ingest_table, scale_table, store_table

    print()
    tables = [*ingest_table(results), "", *scale_table(results), "", *ann_table(results), "", *store_table(results)]
    for line in tables:
        print(line)
    print()
    for key, value in results["headline"].items():
        print(f"{key:>42}: {value}")
    for note in results.get("notes", []):
        print(f"note: {note}")


def ocr_main(args: argparse.Namespace) -> int:
    """``python -m bench ocr``: the OCR measurement alone, into ``ocr.json`` and ``ocr.md``."""
    import json

    from bench.ocr_bench import measure_ocr, ocr_table

    results = {"meta": _meta(args), "ocr": measure_ocr(args.ocr_rounds)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocr.json").write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), "utf-8")
    text = "# OCR throughput\n\n" + "\n".join(ocr_table(results)) + "\n"
    (args.out / "ocr.md").write_text(text, "utf-8")
    print(text + f"\n{args.out / 'ocr.json'}\n{args.out / 'ocr.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import logging

    from core.settings import Settings

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    from bench.vector_cache import DEFAULT_CACHE_DIR

    cache_path = args.cache or DEFAULT_CACHE_DIR / "vectors.sqlite"
    settings = Settings(model_cache_dir=args.model_cache, data_dir=Path(tempfile.gettempdir()) / "yiju-bench-data")
    if args.command == "warm":
        return warm_main(args, settings, cache_path)
    if args.command == "ocr":
        return ocr_main(args)
    from bench.report import headline, write

    results = run(args, settings, cache_path)
    results["headline"] = headline(results)
    print_summary(results)
    json_path, md_path = write(results, args.out)
    print(f"\n{json_path}\n{md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
