"""``python -m qa fit-english``: fit the sentence scorer and the support threshold of English questions.

English questions share no words with the Chinese passages, so the gate decides them on the e5
cosine of their best sentence (see ``support._decide_english``). The sentence scorer's weights for
English questions (``extractive.ENGLISH_SENTENCE_WEIGHTS``), then that threshold, are fitted here on the
``en-fit`` half of eval/english_questions.jsonl (questions written in English on CRUD-RAG stories,
near misses included), with the same bootstrap-median rule as the Chinese gate, and measured on the
``en-test`` half. The questions are answered by the real pipeline on the index that
``python -m qa eval eval/english_questions.jsonl --build-index ...`` builds. Writes
eval/english_fit.json and eval/english_fit.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from learn.fit_gate import ROOT, auc, fit_sentence_weights, sentence_rows, stable_threshold, top_sentence_accuracy

QUESTIONS = ROOT / "eval" / "english_questions.jsonl"
INDEX = ROOT / "eval" / "results" / "english" / "index"
HALVES = ("fit", "test")
BUILD_COMMAND = (
    "python -m qa eval eval/english_questions.jsonl --build-index --distractors 200 --out eval/results/english"
)


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("fit-english", help="在英文问题集上拟合英文问题的句子打分与拒答阈值")
    p.add_argument("--questions", type=Path, default=QUESTIONS, help="英文问题集（en-fit 一半拟合，en-test 一半测）")
    p.add_argument("--out", type=Path, default=ROOT / "eval" / "english_fit.json", help="报告 JSON（同名 .md）")
    common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from core.settings import Settings
    from eval.scoring import load_questions
    from qa.build import build_assistant

    index = args.index or INDEX
    if not (index / "CURRENT").exists():
        raise ConfigError(f"找不到英文问题集的索引 {index}；请先运行：{BUILD_COMMAND}")
    given = {"index_dir": index, **({"embedding_model": args.model} if args.model else {})}
    assistant = build_assistant(Settings(**given), with_llm=False)
    questions = load_questions(args.questions)
    sentence = fit_sentences(assistant, questions)
    rows = [
        {
            "id": q.id,
            "answerable": q.answerable,
            "score": round(support_score(assistant, q.question, sentence["weights"]), 4),
        }
        for q in questions
    ]
    report = {"sentence_scorer": sentence, **fit_report(rows, assistant.gate.english_dense_threshold)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    args.out.with_suffix(".md").write_text(render_markdown(report), "utf-8")
    print(render_markdown(report))
    return 0


def fit_sentences(assistant: Any, questions: Sequence[Any]) -> dict[str, Any]:
    """English sentence weights fitted on the answerable en-fit questions; top-sentence accuracy of
    both halves with them and with the Chinese weights."""
    from qa.extractive import SENTENCE_FEATURES, SENTENCE_WEIGHTS

    k = assistant.settings.top_k
    rows, counts = {}, {}
    for half in HALVES:
        asked = [
            (q.id, q.question, list(q.answers)) for q in questions if q.id.startswith(f"en-{half}-") and q.answerable
        ]
        rows[half], counts[half] = sentence_rows(asked, assistant.retriever, k), len(asked)
    weights = [round(float(w), 2) for w in fit_sentence_weights(rows["fit"])]
    accuracy = {
        half: {
            "fitted": round(top_sentence_accuracy(rows[half], np.array(weights), counts[half]), 4),
            "chinese_weights": round(top_sentence_accuracy(rows[half], np.array(SENTENCE_WEIGHTS), counts[half]), 4),
        }
        for half in HALVES
    }
    return {"features": list(SENTENCE_FEATURES), "weights": weights, "top_sentence_accuracy": accuracy}


def support_score(assistant: Any, question: str, weights: Sequence[float]) -> float:
    """What the gate compares with the English threshold, with the sentences scored by ``weights``."""
    return assistant.assess(assistant.check_question(question), weights).support.score


def fit_report(rows: Sequence[dict[str, Any]], previous: float) -> dict[str, Any]:
    """The threshold fitted on the ``en-fit`` rows, and both halves' figures at it and at ``previous``."""
    halves = {h: [r for r in rows if r["id"].startswith(f"en-{h}-")] for h in HALVES}
    scores, answerable = _arrays(halves["fit"])
    threshold = round(stable_threshold(scores, answerable), 4)
    return {
        "threshold": threshold,
        "previous_threshold": previous,
        "halves": {
            h: {"new": operating_point(rs, threshold), "previous": operating_point(rs, previous)}
            for h, rs in halves.items()
        },
        "rows": list(rows),
    }


def _arrays(rows: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([r["score"] for r in rows], dtype=float), np.array([r["answerable"] for r in rows], dtype=bool)


def operating_point(rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    scores, answerable = _arrays(rows)
    answered = scores >= threshold
    return {
        "questions": len(rows),
        "auc": round(auc(scores, answerable.astype(float)), 4),
        "answerable_answered": round(float(answered[answerable].mean()), 4),
        "unanswerable_refused": round(float((~answered[~answerable]).mean()), 4),
    }


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# English questions: support threshold",
        "",
        f"Fitted threshold (cosine of the best sentence, strictness 0.5): **{report['threshold']}**"
        f" (was {report['previous_threshold']}).",
        "Fitted on the `en-fit` half of eval/english_questions.jsonl, measured on the `en-test` half;"
        " a support decision only (whether the quote then holds the answer is in the eval report).",
        "",
        "| half | questions | AUC | answerable answered (new / old threshold) | unanswerable refused (new / old) |",
        "|---|---:|---:|---:|---:|",
    ]
    for half, r in report["halves"].items():
        new, old = r["new"], r["previous"]
        lines.append(
            f"| {half} | {new['questions']} | {new['auc']:.3f} | {new['answerable_answered']:.1%} /"
            f" {old['answerable_answered']:.1%} | {new['unanswerable_refused']:.1%} / {old['unanswerable_refused']:.1%} |"
        )
    s = report.get("sentence_scorer")
    if s:
        lines += [
            "",
            "## English sentence scorer",
            "",
            "Logistic regression (does the sentence hold the answer?) on the sentences of the top 5 passages of the"
            " answerable `en-fit` questions; the share of answerable questions whose best sentence holds the answer:",
            "",
            "| half | fitted English weights | the Chinese (CMRC2018) weights |",
            "|---|---:|---:|",
            *(
                f"| {h} | {a['fitted']:.1%} | {a['chinese_weights']:.1%} |"
                for h, a in s["top_sentence_accuracy"].items()
            ),
            "",
            "| feature | weight |",
            "|---|---:|",
            *(f"| {f} | {w} |" for f, w in zip(s["features"], s["weights"], strict=True)),
        ]
    return "\n".join(lines) + "\n"
