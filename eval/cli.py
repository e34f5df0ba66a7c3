"""``python -m qa eval QUESTIONS --out DIR``: the offline evaluation command.

Writes ``DIR/results.jsonl`` (one scored answer record per question, appended
as it goes; a rerun with the same settings and the same code resumes where it stopped),
``DIR/report.json``, ``DIR/report.md`` and its plots, and prints the figures.
With ``--build-index`` the corpus is indexed into ``DIR/index`` first
(incrementally, so a resumed run does not embed it again).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ConfigError, YijuError
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

FORMATS = ("jsonl", "squad", "rgb")
METHODS = ("bm25", "dense", "fused", "hybrid")


def _methods(value: str) -> list[str]:
    methods = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(f"未知的检索方法 {','.join(unknown) or value!r}；可选 bm25,dense,fused,hybrid")
    return list(dict.fromkeys(methods))


def _unit(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError("严格度应在 0 到 1 之间")
    return number


def _count(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"应为不小于 {minimum} 的整数")
        return number

    return parse


def _buckets(value: str) -> tuple[int, int]:
    lo, _, hi = value.partition("-")
    try:
        first, last = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError("应为 LO-HI，如 7-9（标题哈希的桶，0–9）") from None
    if not 0 <= first <= last <= 9:
        raise argparse.ArgumentTypeError("桶号应在 0 到 9 之间，且 LO ≤ HI")
    return first, last


def add_eval_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "eval",
        help="离线评测：正确率、拒答、引用、检索与延迟",
        description="在问题集上评测问答：写出 results.jsonl、report.json、report.md 和图表；中断后重跑会续跑。",
    )
    p.add_argument("questions", type=Path, help="问题文件：JSONL 问题集、SQuAD 格式 JSON 或 RGB 格式 JSONL")
    p.add_argument("--format", choices=FORMATS, help="默认按文件判断：.json 为 squad，含 query/answer 的 JSONL 为 rgb")
    p.add_argument("--rgb-negative-only", action="store_true", help="RGB：只索引 negative 段落，正确行为是拒答")
    p.add_argument("--build-index", action="store_true", help="先把语料建索引到 OUT/index")
    p.add_argument("--corpus", type=Path, help="jsonl 问题集的文档目录（默认 seeds/）")
    p.add_argument("--limit", type=_count(1), help="只评测 N 道题（在文件中均匀选取）")
    p.add_argument("--ids", help="只评测编号以此开头的问题，如 news-a-（文件中一个划分）")
    p.add_argument(
        "--buckets", type=_buckets, help="squad：只评测标题哈希落在 LO-HI 桶的文章，如 7-9（eval/splits.md 的划分）"
    )
    p.add_argument("--distractors", type=_count(0), default=0, help="混入 N 篇 CRUD-RAG 新闻作干扰文档")
    p.add_argument(
        "--distractor-dir", type=Path, help="CRUD-RAG 80000_docs 目录（默认 ../shared/data/crud_rag/80000_docs）"
    )
    p.add_argument("--all-contexts", action="store_true", help="squad：索引文件中所有段落，而不只是所选题目的段落")
    p.add_argument("--mode", choices=["extractive", "llm"], default="extractive", help="回答方式（默认抽取式）")
    p.add_argument("--compare", type=_methods, default=[], help="检索对比，如 bm25,dense,hybrid")
    p.add_argument("--strictness", type=_unit, help="拒答严格度 0–1（默认 0.5）")
    p.add_argument("--out", type=Path, required=True, help="输出目录")
    p.add_argument("--quiet", action="store_true", help="不显示进度条")
    common(p)
    p.set_defaults(func=cmd_eval)


def _settings(args: argparse.Namespace) -> Settings:
    given = {
        "index_dir": args.out / "index" if args.build_index else args.index,
        "embedding_model": args.model,
        "strictness": args.strictness,
    }
    return Settings(**{k: v for k, v in given.items() if v is not None})


def _fingerprint(args: argparse.Namespace, settings: Settings, fmt: str) -> dict[str, Any]:
    """The settings a results.jsonl was made with; resuming requires the same."""
    return {
        "dataset": str(args.questions.resolve()),
        "format": fmt,
        "limit": args.limit,
        "ids": args.ids,
        "buckets": args.buckets,
        "corpus": str(args.corpus.resolve()) if args.corpus else None,
        "distractors": args.distractors,
        "all_contexts": args.all_contexts,
        "rgb_negative_only": args.rgb_negative_only,
        "index": str(settings.resolved_index_dir.resolve()),
        "model": settings.embedding_model,
        "mode": args.mode,
        "llm_model": settings.llm_model if args.mode == "llm" else None,
        "strictness": settings.strictness,
        "top_k": settings.top_k,
        "candidates": settings.candidates,
        "reranker": settings.reranker,
        "compare": args.compare,
        "code": code_version(),
    }


def code_version(root: Path = ROOT) -> str:
    """A hash of the Python sources that answer (core/, ingest/, qa/): answers saved by other code
    are not resumed, however equal the settings."""
    digest = hashlib.sha256()
    for path in sorted(p for d in ("core", "ingest", "qa") for p in (root / d).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _check_resume(out: Path, fingerprint: dict[str, Any]) -> None:
    run_file, results = out / "run.json", out / "results.jsonl"
    if results.exists() and results.stat().st_size and run_file.exists():
        before = json.loads(run_file.read_text("utf-8"))
        changed = sorted(k for k in set(before) | set(fingerprint) if before.get(k) != fingerprint.get(k))
        if changed == ["code"]:  # same settings, other code: start afresh, keeping the old answers aside
            results.replace(out / "results.previous.jsonl")
            print(f"注意：代码已改动，{results} 里的旧回答已移到 results.previous.jsonl，重新评测。", file=sys.stderr)
        elif changed:
            raise ConfigError(
                f"{results} 是用不同设置（{', '.join(changed)}）得到的，不能续跑。"
                "请换一个 --out 目录，或删除该文件后重新运行。"
            )
    out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(fingerprint, ensure_ascii=False, indent=1) + "\n", "utf-8")


def _build_index(dataset: Any, settings: Settings, embedder: Any, out: Path, reader: Any = None) -> None:
    from eval.datasets import cleaner_problems, write_corpus
    from ingest.index import read_manifest
    from ingest.pipeline import ingest

    roots = list(dataset.folders)
    if dataset.documents:
        problems = cleaner_problems(dataset.documents)
        if problems:
            print(
                f"注意：{len(problems)} 篇语料不会被完整索引（清洗时被当作标题）：{', '.join(problems[:5])}",
                file=sys.stderr,
            )
        write_corpus(dataset.documents, out / "corpus")
        roots.append(out / "corpus")
    resolved = [r.resolve() for r in roots]
    manifest = read_manifest(settings.resolved_index_dir)
    stale = [
        d.doc_id
        for d in (manifest.documents if manifest else [])
        if not any(r == Path(d.path).resolve() or r in Path(d.path).resolve().parents for r in resolved)
    ]
    print(f"正在为 {', '.join(str(r) for r in roots)} 建索引（只向量化新增或改动的文件）…", file=sys.stderr)
    report = ingest(roots, settings, embedder, remove_doc_ids=stale, reader=reader)
    print(
        f"索引 {settings.resolved_index_dir}：{report.documents} 个文档，{report.passages} 个段落"
        f"（新向量化 {report.embedded}，复用 {report.reused}），用时 {report.seconds:.1f} 秒。",
        file=sys.stderr,
    )
    for s in report.skipped:
        print(f"  跳过 {s.path}：{s.reason}", file=sys.stderr)


def _check_index_has(index: Any, dataset: Any) -> None:
    names = {d.name for d in index.documents.values()}
    missing = [d.name for d in dataset.documents if d.name not in names]
    if missing:
        raise ConfigError(
            f"索引 {index.path} 中缺少该问题集的 {len(missing)} 篇语料（如 {missing[0]}）。"
            "请加 --build-index 让评测命令自己建索引。"
        )


def _assistant(settings: Settings, embedder: Any, index: Any, mode: str, models: Any = None, reader: Any = None) -> Any:
    from qa.assistant import Assistant
    from qa.build import build_llm
    from qa.retrieve import CrossEncoderReranker

    llm = None
    if mode == "llm":
        llm = build_llm(settings)
        if llm is None:
            raise ConfigError("--mode llm 需要设置 YIJU_LLM_BASE_URL（以及 YIJU_LLM_MODEL、OPENAI_API_KEY）。")
    assistant = Assistant(settings, embedder, index=index, llm=llm, models=models, reader_embedder=reader)
    if settings.reranker:
        assistant.retriever.reranker = CrossEncoderReranker(settings.reranker)
    return assistant


def cmd_eval(args: argparse.Namespace) -> int:
    if args.build_index and args.index:
        print("错误：--index 与 --build-index 只能选一个（--build-index 建在 OUT/index）。", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(f"\n已中断。用同样的参数重新运行会从 {args.out / 'results.jsonl'} 续跑。", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from eval.datasets import CRUD_RAG_DIR, detect_format, load_dataset, scope_for
    from eval.report import summary_table, write_report
    from eval.scoring import metrics, run_questions, sweep_points
    from ingest.embed import SentenceTransformerEmbedder
    from ingest.index import load_index
    from qa.encoder import answering_reader_encoder
    from qa.models import answering_models

    if not args.questions.exists():
        raise YijuError(f"问题文件 {args.questions} 不存在。")
    fmt = args.format or detect_format(args.questions)
    if args.rgb_negative_only and fmt != "rgb":
        raise ConfigError("--rgb-negative-only 只用于 RGB 格式的问题文件。")
    settings = _settings(args)
    dataset = load_dataset(
        args.questions,
        fmt,
        limit=args.limit,
        corpus=args.corpus,
        distractors=args.distractors,
        distractor_dir=args.distractor_dir or CRUD_RAG_DIR,
        rgb_negative_only=args.rgb_negative_only,
        all_contexts=args.all_contexts,
        ids=args.ids,
        buckets=args.buckets,
    )
    for note in dataset.notes:
        print(f"注意：{note}", file=sys.stderr)
    fingerprint = _fingerprint(args, settings, fmt)
    _check_resume(args.out, fingerprint)
    if not args.build_index:
        _check_index_has(load_index(settings.resolved_index_dir), dataset)
    embedder = SentenceTransformerEmbedder(settings)
    models = answering_models(settings, embedder.name)
    reader = answering_reader_encoder(settings, models)  # read once for the index build and the answers
    if args.build_index:
        _build_index(dataset, settings, embedder, args.out, reader)
    assistant = _assistant(settings, embedder, load_index(settings.resolved_index_dir), args.mode, models, reader)
    scope = scope_for(assistant.index, dataset.scopes) if dataset.scopes is not None else None
    records = list(
        run_questions(
            assistant,
            dataset.questions,
            results_path=args.out / "results.jsonl",
            compare=args.compare,
            scope=scope,
            use_llm=args.mode == "llm",
            progress=not args.quiet,
        )
    )
    figures = metrics(records)
    info = {
        **fingerprint,
        "questions": len(dataset.questions),
        "index_documents": len(assistant.index.documents),
        "index_passages": len(assistant.index.passages),
    }
    paths = write_report(args.out, figures, records, sweep_points(records), info)
    print(summary_table(figures))
    print(f"\n报告：{paths[1]}（另有 {', '.join(p.name for p in paths if p != paths[1])}）")
    return 0
