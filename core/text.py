"""Text normalisation and Chinese word tokens, shared by indexing and querying.

``normalize`` is applied to questions and to text before keyword matching:
NFKC (full-width → half-width), traditional → simplified characters,
control characters removed, whitespace collapsed.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)

STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "也",
        "都",
        "就",
        "而",
        "被",
        "把",
        "对",
        "为",
        "以",
        "于",
        "之",
        "其",
        "这",
        "那",
        "有",
        "个",
        "吗",
        "呢",
        "啊",
        "吧",
        "么",
        "呀",
        "哪",
        "什么",
        "多少",
        "几",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "为何",
        "哪些",
        "哪个",
        "是否",
        "请问",
        "一下",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "is",
        "are",
        "was",
        "were",
        "what",
        "which",
        "who",
        "how",
        "many",
        "much",
        "does",
        "do",
        "did",
    ]
)


@functools.cache
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = to_simplified(text)
    return _SPACE.sub(" ", text).strip()


def _cut(text: str) -> list[str]:
    import rjieba

    return rjieba.cut_for_search(text)


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Keyword tokens: normalised, lower-cased, punctuation dropped."""
    tokens = []
    for tok in _cut(normalize(text).lower()):
        tok = tok.strip()
        if not tok or not _WORD.search(tok):
            continue
        if not keep_stopwords and tok in STOPWORDS:
            continue
        tokens.append(tok)
    return tokens


def tokenize_many(texts: list[str]) -> list[list[str]]:
    return [tokenize(t) for t in texts]
