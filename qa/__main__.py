"""``python -m qa search|ask|kb|eval|fit-gate|fit-english``: the command line.

Parses input, calls the library and prints the result; errors become a
message on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import YijuError
from core.settings import Settings


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, help="索引目录（默认 data/index，或 YIJU_INDEX_DIR）")
    p.add_argument("--model", help="向量模型（默认 multilingual-e5-small）")


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", choices=["faiss", "milvus"], help="索引引擎（默认 faiss，或 YIJU_STORE）")
    p.add_argument("--kb", help="知识库名称（默认 default，或 YIJU_KB）")


def _doc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--doc", action="append", metavar="DOC", help="只在这些文档中检索：文档 id、文件名或路径（可重复）")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa", description="依据（yiju）：检索、问答与评测。")
    sub = parser.add_subparsers(dest="command", required=True)

    search = sub.add_parser("search", help="检索段落（不回答）")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=5, help="返回段落数（默认 5）")
    search.add_argument("--method", choices=["hybrid", "fused", "dense", "bm25"], default="hybrid")
    search.add_argument("--json", action="store_true", help="输出 JSON 列表")
    _doc_option(search)
    _common(search)
    _store_options(search)

    ask = sub.add_parser("ask", help="回答问题（带引用；资料不足时拒答）")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--batch", type=Path, help="JSONL 输入，每行含 id 与 question")
    ask.add_argument("--out", type=Path, help="批量模式的输出 JSONL（默认标准输出）")
    ask.add_argument("--json", action="store_true", help="输出回答记录 JSON")
    ask.add_argument("--mode", choices=["extractive", "llm"], help="默认：配置了 LLM 则用 LLM，否则抽取式")
    ask.add_argument("--strictness", type=float, help="拒答严格度 0–1（默认 0.5）")
    ask.add_argument("-k", type=int, help="交给回答器的段落数（默认 5）")
    _doc_option(ask)
    _common(ask)
    _store_options(ask)

    kb = sub.add_parser("kb", help="知识库：列出或删除")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_list = kb_sub.add_parser("list", help="列出知识库（文档数、段落数、模型）")
    kb_list.add_argument("--json", action="store_true", help="输出 JSON 列表")
    kb_list.add_argument("--index", type=Path, help="FAISS 索引目录（默认 data/index，或 YIJU_INDEX_DIR）")
    kb_list.add_argument("--store", choices=["faiss", "milvus"], help="索引引擎（默认 faiss，或 YIJU_STORE）")
    kb_delete = kb_sub.add_parser("delete", help="删除一个知识库及其全部文档和段落")
    kb_delete.add_argument("name")
    kb_delete.add_argument("--index", type=Path, help="FAISS 索引目录（默认 data/index，或 YIJU_INDEX_DIR）")
    kb_delete.add_argument("--store", choices=["faiss", "milvus"], help="索引引擎（默认 faiss，或 YIJU_STORE）")

    from eval.cli import add_eval_parsers

    add_eval_parsers(sub, _common)
    from learn.fit_gate import add_parser as add_fit_gate_parser

    add_fit_gate_parser(sub, _common)
    from learn.fit_english import add_parser as add_fit_english_parser

    add_fit_english_parser(sub, _common)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    given: dict[str, Any] = {
        "index_dir": getattr(args, "index", None),
        "embedding_model": getattr(args, "model", None),
        "store": getattr(args, "store", None),
        "kb": getattr(args, "kb", None) or getattr(args, "name", None),
        "strictness": getattr(args, "strictness", None),
        "top_k": getattr(args, "k", None) if getattr(args, "command", "") == "ask" else None,
    }
    return Settings(**{k: v for k, v in given.items() if v is not None})


def cmd_search(args: argparse.Namespace) -> int:
    from core.types import scored_record
    from qa.build import build_retriever

    retriever = build_retriever(settings_from(args))
    doc_ids = _doc_ids(retriever.store, args.doc)
    results = retriever.search(args.question, k=args.k, method=args.method, doc_ids=doc_ids)
    if args.json:
        print(json.dumps([scored_record(r) for r in results], ensure_ascii=False, indent=1))
        return 0
    if not results:
        print("没有检索到段落。")
    for rank, r in enumerate(results, start=1):
        p = r.passage
        print(f"{rank}. [{p.passage_id}] {p.label}  score={r.score:.4f} dense={r.dense_score:.3f}")
        print(f"   {p.text}\n")
    return 0


def _render(answer: Any) -> str:
    lines = [answer.text]
    if answer.notice:
        lines.append(f"（{answer.notice}）")
    if answer.refused:
        lines.append("\n可能相关的段落（不足以回答）：")
        lines += [f"  - {s.passage.label}：{s.passage.text[:80]}…" for s in answer.retrieved[:3]]
    else:
        lines.append("\n引用来源：")
        lines += [f"  [{c.n}] {c.passage.label}：{c.quote}" for c in answer.citations]
    mode = answer.mode if answer.mode == "extractive" else f"llm:{answer.model}"
    lines.append(f"\n（{mode}，{answer.latency_ms:.0f} ms）")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.build import build_assistant

    if not args.question and not args.batch:
        print("错误：请给出问题，或用 --batch 指定 JSONL 文件。", file=sys.stderr)
        return 2
    settings = settings_from(args)
    if args.mode == "llm" and not settings.llm_base_url:
        print("错误：--mode llm 需要设置 YIJU_LLM_BASE_URL（以及 YIJU_LLM_MODEL、OPENAI_API_KEY）。", file=sys.stderr)
        return 2
    assistant = build_assistant(settings, with_llm=args.mode != "extractive")
    if args.doc:
        assistant.retriever = assistant.retriever.restricted_to(_doc_ids(assistant.retriever.store, args.doc))
    if args.batch:
        from qa.batch import run_batch

        return run_batch(assistant, args.batch, args.out)
    answer = assistant.ask(args.question)
    print(json.dumps(answer.to_record(), ensure_ascii=False, indent=1) if args.json else _render(answer))
    return 0


def _doc_ids(store: Any, refs: list[str] | None) -> list[str] | None:
    from ingest.store import resolve_documents

    return resolve_documents(store.manifest, refs) if refs else None


def cmd_kb(args: argparse.Namespace) -> int:
    from ingest.store import delete_kb, describe_kbs

    settings = settings_from(args)
    if args.kb_command == "delete":
        delete_kb(settings)
        print(f"已删除知识库 {settings.kb}（{settings.store}）。")
        return 0
    kbs = describe_kbs(settings)
    if args.json:
        print(json.dumps([kb.__dict__ for kb in kbs], ensure_ascii=False, indent=1))
        return 0
    if not kbs:
        print(f"{settings.store} 上还没有知识库。用 `python -m ingest <文档目录> --kb 名称` 建立一个。")
    for kb in kbs:
        print(f"{kb.name}\t{kb.documents} 个文档\t{kb.passages} 个段落\t{kb.model}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    handlers = {"search": cmd_search, "ask": cmd_ask, "kb": cmd_kb}
    try:
        if args.command in handlers:
            return handlers[args.command](args)
        return args.func(args)
    except YijuError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
