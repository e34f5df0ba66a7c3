"""Training cases made from other cases: the removed twin, the swapped and the neighbour question."""

from __future__ import annotations

import numpy as np

from core.types import Passage, ScoredPassage
from learn.cases import Case, removed, with_removed
from learn.sources import Item
from qa.analysis import analyse
from qa.read import candidates_of, sentence_features


def _scored(text: str, n: int) -> ScoredPassage:
    p = Passage(f"p{n}", "d", "d.txt", "标题", 1, n, 1, 0, len(text), text)
    return ScoredPassage(p, 0.03, dense_score=0.8, keyword_score=1.0)


def _case(qid: str = "q1") -> Case:
    retrieved = [
        _scored("全市中小企业去年营业收入增长百分之五。全市共有中小企业5200家。今年还将新增一批。", 1),
        _scored("5200家企业中有一半在园区。", 2),
    ]
    analysis = analyse("全市有多少家中小企业？")
    cands = candidates_of(retrieved)
    holds = np.array(["5200家" in c.text for c in cands])
    cos = np.linspace(0.9, 0.5, len(cands))
    rows = sentence_features(analysis, retrieved, cands, cos)
    return Case("src", qid, "normal", True, analysis, retrieved, cands, rows, holds, cos)


def test_removed_cuts_every_sentence_holding_the_answer_and_keeps_the_rest_with_its_cosines() -> None:
    case = _case()
    twin = removed(case)
    assert twin is not None
    assert twin.kind == "removed" and not twin.supported and twin.qid == "q1-removed"
    texts = [c.text for c in twin.candidates]
    assert texts == ["全市中小企业去年营业收入增长百分之五。", "今年还将新增一批。"]  # passage 2 was only the answer
    assert len(twin.retrieved) == 1 and "5200" not in twin.retrieved[0].passage.text
    before = {c.text: v for c, v in zip(case.candidates, case.cosines, strict=True)}
    assert twin.cosines.tolist() == [before[t] for t in texts]
    assert not twin.holds.any()
    refeatured = twin.refeatured()
    assert refeatured.features.shape[0] == len(texts)


def test_removed_needs_an_answered_case_and_with_removed_takes_half() -> None:
    case = _case()
    assert removed(Case(**{**case.__dict__, "kind": "noise"})) is None
    assert removed(Case(**{**case.__dict__, "holds": np.zeros(len(case.candidates), dtype=bool)})) is None
    cases = [_case(f"q{i}") for i in range(40)]
    grown = with_removed(cases)
    twins = [c for c in grown if c.kind == "removed"]
    assert 5 < len(twins) < 35 and grown[:40] == cases


def test_swapped_changes_the_number_or_a_name_to_one_the_context_lacks() -> None:
    from learn.cases import swapped

    item = Item("q", "2021年上海市有多少家中小企业？", ("5200家",), "标题", "2021年上海市共有中小企业5200家。")
    changed = swapped(item, ["杭州市"], 0)
    assert changed is not None and changed != item.question and "2021年" not in changed


def test_neighbour_swaps_a_year_or_name_for_one_of_its_own_context_never_named_with_the_rest() -> None:
    from learn.cases import neighbour_swapped

    story = "2021年上海市共有中小企业5200家。2019年举办了进博会。杭州市也有很多中小企业。"
    item = Item("q", "2021年上海市有多少家中小企业？", ("5200家",), "", story)
    changed = neighbour_swapped(item, 0)
    # 2019 is on the page but never with 上海市 or 中小企业; 杭州市 is named with 中小企业, so it is not taken
    assert changed == "2019年上海市有多少家中小企业?"
    told = Item("q", "2021年上海市有多少家中小企业？", ("5200家",), "", story + "2019年上海市的中小企业有4000家。")
    assert neighbour_swapped(told, 0) is None  # the other year's figure is given: no near miss to make
    assert neighbour_swapped(Item("q", "上海市有多少家企业？", ("5200家",), "", "上海市有企业5200家。"), 0) is None


def test_the_strictness_curve_refuses_more_as_strictness_rises_with_its_precisions_counted() -> None:
    from learn.train import evaluate_cases, markdown, strictness_curve

    answered = _case("a")
    unsupported = Case(**{**answered.__dict__, "qid": "n", "kind": "noise", "supported": False})
    unsupported = Case(**{**unsupported.__dict__, "holds": np.zeros(len(answered.candidates), dtype=bool)})
    cases = [answered, unsupported, _case("b")]
    probs = [answered.holds.astype(float) for _ in cases]  # the reader's top-1 is an answer sentence
    gate_p = np.array([0.9, 0.3, 0.45])
    curve = strictness_curve(cases, probs, gate_p, fitted=0.4)

    assert [r["strictness"] for r in curve] == [round(0.1 * i, 1) for i in range(11)]
    at = {r["strictness"]: r for r in curve}
    assert at[0.5]["threshold"] == 0.4 and at[0.5]["refused"] == 1 / 3  # only the unsupported case
    assert at[0.5]["refusal_precision"] == 1.0 and at[0.5]["answer_precision"] == 1.0
    assert at[0.5]["supported_answered_right"] == 1.0
    assert at[1.0]["refused"] == 1.0 and at[1.0]["refusal_precision"] == 1 / 3 and at[1.0]["answer_precision"] != 0
    assert at[0.0]["refused"] == 0.0 and at[0.0]["answer_precision"] == 2 / 3
    refused = [r["refused"] for r in curve]
    assert refused == sorted(refused)
    report = {
        "info": {
            "command": "c",
            "seconds_total": 1,
            "machine": "m",
            "train_cases": 0,
            "validation_cases": 3,
            "reader_rounds": 1,
            "gate_rounds": 1,
            "threshold": 0.4,
            "sources": {},
        },
        "validation": evaluate_cases(cases, probs, gate_p, 0.4),
        "strictness": curve,
        "ablations": {},
    }
    assert "| 0.5 | 0.400 | 33.3 % | 100.0 % | 100.0 % |" in markdown(report)


def test_probe_pairs_take_the_readers_best_sentences_first_labelled_by_support() -> None:
    from learn.probes import _per_case, pairs_of

    answered = _case("a")
    unsupported = Case(**{**answered.__dict__, "qid": "n", "kind": "noise", "supported": False})
    probs = [np.arange(len(answered.candidates), dtype=float)[::-1].copy() for _ in range(2)]
    pairs = pairs_of([answered, unsupported], probs, n=2)
    texts = [c.text for c in answered.candidates]
    assert [(k, s) for k, _, s, _ in pairs] == [(0, texts[0]), (0, texts[1]), (1, texts[0]), (1, texts[1])]
    holds = [float(answered.holds[0]), float(answered.holds[1])]
    assert [label for *_, label in pairs] == [*holds, 0.0, 0.0]  # no support, no positive
    rows = _per_case(pairs, np.array([1.0, 3.0, -2.0, -1.0]), 3)
    assert rows[0].tolist() == [1.0, 3.0, -2.0] and rows[1].tolist() == [-2.0, -1.0, -1.0]
    assert rows[2].tolist() == [0.0, 0.0, 0.0]  # a case without candidates


def test_the_case_cache_key_changes_with_the_retrieval_code(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import learn.train as train

    assert all((train.ROOT / name).exists() for name in train.CASE_CODE)  # every named file or folder is there
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "chunk.py").write_text("A = 1\n")
    (tmp_path / "cases.py").write_text("B = 1\n")
    monkeypatch.setattr(train, "ROOT", tmp_path)
    monkeypatch.setattr(train, "CASE_CODE", ("cases.py", "ingest"))
    before = train.case_code_sha()
    assert train.case_code_sha() == before
    (tmp_path / "ingest" / "chunk.py").write_text("A = 2\n")
    assert train.case_code_sha() != before


def test_a_share_of_the_train_questions_keeps_each_question_with_its_variants_and_grows_nested() -> None:
    from learn.train import share_of_questions

    base = _case()
    cases = [
        Case(**{**base.__dict__, "qid": f"src-{i}{suffix}"})
        for i in range(200)
        for suffix in ("", "-swapped", "-removed", "-neighbour")
    ]
    quarter, half = share_of_questions(cases, 0.25), share_of_questions(cases, 0.5)
    for part in (quarter, half):
        roots = {c.qid.split("-")[1] for c in part}
        assert len(part) == 4 * len(roots)  # no question without its variants
    assert 30 < len(quarter) / 4 < 70 and 75 < len(half) / 4 < 125
    assert {c.qid for c in quarter} <= {c.qid for c in half}
    assert share_of_questions(cases, 1.0) == cases and share_of_questions(cases, 0.0) == []
