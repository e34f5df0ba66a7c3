"""Offline (extractive) answering of the seed questions: real model, real FAISS, real seed index."""

from __future__ import annotations

import re
import unicodedata

import pytest

from qa.verify import split_claims

pytestmark = pytest.mark.integration

A1 = "五部门联合推动——专利产业化助力中小企业加快成长"
A2 = "开封市祥符区：奏响“春天奋进曲”"
A3 = "线下实体商户困境亟待破题"
A4 = "全国政协委员王斌：推动中小企业打开新的成长空间"
A5 = "处理好十大关系 发展新质生产力"


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.mark.parametrize(
    ("question", "answer", "title", "paragraph"),
    [
        ("我国中小微企业数量有多少？", "5200万", A1, 2),
        ("我国高新技术企业有多少家？", "46.5万", A1, 2),
        ("《专利产业化促进中小企业成长计划实施方案》是由哪几个部门联合印发的？", "国家知识产权局", A1, 1),
        ("《方案》面向科技型创新型中小企业采取的是什么方式？", "普惠服务+重点培育", A1, 4),
        ("3月12日祥符区高端装备制造产业园施工现场有多少名工人？", "80多名", A2, 1),
        ("祥符区介绍项目推进机制的区领导是谁？", "潘波", A2, 5),
        ("祥符区高端装备制造产业园项目的项目经理是谁？", "刘道洪", A2, 1),
        ("截至2023年9月底全国个体工商户有多少户？", "1.22亿", A3, 2),
        ("这版报纸中，除了中小企业，还有什么主体被比作中国经济的“毛细血管”？", "线下实体商户", A3, 2),
        ("2023年人民币存款增加了多少？", "25.74万亿", A3, 5),
        ("2023年新增居民存款平均到每个人大约是多少钱？", "每人存了1.2万", A3, 5),
        ("王斌担任哪家企业的董事长？", "赛北机械", A4, 2),
        ("王斌在中国中小企业协会担任什么职务？", "副会长", A4, 2),
        ("在王斌看来，数智驱动下有几个关键竞争力正得以凸显？", "三个", A4, 7),
        ("民营经济涵盖了多大比例的高新技术企业？", "90%以上", A5, 3),
        ("文章认为创新是第一动力，那么什么是第一资源？", "人才", A5, 8),
        ("搞新质生产力，企业该咋处理好速度和质量的关系？", "质量是速度的根本", A5, 12),
        ("我开个小饭馆，跟外卖平台合作到底划不划算？", "扣点成本", A3, 7),
        ("How many individual businesses were registered in China by the end of September 2023?", "1.22亿", A3, 2),
    ],
)
def test_answerable_questions_are_answered_with_the_right_citation(
    assistant, question: str, answer: str, title: str, paragraph: int
) -> None:  # type: ignore[no-untyped-def]
    result = assistant.ask(question, use_llm=False)
    assert not result.refused, result.notice
    assert result.mode == "extractive"
    assert _norm(answer) in _norm(result.text), result.text
    assert result.citations
    assert any(c.passage.title == title and c.passage.paragraph == paragraph for c in result.citations), [
        (c.passage.title, c.passage.paragraph) for c in result.citations
    ]
    for c in result.citations:
        assert f"[{c.n}]" in result.text
        assert c.passage.text[c.quote_start : c.quote_end] == c.quote
        assert _norm(c.quote) in _norm(result.text)  # quoted verbatim
        assert all(_norm(c.passage.text[s:e]) in _norm(result.text) for s, e in c.highlights)
    marked = [_norm(c.passage.text[s:e]) for c in result.citations for s, e in c.highlights]
    for claim in split_claims(result.text):  # each quoted sentence is highlighted in its passage
        assert any(_norm(claim.text) in m for m in marked), claim.text


def test_a_question_in_two_parts_cites_both_paragraphs(assistant) -> None:  # type: ignore[no-untyped-def]
    result = assistant.ask("全国中小微企业有多少户？截至2023年9月底个体工商户又有多少户？", use_llm=False)
    assert not result.refused
    assert "5200万" in result.text and "1.22亿" in result.text
    assert {(c.passage.title, c.passage.paragraph) for c in result.citations} >= {(A1, 2), (A3, 2)}


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("2022年全国个体工商户有多少户？", "2022"),  # a year that is not there
        ("2024年一季度祥符区固定资产投资同比增长了多少？", "2024"),
        ("祥符区高端装备制造产业园占地多少亩？", "亩"),  # a figure the article never gives
        ("祥符区流量仪表产业园目前的年产值是多少？", "年产值"),
        ("开封精特仪表科技有限公司的注册资本是多少？", "注册资本"),  # a company detail
        ("赛北机械设备股份有限公司是哪一年成立的？", "年份"),
    ],
)
def test_near_miss_questions_are_refused_with_the_reason(assistant, question: str, said: str) -> None:  # type: ignore[no-untyped-def]
    result = assistant.ask(question, use_llm=False)
    assert result.refused
    assert result.citations == ()
    assert result.support is not None and not result.support.supported
    assert said in result.notice


def test_a_refusal_carries_the_closest_passages(assistant) -> None:  # type: ignore[no-untyped-def]
    result = assistant.ask("祥符区高端装备制造产业园占地多少亩？", use_llm=False)
    assert result.refused
    assert len(result.retrieved) == assistant.settings.top_k
    assert result.retrieved[0].passage.title == A2
    assert any("高端装备制造产业园" in s.passage.text for s in result.retrieved[:3])
    record = result.to_record()
    assert record["refused"] and record["citations"] == [] and len(record["retrieved"]) == assistant.settings.top_k


def test_strictness_moves_the_refusals_monotonically(assistant) -> None:  # type: ignore[no-untyped-def]
    questions = [
        "祥符区那个高端装备产业园的建设进展怎么样？",
        "实体店现在的经营状况如何？",
        "王斌对中小企业发展有什么看法？",
        "新质生产力和企业家精神有什么关系？",
        "我国中小微企业数量有多少？",
        "天津市工商联调研组一共走访了多少家线下实体店？",
    ]
    original = assistant.settings
    refused = {}
    try:
        for level in (0.0, 0.5, 1.0):
            assistant.settings = original.replace(strictness=level)
            refused[level] = {q for q in questions if assistant.ask(q, use_llm=False).refused}
    finally:
        assistant.settings = original
    assert refused[0.0] <= refused[0.5] <= refused[1.0]
    assert len(refused[1.0]) > len(refused[0.0])


def test_an_english_question_finds_its_paragraph_by_keywords_too(assistant) -> None:  # type: ignore[no-untyped-def]
    # BM25 alone, through the question's CC-CEDICT translations: no word of it is in the text.
    question = "How many workers were on the construction site of the Xiangfu equipment manufacturing park?"
    found = assistant.retriever.search(question, k=5, method="bm25")
    assert any(p.passage.title == A2 and p.passage.paragraph == 1 for p in found), [
        (p.passage.title, p.passage.paragraph) for p in found
    ]


def test_an_english_answer_tells_the_reader_its_check_is_weaker(assistant) -> None:  # type: ignore[no-untyped-def]
    from qa.assistant import ENGLISH_NOTICE

    english = assistant.ask("How many individual businesses were registered in China by the end of September 2023?")
    assert not english.refused and english.notice == ENGLISH_NOTICE
    chinese = assistant.ask("截至2023年9月底全国个体工商户有多少户？", use_llm=False)
    assert not chinese.refused and not chinese.notice


def test_a_sentence_pasted_from_a_document_finds_its_passage_first(assistant) -> None:  # type: ignore[no-untyped-def]
    quote = "实体店带来了巨大的冲击和影响"
    fused = assistant.retriever.search(quote, k=10, method="fused")
    found = assistant.retriever.search(quote, k=10)
    assert quote in found[0].passage.text
    assert {s.passage.passage_id for s in found} == {
        s.passage.passage_id for s in fused
    }  # the same passages, reordered
    near = assistant.retriever.search("实体店带来巨大的冲击和影响", k=3)  # a character dropped
    assert quote in near[0].passage.text
