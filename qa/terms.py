"""What a question demands: its key terms, numbers and expected answer type.

Terms are weighted by the IDF table that ships with jieba (a corpus-independent
measure of how informative a Chinese word is), so a tiny index still knows
that ``注册资本`` matters more than ``全国``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from core.text import normalize

NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(万亿|亿|万|千|百|%|‰)?")
_DIGIT_COMMA = re.compile(r"(?<=\d)[,，](?=\d{3})")
_ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")

QUESTION_WORDS = frozenset(
    "多少 几 几个 几家 几户 哪 哪些 哪个 哪里 哪儿 哪年 哪一年 哪位 什么 啥 怎么 怎样 怎么样 如何 为什么 为啥 为何 吗 呢 啊 吧 呀 么 "
    "是 有 的 了 在 和 与 及 对 把 被 给 让 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 请问 一下 告诉 知道 想 想问 问 谁 "
    "何时 什么时候 多大 多久 多长 多高 到底 现在 目前 都 就 也 还 又 能 会 要 可以 一共 总共 大概 大约 具体 主要 其中 "
    "哪些方面 方面 情况 说 讲 提到 提出 提 文中 文章 报道 根据 关于 一些 有没有 是不是 是否 呀 嘛 哦 得 地 着 过 个 等".split()
)


@dataclass(frozen=True)
class Term:
    text: str
    weight: float
    parts: tuple[str, ...] = ()  # finer sub-words of a long compound


@dataclass(frozen=True)
class QuestionAnalysis:
    question: str
    terms: tuple[Term, ...]
    numbers: tuple[str, ...]
    answer_type: str  # "number" | "time" | "person" | "place" | "list" | "reason" | "other"
    english: bool

    @property
    def total_weight(self) -> float:
        return sum(t.weight for t in self.terms) or 1.0


@functools.cache
def _idf() -> tuple[dict[str, float], float]:
    import jieba.analyse

    table = jieba.analyse.default_tfidf
    return table.idf_freq, table.median_idf


def term_weight(word: str) -> float:
    idf, median = _idf()
    if word.isdigit():
        return median
    return idf.get(word, median)


def number_forms(text: str) -> set[str]:
    """Numbers in ``text`` as ``value`` and ``value+unit`` strings (5,200万 → 5200, 5200万)."""
    text = _DIGIT_COMMA.sub("", normalize(text))
    forms: set[str] = set()
    for value, unit in NUMBER.findall(text):
        value = value.rstrip("0").rstrip(".") if "." in value else value
        forms.add(value)
        if unit:
            forms.add(value + unit)
    return forms


def question_numbers(text: str) -> tuple[str, ...]:
    """The most specific form of each number in a question."""
    text = _DIGIT_COMMA.sub("", normalize(text))
    out = []
    for value, unit in NUMBER.findall(text):
        value = value.rstrip("0").rstrip(".") if "." in value else value
        out.append(value + unit)
    return tuple(out)


def _answer_type(q: str) -> str:
    if re.search(r"多少|几[个家户年项条次名位种倍亿万]?|数量|规模|比例|百分之|how many|how much|what percentage", q, re.I):
        return "number"
    if re.search(r"哪一?年|何时|什么时候|哪天|日期|时间|when|what year", q, re.I):
        return "time"
    if re.search(r"谁|哪位|什么人|姓名|名字|who", q, re.I):
        return "person"
    if re.search(r"哪里|哪儿|何地|什么地方|where", q, re.I):
        return "place"
    if re.search(r"为什么|为啥|为何|原因|why", q, re.I):
        return "reason"
    if re.search(r"哪些|有什么|包括|what are", q, re.I):
        return "list"
    return "other"


def _is_english(q: str) -> bool:
    letters = len(_ASCII_WORD.findall(q))
    return letters >= 2 and len(_CJK.findall(q)) < 2


def analyze(question: str) -> QuestionAnalysis:
    import rjieba

    q = normalize(question)
    seen: set[str] = set()
    terms: list[Term] = []
    for tok in rjieba.cut(q.lower()):
        tok = tok.strip()
        if not tok or tok in seen or tok in QUESTION_WORDS or not re.search(r"\w", tok):
            continue
        if NUMBER.fullmatch(tok):
            continue  # numbers are checked on their own
        seen.add(tok)
        parts = tuple(p for p in rjieba.cut_for_search(tok) if p != tok and len(p) > 1) if len(tok) >= 3 else ()
        terms.append(Term(tok, term_weight(tok), parts))
    return QuestionAnalysis(q, tuple(terms), question_numbers(q), _answer_type(q), _is_english(q))


def coverage(analysis: QuestionAnalysis, text: str) -> tuple[float, float, tuple[str, ...]]:
    """(weighted share of terms found in ``text``, largest weight missing, missing terms).

    A long compound not found whole gets partial credit for its sub-words.
    """
    hay = normalize(text).lower()
    got = 0.0
    missing: list[str] = []
    worst = 0.0
    for term in analysis.terms:
        if term.text in hay:
            got += term.weight
            continue
        share = sum(p in hay for p in term.parts) / len(term.parts) if term.parts else 0.0
        got += term.weight * share * 0.8
        if share < 0.5:
            missing.append(term.text)
            worst = max(worst, term.weight * (1 - share))
    return got / analysis.total_weight, worst, tuple(missing)


def numbers_missing(analysis: QuestionAnalysis, text: str) -> tuple[str, ...]:
    if not analysis.numbers:
        return ()
    forms = number_forms(text)
    return tuple(n for n in analysis.numbers if n not in forms)
