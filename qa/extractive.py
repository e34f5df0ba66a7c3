"""The offline answerer: quote the sentences that answer the question.

Every sentence of the top passages is scored by how much of the question it
covers (IDF-weighted terms and numbers), how close it is in meaning (e5
cosine) and whether it holds the kind of answer asked for (a number for
多少, a date for 哪年). The best sentence is quoted verbatim with its ``[n]``;
a second one is added when it covers what the first leaves out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.types import ScoredPassage
from ingest.chunk import sentence_spans
from ingest.embed import Embedder
from qa.terms import QuestionAnalysis, coverage, numbers_missing

_HAS_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万亿两]+[个家户项名位种倍条]")
_HAS_TIME = re.compile(r"\d{4}年|\d+月|\d+日|今年|去年|明年|上半年|下半年|季度")
_MIN_SENTENCE = 6


@dataclass(frozen=True)
class SentenceHit:
    rank: int  # position of the passage in the retrieved list (0-based)
    start: int  # offsets inside the passage text
    end: int
    text: str
    coverage: float
    dense: float
    score: float


def _type_match(answer_type: str, text: str) -> float:
    if answer_type == "number":
        return 1.0 if _HAS_NUMBER.search(text) else 0.0
    if answer_type == "time":
        return 1.0 if _HAS_TIME.search(text) else 0.0
    return 0.5


def _split(p: ScoredPassage) -> list[tuple[int, int, str]]:
    out = []
    for s, e in sentence_spans(p.passage.text):
        text = p.passage.text[s:e]
        lead = len(text) - len(text.lstrip())
        text = text.strip()
        if len(text) >= _MIN_SENTENCE:
            out.append((s + lead, s + lead + len(text), text))
    return out


def sentence_hits(
    analysis: QuestionAnalysis,
    retrieved: list[ScoredPassage],
    embedder: Embedder,
    question: str,
    max_passages: int = 5,
) -> list[SentenceHit]:
    """Score every sentence of the first ``max_passages`` passages."""
    spans = [(rank, s, e, t) for rank, p in enumerate(retrieved[:max_passages]) for s, e, t in _split(p)]
    if not spans:
        return []
    qvec = embedder.embed_queries([question])[0]
    svecs = embedder.embed_passages([t for _, _, _, t in spans])
    dense = svecs @ qvec
    hits = []
    for (rank, s, e, text), d in zip(spans, dense, strict=True):
        p = retrieved[rank].passage
        cov_s, _, _ = coverage(analysis, text)
        cov_p, _, _ = coverage(analysis, p.title + p.text)
        number_penalty = 0.3 if numbers_missing(analysis, text) else 0.0
        score = (
            0.45 * cov_s
            + 0.15 * cov_p
            + 1.2 * float(d)
            + 0.12 * _type_match(analysis.answer_type, text)
            - number_penalty
            - 0.02 * rank
        )
        hits.append(SentenceHit(rank, s, e, text, cov_s, float(d), score))
    return sorted(hits, key=lambda h: -h.score)


def best_per_passage(hits: list[SentenceHit]) -> dict[int, SentenceHit]:
    best: dict[int, SentenceHit] = {}
    for h in hits:
        if h.rank not in best:
            best[h.rank] = h
    return best


def choose_sentences(analysis: QuestionAnalysis, hits: list[SentenceHit], anchor: int) -> list[SentenceHit]:
    """The best sentence of the anchor passage, plus one more if it adds missing terms."""
    first = next((h for h in hits if h.rank == anchor), hits[0])
    chosen = [first]
    _, _, missing = coverage(analysis, first.text)
    if missing or first.end - first.start < 15:
        for h in hits:
            if h is first or h.score < first.score - 0.12:
                continue
            adds = any(m in h.text for m in missing) or (h.rank == first.rank and h.start == first.end)
            if adds:
                chosen.append(h)
                break
    return sorted(chosen, key=lambda h: (h.rank, h.start))


def compose(chosen: list[SentenceHit]) -> str:
    """Quoted sentences with their citation numbers, e.g. ``…5200万户。[1]``."""
    return "".join(f"{h.text}[{h.rank + 1}]" for h in chosen)


