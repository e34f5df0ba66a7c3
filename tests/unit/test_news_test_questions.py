"""Sanity checks for the held-out news test set (eval/news_test_questions.jsonl).

120 Chinese questions on 40 CRUD-RAG news stories (named by ``FILE:LINE`` in ../shared/data, never
copied here), three per story: 60 answerable and 60 near misses whose answer the story does not hold.
The set was written from the stories only, without seeing the system. None of its stories is used by
the development, training or English sets, nor shares a 20-character run with their stories, and the
file is frozen by its sha256 in eval/splits.json.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.datasets import crud_rag_references
from eval.scoring import contains

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "news_test_questions.jsonl"
OTHERS = [
    ROOT / "eval" / name
    for name in ("news_dev_questions.jsonl", "news_train_questions.jsonl", "english_questions.jsonl")
]
SPLITS = ROOT / "eval" / "splits.json"
NEWS = ROOT.parent / "shared" / "data" / "crud_rag" / "80000_docs"

ANSWERABLE_KINDS = {"plain", "colloquial", "why_how", "list", "two_facts"}
NEAR_MISS_KINDS = {"other_period", "neighbouring_category", "unnamed_entity", "figure_not_given", "place_not_covered"}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _require_news() -> None:
    if not NEWS.exists():
        pytest.fail(f"共享评测数据缺失：{NEWS}。请把 shared/ 放在仓库旁边（../shared/data）后再运行。")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return _read(QUESTIONS)


@pytest.fixture(scope="module")
def others() -> list[dict]:
    return [r for path in OTHERS for r in _read(path)]


def test_schema_and_balance(records: list[dict]) -> None:
    assert len(records) == len({r["id"] for r in records}) == 120
    assert [r["id"] for r in records] == [f"news-t-{i:03d}" for i in range(1, 121)]
    assert all(re.fullmatch(r"news-t-\d{3}", r["id"]) and r["question"].strip() for r in records)
    assert all(list(r) == ["id", "question", "answerable", "answers", "evidence", "doc", "kind"] for r in records)
    answerable = [r for r in records if r["answerable"]]
    assert len(answerable) == 60
    assert all(r["answers"] and r["evidence"] for r in answerable)
    assert all(not r["answers"] and not r["evidence"] for r in records if not r["answerable"])
    assert all(r["kind"] in (ANSWERABLE_KINDS if r["answerable"] else NEAR_MISS_KINDS) for r in records)
    assert set(Counter(r["doc"] for r in records).values()) == {3}
    assert len({r["doc"] for r in records}) == 40


def test_answers_and_evidence_are_in_the_named_document(records: list[dict]) -> None:
    _require_news()
    refs = sorted({r["doc"] for r in records})
    texts = dict(zip(refs, (d.text for d in crud_rag_references(refs, NEWS)), strict=True))
    for r in records:
        doc = texts[r["doc"]]
        assert all(contains(doc, e) for e in r["evidence"]), r["id"]
        assert all(contains(doc, a) for a in r["answers"]), r["id"]
        if r["answerable"]:
            assert any(contains(e, a) for e in r["evidence"] for a in r["answers"]), r["id"]


def test_the_test_set_shares_no_story_with_the_other_sets(records: list[dict], others: list[dict]) -> None:
    assert not {r["doc"] for r in records} & {r["doc"] for r in others}
    _require_news()
    seen = {
        d.text[i : i + 20]
        for d in crud_rag_references(sorted({r["doc"] for r in records}), NEWS)
        for i in range(len(d.text) - 19)
    }
    for d in crud_rag_references(sorted({r["doc"] for r in others}), NEWS):
        text = d.text.strip()
        assert not any(text[i : i + 20] in seen for i in range(len(text) - 19) if text[i : i + 20].strip()), text[:40]


def test_the_file_matches_its_frozen_hash() -> None:
    recorded = None
    if SPLITS.exists():
        recorded = json.loads(SPLITS.read_text(encoding="utf-8")).get("sources", {}).get("news-test", {}).get("sha256")
    if not recorded:
        pytest.skip("eval/splits.json 中没有 sources.news-test.sha256")
    assert hashlib.sha256(QUESTIONS.read_bytes()).hexdigest() == recorded
