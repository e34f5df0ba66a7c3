"""Every data source and its role: train, validation or test.

Features, thresholds and model choices are made on validation only; test
splits are run when a piece of work is finished and never mined for failures.
SQuAD-style sets are split by article (a hash of its title), so that no
article's paragraphs sit on both sides. ``eval/splits.json`` (written by
``python -m learn splits``) records the roles and the hash of every file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.text import to_simplified
from eval.datasets import title_bucket

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLITS = ROOT / "eval" / "splits.json"


@dataclass(frozen=True)
class Source:
    name: str
    path: str  # relative to the repository root
    role: str  # train | validation | test | regression
    buckets: tuple[int, int] = (0, 10)  # article-hash buckets [lo, hi) of the file this source takes
    note: str = ""
    ids: str = ""  # for a question file shared by several sources: the id prefix of this one's questions


SOURCES = (
    Source("cmrc2018-trial", "../shared/data/cmrc2018/cmrc2018_trial.json", "train"),
    Source("cmrc2018-dev", "../shared/data/cmrc2018/cmrc2018_dev.json", "train"),
    Source("drcd-dev-train", "../shared/data/drcd/DRCD_dev.json", "train", (0, 6)),
    Source("drcd-dev-val", "../shared/data/drcd/DRCD_dev.json", "validation", (6, 10)),
    Source("chinese-squad2-train", "../shared/data/chinese_squad2/dev-v2.0-zh.json", "train", (0, 7)),
    Source("chinese-squad2-val", "../shared/data/chinese_squad2/dev-v2.0-zh.json", "validation", (7, 10)),
    Source("dureader-train", "../shared/data/dureader_checklist/dev.json", "train", (0, 5)),
    Source("dureader-val", "../shared/data/dureader_checklist/dev.json", "validation", (5, 7)),
    Source("dureader-test", "../shared/data/dureader_checklist/dev.json", "test", (7, 10)),
    Source("drcd-test", "../shared/data/drcd/DRCD_test.json", "test", note="traditional, read as simplified"),
    Source("news-train", "eval/news_train_questions.jsonl", "train", note="CRUD-RAG stories"),
    Source("news-a", "eval/news_dev_questions.jsonl", "validation", note="ids news-a-*", ids="news-a-"),
    Source("news-b", "eval/news_dev_questions.jsonl", "test", note="ids news-b-*", ids="news-b-"),
    Source("quotes-a", "eval/quote_questions.jsonl", "validation", note="pasted sentences from news-a stories"),
    Source("news-test", "eval/news_test_questions.jsonl", "test", note="written before the learned reader"),
    Source("en-fit", "eval/english_questions.jsonl", "validation", note="ids en-fit-*", ids="en-fit-"),
    Source("en-test", "eval/english_questions.jsonl", "test", note="ids en-test-*", ids="en-test-"),
    Source("seed", "eval/seed_questions.jsonl", "regression", note="in-sample: written alongside the system"),
)


def source(name: str) -> Source:
    for s in SOURCES:
        if s.name == name:
            return s
    raise KeyError(f"unknown source {name!r}; known: {', '.join(s.name for s in SOURCES)}")


def bucket(key: str) -> int:
    return title_bucket(key)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Item:
    """One SQuAD-style question with its context (simplified Chinese)."""

    qid: str
    question: str
    answers: tuple[str, ...]  # empty: unanswerable
    title: str
    context: str


def squad_items(src: Source) -> list[Item]:
    """The questions of a SQuAD-style source whose article falls in its buckets."""
    data = json.loads((ROOT / src.path).read_text(encoding="utf-8"))
    simplify = "drcd" in src.name
    lo, hi = src.buckets
    items = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            title = str(para.get("title") or article.get("title") or "")
            if not lo <= bucket(title) < hi:
                continue
            context = str(para["context"])
            for qa in para["qas"]:
                answers = (
                    ()
                    if qa.get("is_impossible")
                    else tuple(dict.fromkeys(a["text"].strip() for a in qa.get("answers", []) if a["text"].strip()))
                )
                if not qa.get("is_impossible") and not answers:
                    continue
                item = Item(str(qa["id"]), str(qa["question"]), answers, title, context)
                if simplify:
                    item = Item(
                        item.qid,
                        to_simplified(item.question),
                        tuple(to_simplified(a) for a in answers),
                        to_simplified(title),
                        to_simplified(context),
                    )
                items.append(item)
    return items


def splits_record() -> dict[str, Any]:
    """What ``eval/splits.json`` holds: each source's role, file, buckets and file hash."""
    out: dict[str, Any] = {"sources": {}}
    for s in SOURCES:
        path = ROOT / s.path
        out["sources"][s.name] = {
            "role": s.role,
            "path": s.path,
            "buckets": list(s.buckets),
            "sha256": file_sha256(path) if path.exists() else None,
            "note": s.note,
        }
    return out


def splits_markdown(record: dict[str, Any]) -> str:
    lines = [
        "# Data roles",
        "",
        "Written by `python -m learn splits`. Features, thresholds and model choices are made on **validation**",
        "only; **test** splits are run when a piece of work is finished and never mined for failures;",
        "**regression** is the seed set, in-sample. SQuAD-style files are split by article-title hash",
        "(`sha1(title) % 10` in the buckets shown).",
        "",
        "| source | role | file | buckets | sha256 | note |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in record["sources"].items():
        sha = (s["sha256"] or "missing")[:16]
        lines.append(
            f"| {name} | {s['role']} | `{s['path']}` | {s['buckets'][0]}–{s['buckets'][1] - 1} | {sha}… | {s['note']} |"
        )
    return "\n".join(lines) + "\n"
