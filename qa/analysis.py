"""What the learned reader and gate know about a question, worked out once.

Nothing here decides anything: it lists the question's informative words
(weighted by the IDF table that ships with jieba, a corpus-independent
measure), its numbers, the names jieba's tagger finds in it, its character
bigrams, and the kind of answer its question word asks for. The reader and
the gate (``qa.read``, ``qa.gate``) turn those into features whose weights
are learned (``python -m learn train-reader``).
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

from core.text import STOPWORDS, normalize

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DIGIT_COMMA = re.compile(r"(?<=\d)[,，](?=\d{3})")
_CONTENT = re.compile(r"[\w\u4e00-\u9fff]")
# jieba's tags for names of people, places, organisations and other proper nouns.
_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})

# The kind of answer a question word asks for. The reader learns how each kind relates to a sentence's
# digits and dates; the table only says which kind is asked (ablation in learn/REPORT).
ANSWER_KINDS = ("quantity", "time", "person", "place", "reason", "method", "list", "yesno", "other")
_KIND_PATTERNS = (
    ("time", re.compile(r"什么时候|何时|哪一?年|哪一?天|几月|几号|哪个月|多久|多长时间|时间是")),
    ("quantity", re.compile(r"多少|几[个家户名人位项条种次倍岁年天月]?|多大|多高|多长|多远|多重|比例|占比")),
    ("person", re.compile(r"谁|哪位|哪些人|什么人")),
    ("place", re.compile(r"哪里|哪儿|在哪|何处|何地|哪个(?:城市|国家|省|地方|地区)|什么地方")),
    ("reason", re.compile(r"为什么|为何|为啥|原因|何故")),
    ("method", re.compile(r"怎么|怎样|如何|什么办法|什么方式")),
    ("list", re.compile(r"哪些|有什么|有哪")),
    ("yesno", re.compile(r"是否|能否|可否|有没有|是不是|(?:吗|(?<![什怎这那多])么)\s*[？?]?$")),
)
# What follows 多少 / 几 (``多少套住房`` → ``套住房``): the reader tries its prefixes as the unit after a figure.
_ASKED = re.compile(r"(?:多少|几)([\u4e00-\u9fff%％]{1,4})")


@dataclass(frozen=True)
class Term:
    text: str
    weight: float  # IDF, capped


@dataclass(frozen=True)
class QueryAnalysis:
    """A question as the reader and the gate see it."""

    text: str  # normalised
    terms: tuple[Term, ...]
    numbers: tuple[str, ...]
    names: tuple[str, ...]
    bigrams: frozenset[str]
    kind: str  # one of ANSWER_KINDS
    unit: str = ""  # the characters after 多少 / 几, whose prefixes may be the unit of the answer figure

    @property
    def total_weight(self) -> float:
        return sum(t.weight for t in self.terms)


def idf(word: str) -> float:
    """IDF of ``word`` from jieba's table, capped; unknown words get the median (``qa.terms.term_weight``)."""
    from qa.terms import term_weight

    return term_weight(word)


def char_bigrams(text: str) -> frozenset[str]:
    chars = [c for c in text if _CONTENT.match(c)]
    return frozenset(a + b for a, b in itertools.pairwise(chars))


def numbers_in(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_NUMBER.findall(_DIGIT_COMMA.sub("", text))))


def answer_kind(question: str) -> str:
    return next((kind for kind, pattern in _KIND_PATTERNS if pattern.search(question)), "other")


def asked_unit(question: str) -> str:
    m = _ASKED.search(question)
    return m.group(1) if m else ""


def _tagged(text: str) -> list[tuple[str, str]]:
    import jieba.posseg

    return [(w.word, w.flag) for w in jieba.posseg.cut(text)]


@functools.lru_cache(maxsize=4096)
def analyse(question: str) -> QueryAnalysis:
    """The question's analysis (cached: retrieval, reading and the gate share it)."""
    text = normalize(question)
    tagged = _tagged(text)
    seen: dict[str, Term] = {}
    names: list[str] = []
    for word, flag in tagged:
        w = word.strip().lower()
        if len(w) < 1 or not _CONTENT.search(w) or w in STOPWORDS or _NUMBER.fullmatch(w):
            continue
        if (flag in _NAME_TAGS and len(w) >= 2) or (flag == "eng" and len(w) >= 2):
            names.append(w)
        if len(w) == 1 and flag not in _NAME_TAGS:
            continue  # single characters carry little; the bigram features cover them
        seen.setdefault(w, Term(w, idf(w)))
    return QueryAnalysis(
        text=text,
        terms=tuple(seen.values()),
        numbers=numbers_in(text),
        names=tuple(dict.fromkeys(names)),
        bigrams=char_bigrams(text.lower()),
        kind=answer_kind(text),
        unit=asked_unit(text),
    )
