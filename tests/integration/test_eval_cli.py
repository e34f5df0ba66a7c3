"""``python -m qa eval`` end to end, and ``evaluate`` on the real seed index.

Everything is real: the e5 model, FAISS, the seed document, the shared
benchmark files. The figures themselves depend on the gate and answerer, so
these tests check the contract and properties that hold whatever they are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eval.datasets import load_rgb, scope_for, spread, write_corpus
from eval.scoring import contains, evaluate, load_questions, run_questions

ROOT = Path(__file__).resolve().parents[2]
MODEL_CACHE = ROOT / ".cache" / "models"
SEED_QUESTIONS = ROOT / "eval" / "seed_questions.jsonl"
RGB_SAMPLE = ROOT / "tests" / "data" / "rgb_sample.jsonl"
CMRC = ROOT.parent / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json"
REPORT_KEYS = (
    "n",
    "answerable_accuracy",
    "refusal_rate_unanswerable",
    "false_refusal_rate",
    "refusal_precision",
    "citation_precision",
    "recall_at_1",
    "recall_at_5",
    "mrr_at_10",
    "latency_ms_p50",
    "latency_ms_p95",
)
RECORD_KEYS = (
    "id",
    "question",
    "answer",
    "refused",
    "citations",
    "retrieved",
    "latency_ms",
    "correct",
    "retrieval_hit_rank",
    "answerable",
)

pytestmark = pytest.mark.integration


def run_eval(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YIJU_MODEL_CACHE_DIR": str(MODEL_CACHE)}
    return subprocess.run(
        [sys.executable, "-m", "qa", "eval", *map(str, args), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def records_of(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text("utf-8").splitlines()]


@pytest.mark.slow
def test_seed_set_end_to_end_then_resume(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = (SEED_QUESTIONS, "--limit", "12", "--build-index", "--out", out, "--compare", "bm25,dense,hybrid")
    done = run_eval(*args)
    assert done.returncode == 0, done.stderr

    expected_ids = [q.id for q in spread(load_questions(SEED_QUESTIONS), 12)]
    records = records_of(out)
    assert [r["id"] for r in records] == expected_ids
    for r in records:
        assert all(k in r for k in RECORD_KEYS), r.keys()
        assert r["correct"] in (True, False)
        assert r["retrieval_hit_rank"] is None or 1 <= r["retrieval_hit_rank"] <= 10
        assert set(r["compare"]) == ({"bm25", "dense", "hybrid"} if r["evidence"] else set())
        # the sweep at the configured strictness is the same extractive run as the answer itself
        assert r["sweep"]["0.50"]["refused"] == r["refused"], r["id"]
    assert {r["answerable"] for r in records} == {True, False}

    report = json.loads((out / "report.json").read_text("utf-8"))
    for key in REPORT_KEYS:
        assert key in report, key
    assert report["n"] == 12
    for key in REPORT_KEYS[1:-2]:
        assert report[key] is None or 0.0 <= report[key] <= 1.0, key
    assert report["latency_ms_p95"] >= report["latency_ms_p50"] > 0
    assert report["settings"]["limit"] == 12 and report["settings"]["mode"] == "extractive"
    assert report["settings"]["strictness"] == 0.5 and report["settings"]["top_k"] == 5
    assert set(report["retrieval_comparison"]) == {"bm25", "dense", "hybrid"}
    assert [p["strictness"] for p in report["strictness_sweep"]] == [i / 10 for i in range(11)]
    answerable = [r for r in records if r["answerable"]]
    assert report["answerable_accuracy"] == pytest.approx(sum(r["correct"] for r in answerable) / len(answerable))

    markdown = (out / "report.md").read_text("utf-8")
    assert "| `recall_at_5` |" in markdown and "![latency](latency.png)" in markdown
    for png in ("strictness.png", "latency.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert "answerable_accuracy" in done.stdout and "hybrid" in done.stdout

    # an interrupted run: the last four answers are lost; the rerun asks only those
    lines = (out / "results.jsonl").read_text("utf-8").splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:8]) + lines[8][:30], encoding="utf-8")
    again = run_eval(*args)
    assert again.returncode == 0, again.stderr
    assert "新向量化 0" in again.stderr  # the index was reused, not embedded again
    after = (out / "results.jsonl").read_text("utf-8").splitlines(keepends=True)
    assert after[:8] == lines[:8]
    assert [json.loads(line)["id"] for line in after] == expected_ids

    # other settings into the same folder cannot resume
    changed = run_eval(*args, "--strictness", "0.9")
    assert changed.returncode == 1 and "strictness" in changed.stderr


def test_squad_with_distractors_and_a_missing_corpus(tmp_path: Path) -> None:
    if not CMRC.exists():
        pytest.fail(f"共享评测数据缺失：{CMRC}；请把 shared/ 放在仓库旁边（../shared/data）。")
    out = tmp_path / "cmrc"
    done = run_eval(CMRC, "--limit", "3", "--distractors", "4", "--build-index", "--out", out)
    assert done.returncode == 0, done.stderr
    records = records_of(out)
    assert len(records) == 3 and all(r["answerable"] and r["evidence"] for r in records)
    corpus = sorted(p.name for p in (out / "corpus").iterdir())
    assert sum(n.startswith("ctx_") for n in corpus) == 3 and sum(n.startswith("crud_") for n in corpus) == 4
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["settings"]["format"] == "squad" and report["settings"]["index_documents"] == 7

    # an index that does not hold the corpus is refused before anything is asked
    wrong = run_eval(CMRC, "--limit", "5", "--index", out / "index", "--out", tmp_path / "other")
    assert wrong.returncode == 1 and "--build-index" in wrong.stderr


def test_evaluate_contract_on_the_seed_index(assistant) -> None:  # type: ignore[no-untyped-def]
    questions = spread(load_questions(SEED_QUESTIONS), 6)
    figures = evaluate(assistant, questions, compare=("bm25", "dense"))
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in figures.items())
    for key in (*REPORT_KEYS, "bm25_recall_at_1", "dense_mrr_at_10"):
        assert key in figures, key
    assert figures["n"] == 6.0


def test_rgb_questions_see_only_their_own_passages(tmp_path: Path, embedder, model_settings) -> None:  # type: ignore[no-untyped-def]
    from ingest.index import load_index
    from ingest.pipeline import ingest
    from qa.assistant import Assistant

    settings = model_settings.replace(data_dir=tmp_path, index_dir=tmp_path / "index")
    answers = {q.id: q.answers for q in load_rgb(RGB_SAMPLE).questions}
    for negative_only in (False, True):
        dataset = load_rgb(RGB_SAMPLE, negative_only=negative_only)
        write_corpus(dataset.documents, tmp_path / f"corpus-{negative_only}")
        ingest([tmp_path / f"corpus-{negative_only}"], settings, embedder, rebuild=True)
        index = load_index(settings.resolved_index_dir)
        assert dataset.scopes is not None
        scopes = dataset.scopes
        assistant = Assistant(settings, embedder, index=index)
        records = list(run_questions(assistant, dataset.questions, scope=scope_for(index, scopes), strictness_grid=()))
        assert [r["id"] for r in records] == ["0", "1", "2", "3", "4"]
        for r in records:
            assert {p["doc"] for p in r["retrieved"]} <= scopes[r["id"]]
            if negative_only:
                assert not r["answerable"]
                assert not any(contains(p["text"], a) for p in r["retrieved"] for a in answers[r["id"]])
            else:
                assert r["retrieval_hit_rank"] is not None  # a view has fewer than 10 passages
