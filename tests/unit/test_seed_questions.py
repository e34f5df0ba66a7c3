"""Sanity checks for the seed evaluation question set (eval/seed_questions.jsonl)."""

import json
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_PATH = ROOT / "eval" / "seed_questions.jsonl"
SEED_PATH = ROOT / "seeds" / "000_90d63b1abeeeb38e.txt"

EXPECTED_KEYS = {"id", "question", "answerable", "answers", "evidence"}
ID_PATTERN = re.compile(r"^(seed|multi)-\d{3}$")
ASCII_LETTER = re.compile(r"[A-Za-z]")


def _normalise(text: str) -> str:
    """NFKC-normalise (unifies full-width characters) and drop all whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _is_english(question: str) -> bool:
    chars = [c for c in question if not c.isspace()]
    letters = ASCII_LETTER.findall(question)
    return bool(chars) and len(letters) / len(chars) > 0.6


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    rows = []
    for lineno, line in enumerate(QUESTIONS_PATH.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:  # pragma: no cover - failure path
            pytest.fail(f"line {lineno} is not valid JSON: {exc}")
    return rows


def test_schema(records: list[dict]) -> None:
    for rec in records:
        assert isinstance(rec, dict)
        assert set(rec) == EXPECTED_KEYS, rec
        assert isinstance(rec["id"], str) and ID_PATTERN.match(rec["id"]), rec["id"]
        assert isinstance(rec["question"], str) and rec["question"].strip(), rec["id"]
        assert isinstance(rec["answerable"], bool), rec["id"]
        for key in ("answers", "evidence"):
            assert isinstance(rec[key], list), (rec["id"], key)
            assert all(isinstance(x, str) and x.strip() for x in rec[key]), (rec["id"], key)


def test_unique_ids(records: list[dict]) -> None:
    ids = [rec["id"] for rec in records]
    assert len(ids) == len(set(ids))


def test_unique_questions(records: list[dict]) -> None:
    questions = [rec["question"] for rec in records]
    assert len(questions) == len(set(questions))


def test_evidence_is_verbatim(records: list[dict], seed_text: str) -> None:
    seed_lines = seed_text.splitlines()
    for rec in records:
        for quote in rec["evidence"]:
            assert quote in seed_text, (rec["id"], quote)
            assert any(quote in line for line in seed_lines), (rec["id"], quote)
            assert 8 <= len(quote) <= 40, (rec["id"], quote)


def test_answers_are_grounded(records: list[dict], seed_text: str) -> None:
    normalised_seed = _normalise(seed_text)
    for rec in records:
        if rec["answerable"]:
            for answer in rec["answers"]:
                assert _normalise(answer) in normalised_seed, (rec["id"], answer)


def test_answerable_have_answers_and_evidence(records: list[dict]) -> None:
    for rec in records:
        if rec["answerable"]:
            assert len(rec["answers"]) >= 1, rec["id"]
            assert len(rec["evidence"]) >= 1, rec["id"]
        else:
            assert rec["answers"] == [], rec["id"]
            assert rec["evidence"] == [], rec["id"]


def test_multi_paragraph_questions(records: list[dict]) -> None:
    multi = [rec for rec in records if rec["id"].startswith("multi-")]
    assert len(multi) >= 8
    for rec in multi:
        assert rec["answerable"], rec["id"]
        assert len(rec["answers"]) >= 1 and len(rec["evidence"]) >= 2, rec["id"]


def test_set_size_and_mix(records: list[dict]) -> None:
    assert len(records) >= 80
    unanswerable = sum(1 for rec in records if not rec["answerable"])
    assert unanswerable / len(records) >= 0.30
    english = sum(1 for rec in records if _is_english(rec["question"]))
    assert english >= 6
