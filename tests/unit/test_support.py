"""The support gate: its model, its requirements, its decision, and the fit that sets it."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from learn.fit_gate import QuestionFeatures, auc, fit_gate, fit_logistic, operating_point, question_score
from qa.extractive import ENGLISH_SENTENCE_WEIGHTS, SENTENCE_FEATURES, SENTENCE_WEIGHTS
from qa.support import DEFAULT_GATE, FEATURES, Evidence, GateModel, decide, evidence_for, requirements_met
from qa.terms import analyze, required_missing

ROOT = Path(__file__).resolve().parents[2]
MODEL = GateModel(weights=(1.0,) * len(FEATURES), bias=-2.0, threshold=0.6, english_dense_threshold=0.8)


def _evidence(**changes: object) -> Evidence:
    base: dict[str, object] = {
        "passage_coverage": 1.0,
        "multi_coverage": 1.0,
        "sentence_coverage": 1.0,
        "worst_missing": 0.0,
        "number_missing": False,
        "typed_missing": False,
        "key_missing": False,
        "dense": 0.9,
        "sentence_dense": 0.9,
        "missing_terms": (),
    }
    base.update(changes)
    return Evidence(**base)  # type: ignore[arg-type]


def test_threshold_for_is_monotonic_in_strictness() -> None:
    levels = np.linspace(0, 1, 101)
    values = [DEFAULT_GATE.threshold_for(s) for s in levels]
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert values[0] == pytest.approx(0.02)
    assert values[50] == pytest.approx(DEFAULT_GATE.threshold)
    assert values[-1] == pytest.approx(0.98)
    assert DEFAULT_GATE.threshold_for(-3) == values[0] and DEFAULT_GATE.threshold_for(7) == values[-1]


def test_probability_is_the_logistic_of_the_features() -> None:
    x = _evidence(dense=0.5, sentence_dense=0.5).vector()
    assert x.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5]
    assert MODEL.probability(x) == pytest.approx(1 / (1 + math.exp(-(4.0 - 2.0))))


def test_default_gate_is_the_recorded_fit() -> None:
    fit = json.loads((ROOT / "eval" / "gate_fit.json").read_text("utf-8"))
    assert fit["gate"]["features"] == list(FEATURES)
    assert fit["gate"]["weights"] == pytest.approx(list(DEFAULT_GATE.weights))
    assert fit["gate"]["bias"] == pytest.approx(DEFAULT_GATE.bias)
    assert fit["gate"]["threshold"] == pytest.approx(DEFAULT_GATE.threshold)
    assert fit["sentence_scorer"]["features"] == list(SENTENCE_FEATURES)
    assert fit["sentence_scorer"]["weights"] == pytest.approx(list(SENTENCE_WEIGHTS))


def test_default_english_threshold_is_the_recorded_fit() -> None:
    fit = json.loads((ROOT / "eval" / "english_fit.json").read_text("utf-8"))
    assert fit["threshold"] == pytest.approx(DEFAULT_GATE.english_dense_threshold)
    assert fit["sentence_scorer"]["features"] == list(SENTENCE_FEATURES)
    assert fit["sentence_scorer"]["weights"] == pytest.approx(list(ENGLISH_SENTENCE_WEIGHTS))


def test_evidence_flags_what_the_question_demands() -> None:
    year = evidence_for(
        analyze("2022年全国个体工商户有多少户？"), "标题", "截至2023年9月底个体工商户1.22亿户。", "", 0.9, 0.9
    )
    assert year.number_missing and year.missing_numbers == ("2022",)
    unit = evidence_for(
        analyze("祥符区高端装备制造产业园占地多少亩？"), "标题", "祥符区高端装备制造产业园已封顶12栋。", "", 0.9, 0.9
    )
    assert unit.typed_missing and not unit.number_missing
    key = evidence_for(
        analyze("开封精特仪表科技有限公司的注册资本是多少？"),
        "标题",
        "开封精特仪表科技有限公司等10余家企业入驻。",
        "",
        0.9,
        0.9,
    )
    assert key.key_missing and "注册资本" in key.missing_terms
    ok = evidence_for(
        analyze("我国中小微企业数量有多少？"),
        "标题",
        "我国中小微企业数量已超过5200万户。",
        "我国中小微企业数量已超过5200万户。",
        0.9,
        0.9,
    )
    assert requirements_met(ok) and ok.passage_coverage == pytest.approx(1.0)


def test_evidence_counts_the_article_header() -> None:
    analysis = analyze("孙太利认为创新是什么？")
    with_byline = evidence_for(analysis, "处理好十大关系\n孙太利", "创新是第一动力。", "创新是第一动力。", 0.9, 0.9)
    without = evidence_for(analysis, "处理好十大关系", "创新是第一动力。", "创新是第一动力。", 0.9, 0.9)
    assert with_byline.passage_coverage > without.passage_coverage


def test_decide_answers_with_the_best_candidate_that_meets_the_requirements() -> None:
    analysis = analyze("我国中小微企业数量有多少？")
    weak, strong_but_no_year = _evidence(dense=0.1, sentence_dense=0.1), _evidence(dense=3.0, number_missing=True)
    support, best = decide(analysis, [strong_but_no_year, weak, _evidence()], 0.5, MODEL)
    assert best == 2 and support.supported
    assert support.confidence == pytest.approx(MODEL.probability(_evidence().vector()))


def test_decide_refuses_when_no_candidate_meets_the_requirements() -> None:
    analysis = analyze("2022年全国个体工商户有多少户？")
    support, best = decide(analysis, [_evidence(number_missing=True, missing_numbers=("2022",))], 0.5, MODEL)
    assert not support.supported and best == 0 and support.confidence == 0.0
    assert "2022" in support.reason


def test_decide_refuses_below_the_threshold_and_strictness_moves_it() -> None:
    analysis = analyze("我国中小微企业数量有多少？")
    middling = _evidence(passage_coverage=0.0, multi_coverage=0.0, sentence_coverage=0.0, dense=0.4, sentence_dense=0.4)
    p = MODEL.probability(middling.vector())
    assert 0.02 < p < 0.6
    assert not decide(analysis, [middling], 0.5, MODEL)[0].supported
    assert decide(analysis, [middling], 0.0, MODEL)[0].supported


def test_decide_reasons_name_what_is_missing() -> None:
    unit = decide(analyze("产业园占地多少亩？"), [_evidence(typed_missing=True)], 0.5, MODEL)[0]
    assert not unit.supported and "亩" in unit.reason
    key = decide(
        analyze("开封精特仪表科技有限公司的注册资本是多少？"),
        [_evidence(key_missing=True, missing_terms=("注册资本",))],
        0.5,
        MODEL,
    )[0]
    assert not key.supported and "注册资本" in key.reason
    assert decide(analyze("有多少？"), [], 0.5, MODEL) == (decide(analyze("有多少？"), [], 0.5, MODEL)[0], -1)


def test_english_questions_are_judged_by_meaning() -> None:
    analysis = analyze("How many individual businesses were registered in China?")
    assert decide(analysis, [_evidence(sentence_dense=0.81)], 0.5, MODEL)[0].supported
    assert not decide(analysis, [_evidence(sentence_dense=0.79)], 0.5, MODEL)[0].supported
    assert not decide(analysis, [_evidence(sentence_dense=0.95, number_missing=True)], 0.5, MODEL)[0].supported


def test_an_english_question_needs_the_place_it_names() -> None:
    analysis = analyze("What was Hunan's cross-border e-commerce trade in the first half of 2023?")
    about_asean = "今年上半年，中国与东盟贸易高达3.08万亿元，同比增长5.4%。"
    about_hunan = "今年上半年，湖南省跨境电商进出口额达3.08万亿元。"
    assert required_missing(analysis, about_asean) == ("湖南",)
    assert required_missing(analysis, about_asean, context="中新网长沙电 湖南省商务厅介绍") == ()
    assert required_missing(analysis, about_hunan) == ()
    # Of several names one is enough: a story names the narrowest place.
    assert (
        required_missing(analyze("How many car dealers are there in Qingpu, Shanghai?"), "青浦区有汽车经销商18家") == ()
    )
    refused = decide(analysis, [_evidence(sentence_dense=0.95, missing_required=("湖南",))], 0.5, MODEL)[0]
    assert not refused.supported and "湖南" in refused.reason and "改用中文提问" in refused.reason


def test_fit_logistic_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(x @ [1.5, -2.0] + 0.5)))).astype(float)
    coef, bias = fit_logistic(x, y, l2=0.0)
    assert coef == pytest.approx([1.5, -2.0], abs=0.15)
    assert bias == pytest.approx(0.5, abs=0.15)


def test_auc_counts_ties_as_half() -> None:
    assert auc(np.array([0.9, 0.8, 0.1]), np.array([1.0, 0.0, 0.0])) == 1.0
    assert auc(np.array([1.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])) == 0.75
    assert auc(np.array([0.1, 0.9]), np.array([1.0, 0.0])) == 0.0


def _question(answerable: bool, probs_x: list[float], eligible: list[bool], source: str = "cmrc") -> QuestionFeatures:
    x = np.array([[v] for v in probs_x])
    label = np.array([1 if answerable and i == 0 else (0 if not answerable else -1) for i in range(len(probs_x))])
    return QuestionFeatures(source, f"g{probs_x}", answerable, x, label, np.array(eligible))


def test_question_score_takes_the_best_candidate_meeting_the_requirements() -> None:
    q = _question(True, [3.0, 0.0], [False, True])
    assert question_score(q, np.array([1.0]), 0.0) == pytest.approx(0.5)
    assert question_score(_question(True, [3.0], [False]), np.array([1.0]), 0.0) == 0.0


def test_operating_point_counts_refusals_exactly() -> None:
    fs = [
        _question(True, [2.0], [True]),  # p = 0.88: answered
        _question(True, [-2.0], [True]),  # p = 0.12: wrongly refused
        _question(False, [-3.0], [True]),  # refused
        _question(False, [3.0], [False]),  # refused by the requirements
    ]
    point = operating_point(fs, np.array([1.0]), 0.0, 0.5)
    assert point["refusal_recall"] == 1.0
    assert point["refusal_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert point["answer_rate_answerable"] == 0.5
    assert point["auc"] == 1.0


def test_fit_gate_separates_a_separable_set() -> None:
    rng = np.random.default_rng(1)
    fs = [_question(True, [float(v)], [True]) for v in rng.normal(2, 1, 60)]
    fs += [_question(False, [float(v)], [True]) for v in rng.normal(-2, 1, 60)]
    coef, _bias, threshold = fit_gate(fs)
    assert coef[0] > 0 and 0 < threshold < 1
    assert operating_point(fs, coef, _bias, threshold)["auc"] > 0.98


def test_each_part_of_a_two_part_question_gets_its_own_best_sentence() -> None:
    from qa.extractive import SentenceHit, choose_sentences

    question = "全国中小微企业有多少户？截至2023年9月底个体工商户又有多少户？"
    second = SentenceHit(
        0, 0, 40, "截至2023年9月底，全国登记在册的经营主体1.81亿户，其中个体工商户1.22亿户。", 1.0, 0.9, 7.6
    )
    first = SentenceHit(2, 0, 22, "数据显示，我国中小微企业数量已超过5200万户。", 0.8, 0.9, 3.9)
    # Scored for the whole message, the first part's sentence is far below the best one …
    assert choose_sentences(analyze(question), [second, first], 0) == [second]
    # … scored for that part alone, it is the part's best and is quoted too.
    chosen = choose_sentences(analyze(question), [second, first], 0, part_hits=[[first, second], [second, first]])
    assert chosen == [second, first]


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "调研组认为短视频平台和居民储蓄分别是怎样冲击线下实体店的？",
            ["调研组认为短视频平台是怎样冲击线下实体店的？", "居民储蓄是怎样冲击线下实体店的？"],
        ),
        (
            "孙太利文中，立与破的关系和速度与质量的关系各自的核心论断是什么？",
            ["孙太利文中，立与破的关系的核心论断是什么？", "孙太利文中，速度与质量的关系的核心论断是什么？"],
        ),
        ("王斌和孙太利分别担任什么职务？", ["王斌担任什么职务？", "孙太利担任什么职务？"]),
        (  # the conjuncts in the clause before 分别
            "今年上海企业进行股权融资和债券融资，分别募集了多少资金？",
            ["今年上海企业进行股权融资，募集了多少资金？", "债券融资，募集了多少资金？"],
        ),
        (
            "孙太利认为立与破分别对应什么逻辑？",
            ["孙太利认为立与破分别对应什么逻辑？"],
        ),  # one character each: one answer
        (
            "全国有多少户个体工商户？它们占经营主体的比例是多少？",
            ["全国有多少户个体工商户？", "它们占经营主体的比例是多少？"],
        ),
    ],
)
def test_a_message_asks_one_question_per_part_and_per_conjunct_before_respectively(
    question: str, parts: list[str]
) -> None:
    from qa.extractive import question_parts

    assert question_parts(question) == parts


def test_the_quote_starts_where_the_amounts_asked_about_are() -> None:
    from core.types import Passage, ScoredPassage
    from qa.extractive import SentenceHit, quote_start

    def passage(text: str) -> ScoredPassage:
        return ScoredPassage(Passage(text[:6], "d", "d.txt", "吉林", 1, 1, 1, 0, len(text), text), 1.0)

    retrieved = [passage("上半年，全省共实施5000万元以上项目1922个。"), passage("10亿元以上项目233个，投资增长23.7%。")]
    hits = [
        SentenceHit(0, 0, 20, retrieved[0].passage.text, 0.8, 0.9, 5.0),
        SentenceHit(1, 0, 18, "10亿元以上项目233个", 0.8, 0.9, 3.0),
    ]
    assert quote_start(analyze("今年上半年吉林省实施的10亿元以上项目有多少个？"), hits, retrieved) == 1
    assert quote_start(analyze("今年上半年吉林省实施了多少个项目？"), hits, retrieved) == 0
    # an ordinal is given once at the top of a story: it does not move the quote
    assert quote_start(analyze("第31届广博会的乡村振兴展有多少个项目？"), hits, retrieved) == 0


def test_times_of_the_question_may_be_in_the_opening_of_the_article() -> None:
    from qa.terms import coverage

    analysis = analyze("今年上半年吉林省实施的10亿元以上项目有多少个？")
    assert {"今年", "上半年", "吉林省"} <= set(analysis.setting)
    opening = "今年上半年，吉林省持续强化“项目为王”的鲜明导向"
    assert coverage(analysis, "10亿元以上项目233个", opening).missing == ("实施",)


def test_the_operating_point_is_stable_where_balanced_accuracy_is_flat() -> None:
    from learn.fit_gate import stable_threshold

    rng = np.random.default_rng(3)
    scores = np.concatenate([rng.normal(0.7, 0.1, 300), rng.normal(0.4, 0.1, 300)])
    answerable = np.arange(600) < 300
    t = stable_threshold(scores, answerable)
    assert 0.5 < t < 0.6  # the classes cross at 0.55
    nudged = scores.copy()
    nudged[:5] -= 0.02  # a small change moves the bootstrap median little
    assert abs(stable_threshold(nudged, answerable) - t) < 0.02


def test_a_quote_without_the_number_asked_for_does_not_answer() -> None:
    from qa.extractive import SentenceHit, quotes_the_kind

    def hit(text: str, typed: bool | None) -> SentenceHit:
        return SentenceHit(0, 0, len(text), text, 0.8, 0.9, 5.0, typed)

    vague = hit("基地成立以来，已有部分校友已回宁创业。", False)
    counted = hit("已有12名校友回宁创业。", True)
    asks_how_many = analyze("学子雁回工程启动以来，已有多少名校友回到鼓楼创业？")
    assert not quotes_the_kind(asks_how_many, [vague])
    assert quotes_the_kind(asks_how_many, [vague, counted])
    assert quotes_the_kind(analyze("校友为什么回到鼓楼创业？"), [vague])  # a reason is not checked


def test_a_heading_that_only_repeats_a_how_question_is_not_quoted_as_its_answer() -> None:
    from qa.extractive import SentenceHit, choose_sentences
    from qa.terms import restates

    question = "企业该怎么处理好速度和质量的关系？"
    heading = SentenceHit(0, 0, 12, "处理好速度与质量的关系。", 1.0, 0.9, 6.6)
    body = SentenceHit(0, 12, 40, "质量是速度的根本，速度是质量的载体，二者互为依托。", 0.6, 0.9, 3.2)
    assert restates(analyze(question), heading.text) and not restates(analyze(question), body.text)
    assert choose_sentences(analyze(question), [heading, body], 0) == [body]
    # The section under such a heading answers it: its first two sentences, whatever they score.
    second = SentenceHit(0, 40, 60, "在新发展阶段，速度和质量形成合力。", 0.6, 0.9, 4.4)
    third = SentenceHit(0, 60, 80, "速度与质量的融合飞跃是战略选择。", 0.6, 0.9, 4.1)
    other = SentenceHit(1, 0, 20, "处理好创新与人才的关系很重要。", 0.4, 0.9, 4.3)
    hits = [heading, second, other, third, body]
    assert choose_sentences(analyze(question), hits, 0) == [body, second]
    # A sentence with a number the question lacks says something new; a yes-or-no question may be
    # answered by a sentence in its own words.
    assert not restates(analyze("华为是哪一年成立的？"), "华为成立于1987年。")
    whether = "企业是否要处理好速度与质量的关系？"
    assert choose_sentences(analyze(whether), [heading, body], 0)[0] == heading


def test_the_quote_moves_to_a_passage_holding_what_is_asked_about() -> None:
    from core.types import Passage, ScoredPassage
    from qa.extractive import SentenceHit, quote_start

    def passage(text: str) -> ScoredPassage:
        return ScoredPassage(Passage(text[:6], "d", "d.txt", "祥符区", 1, 1, 1, 0, len(text), text), 1.0)

    retrieved = [
        passage("截至目前，祥符区高端装备制造产业园已与10余家企业洽谈入驻事宜。"),
        passage("祥符区高端装备制造产业园项目施工现场，项目经理刘道洪向记者介绍说，12栋楼已经封顶。"),
        passage("项目经理王某介绍，开封的另一家工厂已投产。"),
    ]
    hits = [
        SentenceHit(0, 0, 30, retrieved[0].passage.text, 0.7, 0.9, 7.0),
        SentenceHit(2, 0, 20, retrieved[2].passage.text, 0.3, 0.9, 4.0),
        SentenceHit(1, 0, 40, retrieved[1].passage.text, 0.9, 0.9, 3.0),
    ]
    # The best sentence's passage lacks 项目经理; the one that has it and covers as much is quoted,
    # not the one that has it but covers less of the question.
    assert quote_start(analyze("祥符区高端装备制造产业园项目的项目经理是谁？"), hits, retrieved) == 1
    # A question whose key the best passage holds stays with it.
    assert quote_start(analyze("祥符区高端装备制造产业园在和多少家企业洽谈？"), hits, retrieved) == 0
