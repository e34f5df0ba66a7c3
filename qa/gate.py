"""The gate: do the retrieved passages support an answer at all?

One gradient-boosted model over features, not vetoes: the reader's top
probabilities and their margin, the best sentence's closeness and coverage,
how much of the question's words, numbers and names the best passage and all
the passages hold, and the retrieval scores. Its output is calibrated on the
validation split (isotonic), so the probability reads as how often questions
scoring so are answerable from such passages; ``strictness`` moves the
threshold on that probability (0.5 is the operating point chosen on
validation). ``python -m learn train-reader`` trains and calibrates it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.text import normalize
from core.types import ScoredPassage, Support
from qa.analysis import ANSWER_KINDS, QueryAnalysis
from qa.models import TrainedModels
from qa.read import MAX_PASSAGES, SENTENCE_FEATURES, Reading, coverage, missing_idf, share

_TAKEN = (
    "dense",
    "dense_z",
    "coverage",
    "coverage_window",
    "coverage_passage",
    "missing_idf",
    "top_terms",
    "bigrams",
    "bigrams_passage",
    "phrase",
    "numbers_sentence",
    "numbers_passage",
    "names_sentence",
    "names_passage",
    "novelty",
    "has_digit",
    "has_date",
    "rank",
    "passage_dense",
    "asks_unit",
    "unit_match",
    "novel_figures",
    "slot",
    "novel_quote",
)
_COLUMNS = [SENTENCE_FEATURES.index(name) for name in _TAKEN]

GATE_FEATURES = (
    "p1",  # the reader's best probability
    "p2",  # its second best
    "margin",  # p1 - p2
    "top3",  # mean of the best three
    "confident",  # candidates above 0.5
    *(f"best_{name}" for name in _TAKEN),  # the best sentence's own features
    "all_coverage",  # IDF-weighted share of the question's words in all the top passages together
    "all_numbers",  # share of the question's numbers there
    "all_names",  # share of its names there
    "all_missing_idf",  # the most informative word none of them holds (/ 12)
    "max_passage_dense",
    "terms",  # informative words in the question / 10
    "numbers_q",
    "names_q",
    *(f"kind_{k}" for k in ANSWER_KINDS),
)
_EMPTY = np.zeros(len(GATE_FEATURES))


def _hay(retrieved: Sequence[ScoredPassage]) -> str:
    return normalize("\n".join(s.passage.title + "\n" + s.passage.text for s in retrieved[:MAX_PASSAGES])).lower()


def gate_features(reading: Reading, retrieved: Sequence[ScoredPassage]) -> np.ndarray:
    """One row of ``GATE_FEATURES`` for a question and its retrieved passages."""
    a = reading.analysis
    if len(reading.probabilities) == 0:
        return _EMPTY.copy()
    probs = np.sort(reading.probabilities)[::-1]
    best = reading.features[int(np.argmax(reading.probabilities))]
    hay = _hay(retrieved)
    p2 = probs[1] if len(probs) > 1 else 0.0
    return np.array(
        [
            probs[0],
            p2,
            probs[0] - p2,
            float(probs[:3].mean()),
            float((probs > 0.5).sum()),
            *best[_COLUMNS],
            coverage(a, hay),
            share(a.numbers, hay),
            share(a.names, hay),
            missing_idf(a, hay),
            max((float(s.dense_score or 0.0) for s in retrieved[:MAX_PASSAGES]), default=0.0),
            len(a.terms) / 10.0,
            float(bool(a.numbers)),
            float(len(a.names)),
            *(float(a.kind == k) for k in ANSWER_KINDS),
        ]
    )


def threshold_for(fitted: float, strictness: float) -> float:
    """Strictness 0 → accept almost anything; 0.5 → the fitted point; 1 → very strict."""
    strictness = max(0.0, min(1.0, strictness))
    if strictness <= 0.5:
        return 0.02 + (fitted - 0.02) * strictness / 0.5
    return fitted + (0.98 - fitted) * (strictness - 0.5) / 0.5


class Gate:
    def __init__(self, models: TrainedModels) -> None:
        self.models = models

    def probability(self, reading: Reading, retrieved: Sequence[ScoredPassage]) -> float:
        raw = self.models.gate.predict(gate_features(reading, retrieved)[None, :])
        return float(self.models.calibration(raw)[0])

    def judge(self, reading: Reading, retrieved: Sequence[ScoredPassage], strictness: float) -> Support:
        if not retrieved:
            return Support(False, 0.0, (), "没有检索到任何段落")
        if len(reading.probabilities) == 0:
            return Support(False, 0.0, (), "检索到的段落中没有可引用的句子")
        p = self.probability(reading, retrieved)
        if p >= threshold_for(self.models.threshold, strictness):
            return Support(True, p, score=p)
        missing, reason = refusal_reason(reading.analysis, retrieved)
        return Support(False, p, missing, reason, score=p)


def refusal_reason(analysis: QueryAnalysis, retrieved: Sequence[ScoredPassage]) -> tuple[tuple[str, ...], str]:
    """What the passages lack, in words, for the refusal notice (it explains; it does not decide)."""
    hay = _hay(retrieved)
    names = tuple(n for n in analysis.names if n not in hay)
    if names:
        return names, "资料中没有提到：" + "、".join(names[:5])
    numbers = tuple(n for n in analysis.numbers if n not in hay)
    if numbers:
        return numbers, "资料中没有出现问题里的数字或年份：" + "、".join(numbers[:5])
    terms = tuple(t.text for t in sorted(analysis.terms, key=lambda t: -t.weight) if t.text not in hay)
    if terms:
        return terms, "资料中没有提到：" + "、".join(terms[:5])
    return (), "检索到的段落不足以回答该问题"
