"""The reader: which sentence of the retrieved passages answers the question?

Every sentence of the top passages gets one row of features (``SENTENCE_FEATURES``):
its e5 closeness to the question (raw, standardised and ranked over the
candidates), how much of the question's weighted words, bigrams, numbers and
names it and its passage hold, what it adds beyond the question, what kind
of answer the question asks for and whether the sentence has digits or dates,
and where its passage ranked. A gradient-boosted model trained here on public
Chinese reading-comprehension data (``python -m learn train-reader``) ranks a
question's sentences by these rows; its scores, squashed into (0, 1), say how
likely each sentence is to hold the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.text import normalize
from core.types import ScoredPassage
from ingest.embed import Embedder
from qa.analysis import ANSWER_KINDS, QueryAnalysis, char_bigrams
from qa.extractive import SentenceHit, split_sentences
from qa.models import Scorer
from qa.prompt import looks_like_instruction

MAX_PASSAGES = 5
_DATE = re.compile(r"\d{1,4}\s*[年月日号]|[一二三四五六七八九十〇零]{1,4}[年月日]|世纪|年代")
_DIGIT = re.compile(r"\d|[一二三四五六七八九十百千万亿两]+[个家户名人位项条种次倍岁亿万%]")
_CONTENT = re.compile(r"[\w\u4e00-\u9fff]")
_FIGURE = re.compile(r"(?<![\d.])\d+(?:[.,]\d+)*(?![\d.])")
_DATE_AFTER = re.compile(r"\s*[年月日号时点:：/\-]")
_QUOTED = re.compile(r"[“「《\"]([^”」》\"]{2,30})[”」》\"]")
_DATELINE = re.compile(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}:\d{2}|\d{1,2}月\d{1,2}日电|记者")
_MAGNITUDE = "[万亿千百]*"

SENTENCE_FEATURES = (
    "dense",  # e5 cosine of question and sentence
    "dense_z",  # … standardised over the question's candidate sentences
    "dense_gap",  # best candidate's cosine minus this one's
    "dense_rank",  # 1 / (1 + rank of this cosine among the candidates)
    "coverage",  # IDF-weighted share of the question's words in the sentence
    "coverage_window",  # … in the sentence and its two neighbours
    "coverage_passage",  # … in the passage with its title
    "missing_idf",  # IDF of the most informative question word not in the sentence's window (/ 12)
    "top_terms",  # share of the question's two most informative words in the sentence
    "bigrams",  # share of the question's character bigrams in the sentence
    "bigrams_passage",  # … in the passage with its title
    "phrase",  # longest run of the question found verbatim in the sentence, over the question's length
    "numbers_q",  # the question has numbers
    "numbers_sentence",  # share of them in the sentence's window
    "numbers_passage",  # share of them in the passage with its title
    "names_q",  # names (people, places, bodies) in the question
    "names_sentence",  # share of them in the sentence's window
    "names_passage",  # share of them in the passage with its title
    "novelty",  # share of the sentence's characters that are not in the question
    "has_digit",
    "has_date",
    "length",  # characters / 100
    "position",  # index of the sentence in its passage / sentences in it
    "first",  # first sentence of its passage
    "rank",  # passage rank / MAX_PASSAGES
    "passage_dense",  # e5 cosine of question and passage (from retrieval)
    "passage_fused",  # the passage's fused retrieval score over the best one's
    "asks_unit",  # the question has characters after 多少 / 几
    "unit_match",  # … and a prefix of them follows a figure in the sentence (多少套 → 165万套)
    "novel_figures",  # figures in the sentence that are neither dates nor in the question (/ 3, at most 1)
    "slot",  # closeness of such a figure to a question word in the sentence: 1 / (1 + gap / 4)
    "novel_quote",  # a quoted or titled phrase (“…”, 《…》) in the sentence that the question does not hold
    "dateline",  # a timestamp, 某月某日电 or 记者: the header of a news story
    "coverage_gap",  # best candidate's coverage minus this one's (the word features, like dense, relative)
    "coverage_window_gap",
    "bigrams_gap",
    "top_terms_gap",
    *(f"kind_{k}" for k in ANSWER_KINDS),
)


_COLUMN = {name: i for i, name in enumerate(SENTENCE_FEATURES)}


@dataclass(frozen=True)
class Candidate:
    rank: int  # position of the passage in the retrieved list (0-based)
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Reading:
    """The reader's view of a question's passages: every candidate with its features and probability."""

    analysis: QueryAnalysis
    candidates: tuple[Candidate, ...]
    features: np.ndarray  # one row of SENTENCE_FEATURES per candidate
    probabilities: np.ndarray

    def hits(self) -> list[SentenceHit]:
        """Candidates as scored sentence hits, best first (instruction-like sentences are never quoted)."""
        out = [
            SentenceHit(c.rank, c.start, c.end, c.text, float(f[4]), float(f[0]), float(p))
            for c, f, p in zip(self.candidates, self.features, self.probabilities, strict=True)
            if not looks_like_instruction(c.text)
        ]
        return sorted(out, key=lambda h: -h.score)


def candidates_of(retrieved: Sequence[ScoredPassage], max_passages: int = MAX_PASSAGES) -> list[Candidate]:
    return [
        Candidate(rank, s, e, text)
        for rank, sp in enumerate(retrieved[:max_passages])
        for s, e, text in split_sentences(sp.passage.text)
    ]


class Reader:
    """Scores every sentence of the retrieved passages with a trained model (``qa.models``)."""

    def __init__(self, scorer: Scorer, embedder: Embedder) -> None:
        self.scorer = scorer
        self.embedder = embedder

    def read(self, analysis: QueryAnalysis, retrieved: Sequence[ScoredPassage]) -> Reading:
        cands = candidates_of(retrieved)
        if not cands:
            return Reading(analysis, (), np.zeros((0, len(SENTENCE_FEATURES))), np.zeros(0))
        qvec = self.embedder.embed_queries([analysis.text])[0]
        vectors = self.embedder.embed_passages([c.text for c in cands])
        rows = sentence_features(analysis, retrieved, cands, vectors @ qvec)
        return Reading(analysis, tuple(cands), rows, self.scorer.predict(rows))


def share(items: Sequence[str], hay: str) -> float:
    return sum(1 for x in items if x in hay) / len(items) if items else 0.0


def coverage(analysis: QueryAnalysis, hay: str) -> float:
    total = analysis.total_weight
    return sum(t.weight for t in analysis.terms if t.text in hay) / total if total else 0.0


def missing_idf(analysis: QueryAnalysis, hay: str) -> float:
    return max((t.weight for t in analysis.terms if t.text not in hay), default=0.0) / 12.0


def novel_figures(hay: str, question_numbers: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of the figures in ``hay`` that are not dates or times and not among the question's numbers."""
    spans = []
    for m in _FIGURE.finditer(hay):
        before = hay[m.start() - 1] if m.start() else ""
        if before in "/:-：" or _DATE_AFTER.match(hay, m.end()) or m.group().replace(",", "") in question_numbers:
            continue
        spans.append((m.start(), m.end()))
    return spans


def unit_match(unit: str, hay: str) -> bool:
    """Whether a prefix of the characters after the question's 多少 follows a figure in ``hay``."""
    return any(re.search(r"\d" + _MAGNITUDE + r"\s*" + re.escape(unit[:k]), hay) for k in range(len(unit), 0, -1))


def slot(analysis: QueryAnalysis, hay: str, figures: Sequence[tuple[int, int]]) -> float:
    """1 / (1 + gap / 4) for the closest pair of a question word and a novel figure in ``hay``."""
    if not figures:
        return 0.0
    best = None
    for term in analysis.terms:
        start = hay.find(term.text)
        while start >= 0:
            end = start + len(term.text)
            for fs, fe in figures:
                gap = fs - end if fs >= end else max(start - fe, 0)
                best = gap if best is None else min(best, gap)
            start = hay.find(term.text, end)
    return 0.0 if best is None else 1.0 / (1.0 + best / 4.0)


def novel_quote(question: str, hay: str) -> bool:
    return any(m.group(1) not in question for m in _QUOTED.finditer(hay))


def _longest_run(question: str, hay: str) -> int:
    """Length of the longest substring of ``question`` that occurs in ``hay`` (grown greedily)."""
    best, i, n = 0, 0, len(question)
    while i + best < n:
        length = best + 1
        while i + length <= n and question[i : i + length] in hay:
            best = length
            length += 1
        i += 1
    return best


def sentence_features(
    analysis: QueryAnalysis,
    retrieved: Sequence[ScoredPassage],
    cands: Sequence[Candidate],
    cosines: np.ndarray,
) -> np.ndarray:
    """One row of ``SENTENCE_FEATURES`` per candidate (``cosines``: e5 cosine of each with the question)."""
    cosines = np.asarray(cosines, dtype=np.float64)
    order = np.argsort(-cosines)
    dense_rank = np.empty(len(cands))
    dense_rank[order] = np.arange(len(cands))
    std = float(cosines.std()) or 1.0
    top_terms = [t.text for t in sorted(analysis.terms, key=lambda t: -t.weight)[:2]]
    question = analysis.text.lower()
    best_fused = max((s.score for s in retrieved[:MAX_PASSAGES]), default=0.0) or 1.0
    kinds = [float(analysis.kind == k) for k in ANSWER_KINDS]
    hays = [normalize(c.text).lower() for c in cands]
    by_passage: dict[int, list[int]] = {}
    for i, c in enumerate(cands):
        by_passage.setdefault(c.rank, []).append(i)
    rows = np.zeros((len(cands), len(SENTENCE_FEATURES)))
    for rank, members in by_passage.items():
        sp = retrieved[rank]
        passage_hay = normalize(sp.passage.title + "\n" + sp.passage.text).lower()
        passage_row = (
            coverage(analysis, passage_hay),
            len(analysis.bigrams & char_bigrams(passage_hay)) / len(analysis.bigrams) if analysis.bigrams else 0.0,
            share(analysis.numbers, passage_hay),
            share(analysis.names, passage_hay),
        )
        for j, i in enumerate(members):
            hay = hays[i]
            window = " ".join(hays[k] for k in members[max(0, j - 1) : j + 2])
            chars = [ch for ch in hay if _CONTENT.match(ch)]
            rows[i] = [
                cosines[i],
                (cosines[i] - cosines.mean()) / std,
                cosines[order[0]] - cosines[i],
                1.0 / (1.0 + dense_rank[i]),
                coverage(analysis, hay),
                coverage(analysis, window),
                passage_row[0],
                missing_idf(analysis, window),
                share(top_terms, hay),
                len(analysis.bigrams & char_bigrams(hay)) / len(analysis.bigrams) if analysis.bigrams else 0.0,
                passage_row[1],
                _longest_run(question, hay) / max(len(question), 1),
                float(bool(analysis.numbers)),
                share(analysis.numbers, window),
                passage_row[2],
                float(len(analysis.names)),
                share(analysis.names, window),
                passage_row[3],
                sum(1 for ch in chars if ch not in question) / len(chars) if chars else 0.0,
                float(bool(_DIGIT.search(hay))),
                float(bool(_DATE.search(hay))),
                len(hay) / 100.0,
                j / len(members),
                float(j == 0),
                rank / MAX_PASSAGES,
                float(sp.dense_score or 0.0),
                float(sp.score) / best_fused,
                float(bool(analysis.unit)),
                float(bool(analysis.unit) and unit_match(analysis.unit, hay)),
                min(len(figures := novel_figures(hay, analysis.numbers)), 3) / 3.0,
                slot(analysis, hay, figures),
                float(novel_quote(question, hay)),
                float(bool(_DATELINE.search(hay))),
                0.0,
                0.0,
                0.0,
                0.0,
                *kinds,
            ]
    for name in ("coverage", "coverage_window", "bigrams", "top_terms"):
        column = rows[:, _COLUMN[name]]
        rows[:, _COLUMN[name + "_gap"]] = column.max() - column
    return rows
