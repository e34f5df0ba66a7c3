"""``python -m learn train-encoder | train-reader | probe-gate | quotes | splits``."""

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
        help="沿用上次构建的检索结果与向量相似度（同一数据文件、--limit 与检索代码），只按当前代码重算特征",
    )
    enc = sub.add_parser(
        "train-encoder",
        help="微调阅读器的句子编码器（e5 的上层），写出 qa/trained/reader_encoder.safetensors 与报告",
    )
    enc.add_argument(
        "--limit", type=int, default=1200, help="每个数据源的题数，与 train-reader 的案例相同（默认 1200）"
    )
    enc.add_argument("--epochs", type=int, default=1, help="训练轮数（默认 1）")
    enc.add_argument("--quick", action="store_true", help="只用 200 道训练题，只为检查流程（不覆盖正式产物）")
    train.add_argument(
        "--base-encoder", action="store_true", help="阅读器读基础 e5 的相似度，不用微调的句子编码器（对比用）"
    )
    train.add_argument(
        "--removed", action="store_true", help="加上“删去答案句”的训练案例（对比用；验证集上不占优，默认不用）"
    )
    train.add_argument("--unbalanced", action="store_true", help="守门模型按案例数加权，不让各数据源同等分量（对比用）")
    train.add_argument(
        "--neighbours", action="store_true", help="守门模型也学“同文换词”的近似题（对比用；验证集上不占优，默认不用）"
    )
    train.add_argument("--no-ablations", action="store_true", help="不做特征组消融（只为快速对比）")
    train.add_argument(
        "--train-limit",
        type=int,
        default=None,
        help="训练数据源每个最多取的题数（0 为全部；默认与 --limit 相同，验证集始终按 --limit）",
    )
    train.add_argument("--curve", action="store_true", help="另用四分之一、一半的训练题各训一次，报告学习曲线")
    probe = sub.add_parser(
        "probe-gate", help="比较守门模型加上“问句与句子合读”的特征（逐词对齐、交叉编码器）在验证集上的效果"
    )
    probe.add_argument("--only", choices=["alignment", "cross"], default=None, help="只试其中一种")
    probe.add_argument("--limit", type=int, default=1200, help="与 train-reader 的案例相同（默认 1200）")
    sub.add_parser("quotes", help="由 news-a 的新闻写出粘贴原句的检索题 eval/quote_questions.jsonl")
    sub.add_parser("splits", help="写出 eval/splits.json 与 eval/splits.md（各数据源的角色与哈希）")
    args = parser.parse_args(argv)
    if args.command == "splits":
        record = splits_record()
        SPLITS.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        SPLITS.with_suffix(".md").write_text(splits_markdown(record), encoding="utf-8")
        print(f"已写出 {SPLITS} 与 {SPLITS.with_suffix('.md')}")
        return 0
    if args.command == "quotes":
        from learn.quotes import QUOTES, write_quotes

        print(f"已写出 {QUOTES}：{write_quotes()} 题")
        return 0
    if args.command == "probe-gate":
        from learn.probes import PROBES
        from learn.probes import run as probe_run

        report = probe_run(args.limit, (args.only,) if args.only else PROBES)
        print(json.dumps({k: v["validation"]["all"]["gate_auc"] for k, v in report["arms"].items()}, indent=1))
        return 0
    if args.command == "train-encoder":
        from learn.train import encoder_run

        report = encoder_run(args.limit, epochs=args.epochs, quick=args.quick)
        print(json.dumps(report["validation"]["all"], ensure_ascii=False, indent=1))
        return 0
    from learn.train import run

    report = run(
        150 if args.quick else args.limit,
        quick=args.quick,
        reuse_cases=args.reuse_cases,
        tuned_encoder=not args.base_encoder,
        removed_cases=args.removed,
        balance=not args.unbalanced,
        ablations=not args.no_ablations,
        neighbours=args.neighbours,
        train_limit="same" if args.train_limit is None else (args.train_limit or None),
        curve=args.curve,
    )
    print(json.dumps(report["validation"]["all"], ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
