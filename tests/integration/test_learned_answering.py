"""The learned answerer (YIJU_ANSWERER=learned) with the real model, the real index and the shipped artefact."""

from __future__ import annotations

import pytest

from core.settings import Settings
from qa.assistant import Assistant

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def learned(seed_settings: Settings, embedder, seed_index) -> Assistant:  # type: ignore[no-untyped-def]
    return Assistant(seed_settings.replace(answerer="learned"), embedder, index=seed_index)


def test_a_seed_fact_is_quoted_with_its_paragraph(learned: Assistant) -> None:
    answer = learned.ask("我国中小微企业有多少户？")
    assert not answer.refused
    assert "5200万" in answer.text and "[1]" in answer.text
    assert any("5200万" in c.passage.text for c in answer.citations)
    assert answer.support is not None and answer.support.confidence > 0.5


def test_nothing_retrieved_about_the_topic_is_refused(learned: Assistant) -> None:
    answer = learned.ask("火星探测器的着陆时间是哪一年？")
    assert answer.refused and answer.notice


def test_strictness_one_refuses_more_than_strictness_zero(seed_settings: Settings, embedder, seed_index) -> None:  # type: ignore[no-untyped-def]
    questions = ["开封的产业园区有多少家企业入驻？", "天津实体店面临哪些困难？", "专利产业化的目标是什么？"]
    lax = Assistant(seed_settings.replace(answerer="learned", strictness=0.0), embedder, index=seed_index)
    strict = Assistant(seed_settings.replace(answerer="learned", strictness=1.0), embedder, index=seed_index)
    refused = [sum(a.ask(q).refused for q in questions) for a in (lax, strict)]
    assert refused[0] <= refused[1] and refused[1] == len(questions)
