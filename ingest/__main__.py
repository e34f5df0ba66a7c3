"""``python -m ingest PATH... [--index DIR] [--store faiss|milvus] [--kb NAME]``: index files and folders."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import YijuError
from core.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="清洗、切分、向量化并索引文档（.txt .md .docx .pdf .html 与图片、.pptx .xlsx .csv）。重复运行只处理新增或改动的文件。",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="文件或文件夹")
    parser.add_argument("--index", type=Path, help="索引目录（默认 data/index，或 YIJU_INDEX_DIR）")
    parser.add_argument("--model", help="向量模型（默认 multilingual-e5-small，或 YIJU_EMBEDDING_MODEL）")
    parser.add_argument("--store", choices=["faiss", "milvus"], help="索引引擎（默认 faiss，或 YIJU_STORE）")
    parser.add_argument("--kb", help="知识库名称（默认 default，或 YIJU_KB）；不存在则新建")
    parser.add_argument("--rebuild", action="store_true", help="忽略现有索引，全部重建（换模型时使用）")
    parser.add_argument("--quiet", action="store_true", help="不显示进度条")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"错误：路径不存在：{', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        given = {"index_dir": args.index, "embedding_model": args.model, "store": args.store, "kb": args.kb}
        settings = Settings(**{k: v for k, v in given.items() if v})
        report = _run(args, settings)
    except YijuError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    _print_report(report)
    return 0


def _run(args: argparse.Namespace, settings: Settings):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from ingest.embed import SentenceTransformerEmbedder
    from ingest.pipeline import ingest
    from qa.encoder import answering_reader_encoder

    bar: tqdm | None = None
    names = {
        "ocr": ("识别页面", "页"),
        "embed": ("向量化", "段"),
        "sentences": ("向量化句子", "句"),
        "reader_sentences": ("向量化句子（阅读模型）", "句"),
    }

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        desc, unit = names.get(stage, (stage, ""))
        if bar is None or bar.desc != desc or bar.total != total:  # a new stage, or the next document's pages
            if bar is not None:
                bar.close()
            bar = tqdm(total=total, desc=desc, unit=unit)
        bar.update(done - bar.n)

    embedder = SentenceTransformerEmbedder(settings, show_progress=False)
    reader = answering_reader_encoder(settings) if settings.sentence_vectors else None  # to store its vectors
    try:
        return ingest(args.paths, settings, embedder, rebuild=args.rebuild, progress=progress, reader=reader)
    finally:
        if bar is not None:
            bar.close()


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    print(
        f"完成：{report.documents} 个文档，{report.passages} 个段落"
        f"（新向量化 {report.embedded}，复用 {report.reused}），用时 {report.seconds:.1f} 秒。"
    )
    if report.sentences_embedded:
        print(f"为回答存下 {report.sentences_embedded} 个句子向量。")
    if report.reader_sentences_embedded:
        print(f"为阅读模型存下 {report.reader_sentences_embedded} 个句子向量。")
    if report.sentences_forgotten:
        print(f"删去已删除或已替换段落的 {report.sentences_forgotten} 个句子向量。")
    print(f"新增或更新 {len(report.added)}，未变 {len(report.unchanged)}，移除 {len(report.removed)}。")
    for path in report.removed:
        print(f"  移除：{path}")
    if report.skipped:
        print(f"跳过 {len(report.skipped)} 个文件：")
        for s in report.skipped:
            print(f"  {s.path}：{s.reason}")
    print(f"索引：{report.index_path}")


if __name__ == "__main__":
    sys.exit(main())
