"""Evaluation reports: ``report.json``, ``report.md`` and two PNG plots.

The plots use matplotlib's Agg backend (no display) and English labels, so
they render without a CJK font.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.scoring import METHODS, bootstrap_intervals

ROOT = Path(__file__).resolve().parents[1]

METRICS: tuple[tuple[str, str], ...] = (
    ("n", "题数"),
    ("n_answerable", "可回答题数"),
    ("n_unanswerable", "不可回答题数"),
    ("accuracy", "总体正确率（不可回答题以拒答为对）"),
    ("answerable_accuracy", "可回答题正确率（拒答算错）"),
    ("answered_accuracy", "作答的可回答题中答对的比例"),
    ("refusal_rate_unanswerable", "不可回答题的拒答率（拒答召回）"),
    ("false_refusal_rate", "可回答题被误拒的比例"),
    ("refusal_precision", "拒答中确实不可回答的比例"),
    ("citation_precision", "引用的段落含证据句的比例"),
    ("recall_at_1", "检索 Recall@1（证据在第 1 段）"),
    ("recall_at_5", "检索 Recall@5"),
    ("mrr_at_10", "检索 MRR@10"),
    ("latency_ms_p50", "单题延迟 p50（毫秒）"),
    ("latency_ms_p95", "单题延迟 p95（毫秒）"),
)
_COUNTS = {"n", "n_answerable", "n_unanswerable"}
PLOTS = ("strictness.png", "latency.png")


def git_commit(root: Path = ROOT) -> str | None:
    """The checked-out commit, read from ``.git`` directly (no git process)."""
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text("utf-8").strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.split(":", 1)[1].strip()
        if (git / ref).exists():
            return (git / ref).read_text("utf-8").strip() or None
        for line in (git / "packed-refs").read_text("utf-8").splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def fmt(key: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if key in _COUNTS:
        return str(int(value))
    if key.startswith("latency"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def comparison(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{method: {recall_at_1, recall_at_5, mrr_at_10}}`` from the flat ``<method>_…`` metrics."""
    out: dict[str, dict[str, float]] = {}
    for m in METHODS:
        if f"{m}_recall_at_1" in metrics:
            out[m] = {k: metrics[f"{m}_{k}"] for k in ("recall_at_1", "recall_at_5", "mrr_at_10")}
    return out


def summary_table(metrics: dict[str, float]) -> str:
    """The figures as a plain-text table for the terminal."""
    width = max(len(k) for k, _ in METRICS)
    lines = [f"{'metric'.ljust(width)}  value", f"{'-' * width}  -----"]
    lines += [f"{k.ljust(width)}  {fmt(k, metrics.get(k))}" for k, _ in METRICS if k in metrics]
    table = comparison(metrics)
    if table:
        lines += ["", f"{'retrieval'.ljust(8)}  recall@1  recall@5  mrr@10"]
        for m, row in table.items():
            lines.append(
                f"{m.ljust(8)}  {fmt('r', row['recall_at_1']):>8}  {fmt('r', row['recall_at_5']):>8}  "
                f"{fmt('r', row['mrr_at_10']):>6}"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------- failures


def _failure_kind(r: dict[str, Any]) -> int:
    if not r["answerable"]:
        return 0  # answered what the documents do not say
    return 1 if not r["refused"] else 2  # wrong answer, then false refusal


def worst_failures(records: Sequence[dict[str, Any]], n: int = 10) -> list[dict[str, Any]]:
    """Wrong records, worst first: confident answers to unanswerable questions, wrong answers, false refusals.

    Within a kind, higher gate confidence first; false refusals whose evidence
    was retrieved at rank 1 come first (the gate, not retrieval, failed).
    """
    wrong = [r for r in records if not r["correct"]]

    def key(r: dict[str, Any]) -> tuple[int, float, float]:
        rank = r.get("retrieval_hit_rank") or 99
        return _failure_kind(r), rank if _failure_kind(r) == 2 else 0, -(r.get("support_confidence") or 0.0)

    return sorted(wrong, key=key)[:n]


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "｜")
    return text if len(text) <= limit else text[:limit] + "…"


def _expected(r: dict[str, Any]) -> str:
    if not r["answerable"]:
        return "（应拒答）"
    if r.get("required"):
        return " 且 ".join("/".join(g) for g in r["required"])
    return " / ".join(r.get("expected", [])) or "（任意非拒答）"


_KINDS = ("回答了不可回答的问题", "答错", "误拒")


def _failure_md(i: int, r: dict[str, Any]) -> list[str]:
    conf = r.get("support_confidence")
    lines = [
        f"### {i}. {r['id']}：{_KINDS[_failure_kind(r)]}",
        "",
        f"- 问题：{_cell(r['question'], 300)}",
        f"- 回答：{_cell(r['answer'], 300)}",
        f"- 期望：{_cell(_expected(r), 300)}",
        f"- 证据检索名次：{(r.get('retrieval_hit_rank') or '前 10 未命中') if r.get('evidence') else '（无证据）'}"
        f"；支持度：{'—' if conf is None else f'{conf:.3f}'}"
        + (f"；说明：{_cell(r['notice'], 120)}" if r.get("notice") else ""),
        "- 检索到的前 3 段：",
    ]
    for rank, p in enumerate(r.get("retrieved", [])[:3], start=1):
        lines.append(f"  {rank}. `{p.get('doc', '')}` 第{p.get('paragraph', '?')}段：{_cell(p.get('text', ''), 140)}")
    return [*lines, ""]


# ---------------------------------------------------------------- plots


def _plot_strictness(points: Sequence[dict[str, float]], current: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    xs = [p["strictness"] for p in points]
    series = (
        ("answerable_accuracy", "accuracy on answerable", "-o"),
        ("refusal_rate_unanswerable", "refusal rate on unanswerable", "-s"),
        ("false_refusal_rate", "false refusal rate", "--^"),
    )
    for key, label, style in series:
        ys = [p[key] for p in points]
        if any(not math.isnan(y) for y in ys):
            ax.plot(xs, ys, style, label=label, markersize=4)
    ax.axvline(current, color="grey", linestyle=":", label=f"configured strictness {current:g}")
    ax.set_xlabel("gate strictness")
    ax.set_ylabel("rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("Answers vs. refusals as the support gate tightens (extractive)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_latency(latencies: Sequence[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    if latencies:
        ax.hist(latencies, bins=min(40, max(5, len(latencies) // 4)), color="#4c72b0", alpha=0.85)
        for q, style in ((50, "--"), (95, ":")):
            v = float(np.percentile(latencies, q))
            ax.axvline(v, color="black", linestyle=style, label=f"p{q} = {v:.0f} ms")
        ax.legend(fontsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.set_title(f"Answer latency ({len(latencies)} questions)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------- writing


def report_json(
    metrics: dict[str, float],
    sweep: Sequence[dict[str, float]],
    info: dict[str, Any],
    intervals: dict[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    figures = {k: int(v) if k in _COUNTS and not math.isnan(v) else v for k, v in metrics.items()}
    return _json_safe(
        {
            **figures,
            "intervals_95": {k: list(v) for k, v in (intervals or {}).items()},
            "settings": info,
            "git_commit": git_commit(),
            "retrieval_comparison": comparison(metrics),
            "strictness_sweep": list(sweep),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )


def report_markdown(
    metrics: dict[str, float],
    records: Sequence[dict[str, Any]],
    sweep: Sequence[dict[str, float]],
    info: dict[str, Any],
) -> str:
    lines = ["# 评测报告", "", f"数据：`{info.get('dataset')}`（{info.get('format')}）", ""]
    lines += ["| 设置 | 值 |", "|---|---|"]
    lines += [
        f"| {k} | {_cell(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)} |"
        for k, v in info.items()
    ]
    intervals = bootstrap_intervals(records)
    lines += [f"| git_commit | {git_commit() or '—'} |", "", "## 指标", ""]
    lines += ["区间为按题重抽样（bootstrap，2000 次）的 95 % 区间。", ""]
    lines += ["| 指标 | 含义 | 值 | 95 % 区间 |", "|---|---|---:|---:|"]
    lines += [
        f"| `{k}` | {label} | {fmt(k, metrics.get(k))} | {_interval(k, intervals.get(k))} |"
        for k, label in METRICS
        if k in metrics
    ]
    table = comparison(metrics)
    if table:
        lines += ["", "## 检索对比（同一次运行，前 10 段中第一个含证据句的段落的名次）", ""]
        lines += ["| 方法 | Recall@1 | Recall@5 | MRR@10 |", "|---|---:|---:|---:|"]
        lines += [
            f"| {m} | {fmt('r', row['recall_at_1'])} | {fmt('r', row['recall_at_5'])} | {fmt('r', row['mrr_at_10'])} |"
            for m, row in table.items()
        ]
    lines += _sweep_md(sweep, info)
    lines += [
        "",
        "## 延迟",
        "",
        "每题作答前清空向量模型的近期缓存（冷启动）；延迟含检索、支持判断、作答与引用核对。",
        "",
    ]
    lines += ["![latency](latency.png)", ""]
    failures = worst_failures(records)
    lines += ["## 最差的失败", ""]
    if not failures:
        lines += ["没有答错的题。", ""]
    for i, r in enumerate(failures, start=1):
        lines += _failure_md(i, r)
    return "\n".join(lines)


def _interval(key: str, bounds: tuple[float, float] | None) -> str:
    return "" if bounds is None else f"{fmt(key, bounds[0])} – {fmt(key, bounds[1])}"


def _sweep_md(sweep: Sequence[dict[str, float]], info: dict[str, Any]) -> list[str]:
    lines = ["", "## 拒答严格度", ""]
    lines.append(
        "每道题在回答之后，用抽取式回答器在每个严格度上重新问一遍（检索与向量取自第一次，结果与重新运行完全相同），"
        "所以曲线是实测值，不是由支持度估算的。"
        + ("本次主回答用的是 LLM，曲线仍是抽取式回答器的。" if info.get("mode") == "llm" else "")
    )
    lines += ["", "![strictness](strictness.png)", ""]
    lines += ["| 严格度 | 可回答题正确率 | 误拒率 | 不可回答题拒答率 |", "|---:|---:|---:|---:|"]
    lines += [
        f"| {p['strictness']:.1f} | {fmt('r', p['answerable_accuracy'])} | {fmt('r', p['false_refusal_rate'])} | "
        f"{fmt('r', p['refusal_rate_unanswerable'])} |"
        for p in sweep
    ]
    return lines


def write_report(
    out: Path,
    metrics: dict[str, float],
    records: Sequence[dict[str, Any]],
    sweep: Sequence[dict[str, float]],
    info: dict[str, Any],
) -> list[Path]:
    """Write report.json, report.md and the plots into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", *(out / p for p in PLOTS)]
    paths[0].write_text(
        json.dumps(report_json(metrics, sweep, info, bootstrap_intervals(records)), ensure_ascii=False, indent=1)
        + "\n",
        encoding="utf-8",
    )
    paths[1].write_text(report_markdown(metrics, records, sweep, info) + "\n", encoding="utf-8")
    _plot_strictness(sweep, float(info.get("strictness", 0.5)), paths[2])
    _plot_latency([float(r["latency_ms"]) for r in records if not r.get("error")], paths[3])
    return paths
