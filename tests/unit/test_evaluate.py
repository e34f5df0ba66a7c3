"""The evaluation scorer, metrics and report on hand-made answer records."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from core.types import REFUSAL_TEXT
from eval.report import summary_table, worst_failures, write_report
from eval.scoring import (
    Question,
    _EmbeddingMemo,
    _Runner,
    bootstrap_intervals,
    contains,
    hit_rank,
    is_correct,
    load_questions,
    match_key,
    metrics,
    read_results,
    score_record,
    sweep_points,
)

ROOT = Path(__file__).resolve().parents[2]
SMALL_FIRMS = "数据显示，我国中小微企业数量已超过5200万户。"
DEPOSITS = "有关金融数据显示，2023年，人民币存款增加了25.74万亿，其中居民存款新增16.67万亿，是存款增加的主力军。"

Q_FIRMS = Question(
    "q1", "我国中小微企业有多少户？", True, answers=("5200万",), evidence=("我国中小微企业数量已超过5200万户",)
)
Q_NONE = Question("q2", "2023年祥符区的地区生产总值是多少？", False)


def citation(text: str, n: int = 1) -> dict[str, Any]:
    return {"n": n, "passage_id": f"p{n}", "doc": "seed.txt", "paragraph": n, "text": text, "quote": text[:10]}


def answer_record(answer: str, refused: bool = False, cited: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": "x",
        "question": "…",
        "answer": answer,
        "refused": refused,
        "citations": [citation(t, i) for i, t in enumerate(cited, start=1)],
        "retrieved": [],
        "latency_ms": 100.0,
    }


def scored(q: Question, answer: str, refused: bool = False, cited: tuple[str, ...] = (), **extra: Any) -> dict:
    record = answer_record(answer, refused, cited)
    return {**record, **score_record(q, record), **extra}


# ---------------------------------------------------------------- correctness


def test_refusal_on_an_answerable_question_is_wrong() -> None:
    assert not is_correct(Q_FIRMS, REFUSAL_TEXT, refused=True)
    # even if the refusal text happened to contain the answer
    assert not is_correct(Q_FIRMS, "5200万？" + REFUSAL_TEXT, refused=True)


def test_unanswerable_is_right_only_when_refused() -> None:
    assert is_correct(Q_NONE, REFUSAL_TEXT, refused=True)
    assert not is_correct(Q_NONE, "祥符区投资总额214.5亿元。[1]", refused=False)


def test_answer_containing_an_expected_answer_is_right() -> None:
    assert is_correct(Q_FIRMS, SMALL_FIRMS + "[1]", refused=False)
    assert not is_correct(Q_FIRMS, "科技型中小企业50万家。[1]", refused=False)


def test_full_width_digits_and_spaces_are_unified() -> None:
    assert is_correct(Q_FIRMS, "我国中小微企业数量已超过５２００万户。[1]", refused=False)
    assert is_correct(Q_FIRMS, "已超过 5200 万户。[1]", refused=False)
    spaced = Question("q", "高新技术企业有多少家？", True, answers=("46.5 万",))
    assert is_correct(spaced, "高新技术企业４６．５万家。", refused=False)
    assert match_key("Ａ Ｂ\u3000c\n１") == "abc1"


def test_citation_markers_are_not_part_of_the_answer() -> None:
    one = Question("q", "有几家？", True, answers=("1",))
    assert not is_correct(one, "共有十家企业。[1]", refused=False)
    assert is_correct(one, "共有1家企业。[2]", refused=False)


def test_traditional_and_simplified_match() -> None:
    q = Question("q", "陸特和漢斯雷頓開創了哪一地區對梵語的學術研究？", True, answers=("歐洲",))
    assert is_correct(q, "在欧洲，梵语的学术研究由德国学者开创。[1]", refused=False)
    assert contains("在歐洲，梵語的學術研究", "欧洲")


def test_rgb_every_required_group_must_match() -> None:
    q = Question(
        "r", "经营主体和个体工商户各有多少户？", True, answers=("1.81亿", "1.22亿"), required=(("1.81亿",), ("1.22亿",))
    )
    assert is_correct(q, "经营主体1.81亿户，个体工商户1.22亿户。[1]", refused=False)
    assert not is_correct(q, "经营主体1.81亿户。[1]", refused=False)
    alternatives = Question(
        "r2", "居民存款新增多少？", True, answers=("16.67万亿", "16.67万亿元"), required=(("16.67万亿元", "16.67万亿"),)
    )
    assert is_correct(alternatives, DEPOSITS, refused=False)


# ---------------------------------------------------------------- evidence and citations


def test_hit_rank_is_the_first_passage_with_an_evidence_quote() -> None:
    texts = ["科技型中小企业50万家。", DEPOSITS, "数据显示，我国中小微企业数量已超过 5200 万户。其中……"]
    assert hit_rank(Q_FIRMS, texts) == 3
    assert hit_rank(Q_FIRMS, texts[:2]) is None
    assert hit_rank(Q_NONE, texts) is None


def test_citation_to_the_wrong_paragraph_does_not_hit() -> None:
    wrong = scored(Q_FIRMS, "我国中小微企业数量已超过5200万户。[1]", cited=(DEPOSITS,))
    assert wrong["correct"]  # the text is right …
    assert wrong["citation_hits"] == 0  # … but it cites a passage without the evidence
    mixed = scored(Q_FIRMS, "…[1][2]", cited=(SMALL_FIRMS, DEPOSITS))
    assert mixed["citation_hits"] == 1


def test_score_record_carries_the_expectation() -> None:
    s = score_record(Q_FIRMS, answer_record(SMALL_FIRMS + "[1]", cited=(SMALL_FIRMS,)))
    assert s == {
        "answerable": True,
        "expected": ["5200万"],
        "required": [],
        "evidence": ["我国中小微企业数量已超过5200万户"],
        "correct": True,
        "citation_hits": 1,
    }


# ---------------------------------------------------------------- metrics


def _records() -> list[dict[str, Any]]:
    return [
        scored(
            Q_FIRMS,
            SMALL_FIRMS + "[1]",
            cited=(SMALL_FIRMS,),
            retrieval_hit_rank=1,
            latency_ms=100.0,
            compare={"bm25": 2, "dense": 1},
        ),
        scored(
            Q_FIRMS,
            "科技型中小企业50万家。[1][2]",
            cited=(SMALL_FIRMS, DEPOSITS),
            retrieval_hit_rank=3,
            latency_ms=200.0,
            compare={"bm25": None, "dense": 4},
        ),
        scored(
            Q_FIRMS,
            REFUSAL_TEXT,
            refused=True,
            retrieval_hit_rank=None,
            latency_ms=300.0,
            compare={"bm25": 1, "dense": None},
        ),
        scored(Q_NONE, REFUSAL_TEXT, refused=True, retrieval_hit_rank=None, latency_ms=400.0),
        scored(Q_NONE, "祥符区投资总额214.5亿元。[1]", cited=(DEPOSITS,), retrieval_hit_rank=None, latency_ms=500.0),
    ]


def test_metrics_on_hand_made_records() -> None:
    m = metrics(_records())
    assert m["n"] == 5 and m["n_answerable"] == 3 and m["n_unanswerable"] == 2
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert m["answerable_accuracy"] == pytest.approx(1 / 3)
    assert m["answered_accuracy"] == pytest.approx(1 / 2)
    assert m["refusal_rate_unanswerable"] == pytest.approx(1 / 2)
    assert m["false_refusal_rate"] == pytest.approx(1 / 3)
    assert m["refusal_precision"] == pytest.approx(1 / 2)
    # citations of answered answerable questions: 1 of 1, then 1 of 2
    assert m["citation_precision"] == pytest.approx(2 / 3)
    assert m["recall_at_1"] == pytest.approx(1 / 3)
    assert m["recall_at_5"] == pytest.approx(2 / 3)
    assert m["mrr_at_10"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["latency_ms_p50"] == pytest.approx(300.0)
    assert m["latency_ms_p95"] == pytest.approx(480.0)
    assert m["bm25_recall_at_1"] == pytest.approx(1 / 3)
    assert m["bm25_mrr_at_10"] == pytest.approx((1 / 2 + 1) / 3)
    assert m["dense_recall_at_5"] == pytest.approx(2 / 3)
    assert all(isinstance(v, float) for v in m.values())


def test_ratios_without_cases_are_nan() -> None:
    m = metrics([scored(Q_NONE, REFUSAL_TEXT, refused=True, retrieval_hit_rank=None)])
    assert m["refusal_rate_unanswerable"] == 1.0 and m["refusal_precision"] == 1.0
    for key in ("answerable_accuracy", "false_refusal_rate", "citation_precision", "recall_at_1", "mrr_at_10"):
        assert math.isnan(m[key]), key


def test_sweep_points() -> None:
    records = [
        {
            "answerable": True,
            "sweep": {"0.00": {"refused": False, "correct": True}, "1.00": {"refused": True, "correct": False}},
        },
        {
            "answerable": False,
            "sweep": {"0.00": {"refused": False, "correct": False}, "1.00": {"refused": True, "correct": True}},
        },
    ]
    points = sweep_points(records)
    assert [p["strictness"] for p in points] == [0.0, 1.0]
    assert points[0]["answerable_accuracy"] == 1.0 and points[0]["refusal_rate_unanswerable"] == 0.0
    assert points[1]["false_refusal_rate"] == 1.0 and points[1]["refusal_rate_unanswerable"] == 1.0


# ---------------------------------------------------------------- files


def test_read_results_drops_a_line_cut_by_an_interruption(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a", "correct": true}\n{"id": "b", "corr', encoding="utf-8")
    assert list(read_results(path)) == ["a"]
    assert path.read_text(encoding="utf-8") == '{"id": "a", "correct": true}\n'


def test_load_questions_reads_the_seed_set_and_names_a_bad_line(tmp_path: Path) -> None:
    questions = load_questions(ROOT / "eval" / "seed_questions.jsonl")
    assert len(questions) >= 80 and questions[0].id == "seed-001" and questions[0].answerable
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "answerable": true}\n{"id": "b"}\n', encoding="utf-8")
    with pytest.raises(Exception, match="第 2 行"):
        load_questions(bad)


class _CountingEmbedder:
    name, dim = "counting", 3

    def __init__(self) -> None:
        self.calls = 0

    def _vectors(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)

    embed_queries = embed_passages = _vectors


def test_embedding_memo_computes_while_recording_and_replays_after() -> None:
    inner = _CountingEmbedder()
    memo = _EmbeddingMemo(inner)
    first = memo.embed_passages(["甲乙", "丙"])
    memo.embed_passages(["甲乙", "丙"])
    assert inner.calls == 2  # recording: every call is computed, as in production
    memo.replay = True
    again = memo.embed_passages(["丙", "甲乙"])
    assert inner.calls == 2 and np.array_equal(again, first[::-1])
    memo.embed_queries(["新问题"])
    assert inner.calls == 3
    memo.clear()
    assert not memo.replay


def test_each_question_starts_with_a_cold_embedder_cache() -> None:
    class Cached(_CountingEmbedder):
        cleared = 0

        def clear_cache(self) -> None:
            self.cleared += 1

    cached = Cached()
    _Runner(SimpleNamespace(embedder=cached, learned=None), ()).cold_start()  # type: ignore[arg-type]
    assert cached.cleared == 1
    _Runner(SimpleNamespace(embedder=_CountingEmbedder(), learned=None), ()).cold_start()  # type: ignore[arg-type]
    reader_side = Cached()
    learned = SimpleNamespace(reader=SimpleNamespace(embedder=reader_side))
    _Runner(SimpleNamespace(embedder=cached, learned=learned), ()).cold_start()  # type: ignore[arg-type]
    assert cached.cleared == 2 and reader_side.cleared == 1  # the learned reader's own encoder too


# ---------------------------------------------------------------- report


def test_report_files_and_worst_failures(tmp_path: Path) -> None:
    records = _records()
    for r, s in zip(records, (0.9, 0.8, 0.3, 0.1, 0.95), strict=True):
        r["support_confidence"] = s
        r["question"] = "问题" + str(s)
    worst = worst_failures(records)
    assert [r["support_confidence"] for r in worst] == [0.95, 0.8, 0.3]  # answered unanswerable, wrong, refused
    m = metrics(records)
    sweep = [
        {"strictness": 0.0, "answerable_accuracy": 0.5, "false_refusal_rate": 0.0, "refusal_rate_unanswerable": 0.2},
        {"strictness": 1.0, "answerable_accuracy": 0.1, "false_refusal_rate": 0.9, "refusal_rate_unanswerable": 1.0},
    ]
    info = {"dataset": "eval/x.jsonl", "format": "jsonl", "mode": "extractive", "strictness": 0.5, "limit": None}
    paths = write_report(tmp_path, m, records, sweep, info)
    data = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert data["n"] == 5 and data["settings"]["strictness"] == 0.5
    assert data["retrieval_comparison"]["dense"]["recall_at_5"] == pytest.approx(2 / 3)
    assert data["strictness_sweep"][1]["false_refusal_rate"] == 0.9
    markdown = (tmp_path / "report.md").read_text("utf-8")
    assert "| `answerable_accuracy` |" in markdown and "![strictness](strictness.png)" in markdown
    assert "回答了不可回答的问题" in markdown and "误拒" in markdown
    assert "95 % 区间" in markdown and set(data["intervals_95"]) >= {"accuracy", "answerable_accuracy"}
    for png in paths[2:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    table = summary_table(m)
    assert "answerable_accuracy" in table and "0.333" in table and "bm25" in table


def test_report_json_has_no_nan(tmp_path: Path) -> None:
    records = [scored(Q_NONE, REFUSAL_TEXT, refused=True, retrieval_hit_rank=None)]
    write_report(tmp_path, metrics(records), records, [], {"dataset": "d", "format": "rgb", "strictness": 0.5})
    text = (tmp_path / "report.json").read_text("utf-8")
    assert "NaN" not in text and json.loads(text)["answerable_accuracy"] is None


def test_answers_saved_by_other_code_are_set_aside_not_resumed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.errors import ConfigError
    from eval.cli import _check_resume, code_version

    settings = {"dataset": "q.jsonl", "strictness": 0.5}
    _check_resume(tmp_path, {**settings, "code": "old"})
    (tmp_path / "results.jsonl").write_text('{"id": "q1"}\n', "utf-8")

    _check_resume(tmp_path, {**settings, "code": "old"})  # same code and settings: resumed
    assert (tmp_path / "results.jsonl").exists()

    with pytest.raises(ConfigError, match="strictness"):  # other settings: refused, nothing moved
        _check_resume(tmp_path, {**settings, "strictness": 0.9, "code": "old"})
    assert (tmp_path / "results.jsonl").exists()

    _check_resume(tmp_path, {**settings, "code": "new"})  # other code: start afresh, old answers kept aside
    assert not (tmp_path / "results.jsonl").exists()
    assert (tmp_path / "results.previous.jsonl").read_text("utf-8") == '{"id": "q1"}\n'
    assert len(code_version()) == 16 and code_version() == code_version()


def test_bootstrap_intervals_hold_the_figure_and_narrow_with_more_questions() -> None:
    def records(n: int) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for i in range(n):
            answerable = i % 2 == 0
            right = i % 4 != 2  # 3 of 4 right overall: every answerable one but half, every refusal right
            rows.append(
                {
                    "answerable": answerable,
                    "refused": not answerable or not right,
                    "correct": right,
                    "evidence": ["x"] if answerable else [],
                    "citations": [{"n": 1}] if answerable and right else [],
                    "citation_hits": 1 if answerable and right else 0,
                }
            )
        return rows

    small, large = bootstrap_intervals(records(40)), bootstrap_intervals(records(400))
    assert metrics(records(40))["answerable_accuracy"] == pytest.approx(0.5)
    for key in ("accuracy", "answerable_accuracy"):
        figure = metrics(records(400))[key]
        assert large[key][0] <= figure <= large[key][1]
        assert large[key][1] - large[key][0] < small[key][1] - small[key][0]
    assert large["refusal_rate_unanswerable"] == (1.0, 1.0)  # every unanswerable one refused in every resample
    assert bootstrap_intervals(records(40)) == small  # seeded: the same report twice
