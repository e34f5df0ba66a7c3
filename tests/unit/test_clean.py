"""Cleaning the seed's print layout: cut paragraphs rejoined, headings kept as metadata."""

from __future__ import annotations

import re

import pytest

from ingest.clean import clean_text
from tests.conftest import SEED_FILE

# The seven paragraphs the page layout cut in two, as (end of first line, start of second line).
CUTS = [
    ("国家知识产权局有关负责人表", "示，随着市场竞争日益激烈"),
    ("以专利产业化促进中小企业", "成长。"),
    ("强化知识产权公共服务普", "惠供给"),
    ("其", "中，线下实体商户量大面广"),
    ("众多以消费品为主的线下实体", "店大多被便利性更高的线上消费所取代"),
    ("给实体店带来了", "巨大的冲击和影响。"),
    ("以科技创新推动产业创新，而人", "才则是科技创新的源泉"),
]

TITLES = [
    "五部门联合推动——专利产业化助力中小企业加快成长",
    "开封市祥符区：奏响“春天奋进曲”",
    "线下实体商户困境亟待破题",
    "全国政协委员王斌：推动中小企业打开新的成长空间",
    "处理好十大关系 发展新质生产力",
]


@pytest.fixture(scope="module")
def seed() -> tuple[str, tuple]:
    return clean_text(SEED_FILE.read_text("utf-8"), "seed")


def _paragraphs(seed) -> list[str]:  # type: ignore[no-untyped-def]
    text, articles = seed
    return [text[s:e] for a in articles for s, e in a.paragraphs]


@pytest.mark.parametrize(("left", "right"), CUTS)
def test_cut_paragraphs_are_rejoined(seed, left: str, right: str) -> None:  # type: ignore[no-untyped-def]
    joined = [p for p in _paragraphs(seed) if left + right in p]
    assert len(joined) == 1, f"{left}|{right} not rejoined into one paragraph"


def test_the_page_splits_into_its_five_articles(seed) -> None:  # type: ignore[no-untyped-def]
    _, articles = seed
    assert [a.title for a in articles] == TITLES
    assert [len(a.paragraphs) for a in articles] == [6, 5, 8, 10, 17]


def test_bylines_and_tags_are_metadata(seed) -> None:  # type: ignore[no-untyped-def]
    _, articles = seed
    assert articles[0].bylines == ("本报记者 孙琳",)
    assert articles[1].bylines == ("焦宇炜 杜远红 本报记者 王有强",)
    assert articles[4].bylines == ("孙太利",)
    assert articles[4].tags == ("委员观察",)
    assert articles[3].sections == ("持续优化中小企业发展环境", "数智驱动为中小企业提供新的原动力")


def test_no_heading_or_byline_is_a_paragraph(seed) -> None:  # type: ignore[no-untyped-def]
    _, articles = seed
    metadata = {t for a in articles for t in (a.title, *a.subtitles, *a.bylines, *a.tags, *a.sections)}
    metadata |= {"促进中小微企业高质量发展", "委员观察", "孙太利", "本报记者 孙琳"}
    paragraphs = _paragraphs(seed)
    assert not metadata & set(paragraphs)
    assert all(len(p) >= 20 for p in paragraphs)


def test_cleaning_only_drops_layout_whitespace(seed) -> None:  # type: ignore[no-untyped-def]
    text, _ = seed
    raw = SEED_FILE.read_text("utf-8")
    assert re.sub(r"\s", "", text) == re.sub(r"\s", "", raw)


def test_plain_text_without_layout_is_one_article() -> None:
    text, articles = clean_text("第一段讲的是甲公司。\n\n第二段讲的是乙公司的情况。", "笔记")
    assert len(articles) == 1
    assert articles[0].title == "笔记"
    assert [text[s:e] for s, e in articles[0].paragraphs] == ["第一段讲的是甲公司。", "第二段讲的是乙公司的情况。"]


def test_markdown_headings_start_articles() -> None:
    _text, articles = clean_text("# 甲\n\n甲的正文很长，讲了很多事情。\n\n# 乙\n\n乙的正文。", "md")
    assert [a.title for a in articles] == ["甲", "乙"]
