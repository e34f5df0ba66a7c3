"""Sanity checks for the news question sets (eval/news_dev_questions.jsonl, eval/news_train_questions.jsonl,
eval/english_questions.jsonl).

Their documents are CRUD-RAG news in ../shared/data (named by ``FILE:LINE``, never copied here);
every answer and evidence quote must be in the document its question names, and no training
story is an evaluation story.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval.datasets import crud_rag_references
from eval.scoring import contains

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "news_dev_questions.jsonl"
TRAINING = ROOT / "eval" / "news_train_questions.jsonl"
ENGLISH = ROOT / "eval" / "english_questions.jsonl"
NEWS = ROOT.parent / "shared" / "data" / "crud_rag" / "80000_docs"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return _read(QUESTIONS)


@pytest.fixture(scope="module")
def training() -> list[dict]:
    return _read(TRAINING)


@pytest.fixture(scope="module")
def english() -> list[dict]:
    return _read(ENGLISH)


def test_schema_and_balance(records: list[dict]) -> None:
    assert len(records) == len({r["id"] for r in records}) == 120
    assert all(re.fullmatch(r"news-[ab]-\d{3}", r["id"]) and r["question"].strip() for r in records)
    answerable = [r for r in records if r["answerable"]]
    assert len(answerable) == 80
    assert all(r["answers"] and r["evidence"] for r in answerable)
    assert all(not r["answers"] and not r["evidence"] for r in records if not r["answerable"])


def test_the_training_set_shares_no_story_with_the_evaluation_set(records: list[dict], training: list[dict]) -> None:
    assert len(training) == len({r["id"] for r in training}) == 240
    assert all(re.fullmatch(r"train-[ab]-\d{3}", r["id"]) for r in training)
    assert not {r["doc"] for r in training} & {r["doc"] for r in records}
    if not NEWS.exists():
        pytest.fail(f"共享评测数据缺失：{NEWS}。请把 shared/ 放在仓库旁边（../shared/data）后再运行。")
    seen = {
        d.text[i : i + 20]
        for d in crud_rag_references(sorted({r["doc"] for r in records}), NEWS)
        for i in range(0, len(d.text) - 20, 10)
    }
    for d in crud_rag_references(sorted({r["doc"] for r in training}), NEWS):
        text = d.text.strip()
        assert not any(text[i : i + 20] in seen for i in range(len(text) - 20) if text[i : i + 20].strip()), text[:40]


def test_the_english_set_has_two_halves_on_stories_of_their_own(
    english: list[dict], records: list[dict], training: list[dict]
) -> None:
    assert len(english) == len({r["id"] for r in english}) == 120
    halves = {h: [r for r in english if r["id"].startswith(f"en-{h}-")] for h in ("fit", "test")}
    assert [len(v) for v in halves.values()] == [60, 60]
    for rows in halves.values():
        assert sum(r["answerable"] for r in rows) == 40
        assert all(
            re.search(r"[A-Za-z]", r["question"]) and not re.search(r"[\u4e00-\u9fff]", r["question"]) for r in rows
        )
    assert not {r["doc"] for r in halves["fit"]} & {r["doc"] for r in halves["test"]}
    assert not {r["doc"] for r in english} & {r["doc"] for r in records + training}


@pytest.mark.parametrize("which", ["records", "training", "english"])
def test_answers_and_evidence_are_in_the_named_document(which: str, request: pytest.FixtureRequest) -> None:
    records = request.getfixturevalue(which)
    if not NEWS.exists():
        pytest.fail(f"共享评测数据缺失：{NEWS}。请把 shared/ 放在仓库旁边（../shared/data）后再运行。")
    refs = sorted({r["doc"] for r in records})
    texts = dict(zip(refs, (d.text for d in crud_rag_references(refs, NEWS)), strict=True))
    for r in records:
        doc = texts[r["doc"]]
        assert all(contains(doc, e) for e in r["evidence"]), r["id"]
        assert all(contains(doc, a) for a in r["answers"]), r["id"]
        if r["answerable"]:
            assert any(contains(e, a) for e in r["evidence"] for a in r["answers"]), r["id"]
