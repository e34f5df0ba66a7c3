"""The learned reader and gate: features, the artefact's checks, the strictness map, composition."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from core.types import Passage, ScoredPassage
from qa.analysis import analyse, answer_kind, numbers_in
from qa.compose import choose, compose
from qa.extractive import SentenceHit
from qa.gate import GATE_FEATURES, gate_features, refusal_reason, threshold_for
from qa.models import ARTEFACT, load_models
from qa.read import SENTENCE_FEATURES, Reading, candidates_of, sentence_features


def _scored(text: str, title: str = "标题", score: float = 0.03, dense: float = 0.8) -> ScoredPassage:
    p = Passage("p" + str(len(text)), "d", "d.txt", title, 1, 1, 1, 0, len(text), text)
    return ScoredPassage(p, score, dense_score=dense, keyword_score=1.0)


def test_analysis_finds_numbers_names_and_the_kind_of_answer() -> None:
    a = analyse("2023年上海市有多少家中小企业？")
    assert a.numbers == ("2023",)
    assert "上海市" in a.names
    assert a.kind == "quantity"
    assert {t.text for t in a.terms} >= {"中小企业"}
    assert answer_kind("会议在什么时候召开？") == "time" and answer_kind("为什么要这样做？") == "reason"
    assert numbers_in("共1,200人，占3.5%") == ("1200", "3.5")


def test_sentence_features_read_what_the_sentence_holds() -> None:
    retrieved = [_scored("全市共有中小企业5200家。今天的天气非常好。"), _scored("另一段没有相关内容。", score=0.01)]
    a = analyse("全市有多少家中小企业？")
    cands = candidates_of(retrieved)
    rows = sentence_features(a, retrieved, cands, np.array([0.9, 0.5, 0.4]))
    assert rows.shape == (3, len(SENTENCE_FEATURES))
    col = {f: i for i, f in enumerate(SENTENCE_FEATURES)}
    assert rows[0, col["coverage"]] == pytest.approx(1.0)
    assert rows[1, col["coverage"]] == 0.0
    assert rows[0, col["has_digit"]] == 1.0 and rows[1, col["has_digit"]] == 0.0
    assert rows[0, col["dense_rank"]] == 1.0 and rows[0, col["dense_gap"]] == 0.0
    assert rows[2, col["rank"]] == pytest.approx(0.2)
    assert rows[0, col["kind_quantity"]] == 1.0


def test_gate_features_take_the_best_sentence_and_all_passages() -> None:
    retrieved = [_scored("全市共有中小企业5200家。今天的天气非常好。")]
    a = analyse("2021年全市有多少家中小企业？")
    cands = candidates_of(retrieved)
    rows = sentence_features(a, retrieved, cands, np.array([0.9, 0.5]))
    row = gate_features(Reading(a, tuple(cands), rows, np.array([0.8, 0.1])), retrieved)
    col = {f: i for i, f in enumerate(GATE_FEATURES)}
    assert row.shape == (len(GATE_FEATURES),)
    assert row[col["p1"]] == pytest.approx(0.8) and row[col["margin"]] == pytest.approx(0.7)
    assert row[col["all_numbers"]] == 0.0  # 2021 is in no passage
    missing, reason = refusal_reason(a, retrieved)
    assert missing == ("2021",) and "2021" in reason


def test_strictness_moves_the_threshold_monotonically_through_the_fitted_point() -> None:
    values = [threshold_for(0.4, s / 10) for s in range(11)]
    assert values == sorted(values)
    assert values[5] == pytest.approx(0.4) and values[0] == pytest.approx(0.02) and values[-1] == pytest.approx(0.98)
    assert threshold_for(0.4, -1) == values[0] and threshold_for(0.4, 9) == values[-1]


def _hit(rank: int, start: int, text: str, score: float) -> SentenceHit:
    return SentenceHit(rank, start, start + len(text), text, 0.5, 0.5, score)


def test_a_list_question_gathers_the_points_of_the_best_passage_in_order() -> None:
    hits = [
        _hit(0, 10, "二是减税。", 0.9),
        _hit(0, 0, "一是补贴。", 0.6),
        _hit(1, 0, "别的段落。", 0.8),
        _hit(0, 20, "天气。", 0.1),
    ]
    assert [h.text for h in choose(hits, "list")] == ["一是补贴。", "二是减税。"]
    assert [h.text for h in choose(hits, "quantity")] == ["二是减税。"]
    assert compose(choose(hits, "list")) == "一是补贴。[1]二是减税。[1]"
    assert choose([], "list") == []


def test_the_shipped_artefact_loads_and_matches_the_code() -> None:
    models = load_models(embedder_name="multilingual-e5-small [onnx-int8-v2]")
    assert models.sentence_features == SENTENCE_FEATURES and models.gate_features == GATE_FEATURES
    assert 0.0 < models.threshold < 1.0
    assert ARTEFACT.stat().st_size < 25 * 1024 * 1024
    probs = models.reader.predict(np.zeros((2, len(SENTENCE_FEATURES))))
    assert probs.shape == (2,) and ((probs >= 0) & (probs <= 1)).all()


def test_an_artefact_for_another_model_or_other_features_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="当前向量模型为 bge-small"):
        load_models(embedder_name="bge-small")
    data = json.loads(ARTEFACT.read_text(encoding="utf-8"))
    data["sentence_features"] = data["sentence_features"][:-1]
    other = tmp_path / "answering.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="train-reader"):
        load_models(other)
    with pytest.raises(ConfigError, match="找不到"):
        load_models(tmp_path / "missing.json")


def test_phrase_first_moves_passages_holding_the_query_word_for_word_to_the_front() -> None:
    from qa.retrieve import phrase_first, phrase_share

    quote = "实体店带来了巨大的冲击和影响"
    results = [_scored("实体店的数量逐年减少。"), _scored("网购给实体店带来了巨大的冲击和影响。"), _scored("无关。")]
    assert phrase_share(quote, results[1].passage.text) == 1.0
    assert phrase_first(quote, results)[0].passage.text == results[1].passage.text
    question = "实体店面临哪些困难？"
    assert phrase_first(question, results) == results  # an ordinary question keeps the fused order
    assert phrase_share("太短了", "太短了") == 0.0


def test_phrase_first_skips_the_alignment_only_where_the_share_cannot_reach_the_bar() -> None:
    import random

    from qa.retrieve import PHRASE_SHARE, _covered_share, _matched_share, phrase_first, phrase_share

    rng = random.Random(7)
    alphabet = "实体店带来巨大冲击和影响网购"  # few characters, so that runs match often
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(20, 120)))
        start = rng.randrange(0, len(text) - 12)
        query = list(text[start : start + rng.randrange(8, 13)])
        for _ in range(rng.randrange(0, 3)):
            query[rng.randrange(len(query))] = "某"
        query = "".join(query)
        assert _covered_share(query, text) >= _matched_share(query, text)
        results = [_scored(text), _scored(text[::-1]), _scored(text[: len(text) // 2])]
        exact = [phrase_share(query, r.passage.text) for r in results]
        expected = (
            results
            if max(exact) < PHRASE_SHARE
            else [
                results[i] for i in sorted(range(3), key=lambda i: (-(exact[i] if exact[i] >= PHRASE_SHARE else 0), i))
            ]
        )
        assert phrase_first(query, results) == expected
