"""``python -m learn train-reader | splits``."""

from __future__ import annotations

import argparse
import json
import sys

from learn.sources import SPLITS, splits_markdown, splits_record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m learn", description="训练阅读器与拒答模型；记录数据角色。")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train-reader", help="训练阅读器与拒答模型，写出 qa/trained/answering.json 与报告")
    train.add_argument("--limit", type=int, default=None, help="每个数据源最多取的题数（默认全部）")
    train.add_argument("--quick", action="store_true", help="每个数据源 150 题，只为检查流程")
    train.add_argument(
        "--reuse-cases",
        action="store_true",
        help="沿用上次构建的检索结果与向量相似度（同一数据文件与 --limit），只按当前代码重算特征",
    )
    sub.add_parser("splits", help="写出 eval/splits.json 与 eval/splits.md（各数据源的角色与哈希）")
    args = parser.parse_args(argv)
    if args.command == "splits":
        record = splits_record()
        SPLITS.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        SPLITS.with_suffix(".md").write_text(splits_markdown(record), encoding="utf-8")
        print(f"已写出 {SPLITS} 与 {SPLITS.with_suffix('.md')}")
        return 0
    from learn.train import run

    report = run(150 if args.quick else args.limit, quick=args.quick, reuse_cases=args.reuse_cases)
    print(json.dumps(report["validation"]["all"], ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
