"""The support gate: can the retrieved passages answer this question at all?

Score thresholds alone are weak (e5 cosines bunch together), so the gate asks
what the question demands: its key terms (IDF-weighted), its numbers and
years, and how close the best passage and sentence come in meaning. These
signals are combined by a logistic model fitted on DuReader-checklist dev
(answerable vs. near-miss unanswerable questions); ``eval/gate_fit.json``
records the fit and its operating point (``python -m qa fit-gate`` redoes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.types import Support
from qa.terms import QuestionAnalysis, coverage, numbers_missing

FEATURES = ("passage_coverage", "sentence_coverage", "worst_missing", "number_missing", "dense", "sentence_dense")


@dataclass(frozen=True)
class GateModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float  # probability at strictness 0.5
    english_dense_threshold: float = 0.84

    def probability(self, features: np.ndarray) -> float:
        z = float(np.dot(self.weights, features)) + self.bias
        return 1.0 / (1.0 + math.exp(-z))

    def threshold_for(self, strictness: float) -> float:
        """Strictness 0 → accept almost anything; 0.5 → fitted point; 1 → very strict."""
        if strictness <= 0.5:
            return 0.02 + (self.threshold - 0.02) * strictness / 0.5
        return self.threshold + (0.98 - self.threshold) * (strictness - 0.5) / 0.5


# Fitted by ``python -m qa fit-gate`` on DuReader-checklist dev; see eval/gate_fit.json.
DEFAULT_GATE = GateModel(weights=(4.0, 2.0, -3.0, -3.0, 4.0, 2.0), bias=-6.0, threshold=0.5)


@dataclass(frozen=True)
class Evidence:
    """Gate signals for one candidate passage and its best sentence."""

    passage_coverage: float
    sentence_coverage: float
    worst_missing: float
    number_missing: bool
    dense: float
    sentence_dense: float
    missing_terms: tuple[str, ...]

    def vector(self) -> np.ndarray:
        return np.array(
            [
                self.passage_coverage,
                self.sentence_coverage,
                min(self.worst_missing / 12.0, 1.5),
                float(self.number_missing),
                self.dense,
                self.sentence_dense,
            ],
            dtype=np.float64,
        )


def evidence_for(
    analysis: QuestionAnalysis,
    title: str,
    passage: str,
    sentence: str,
    dense: float,
    sentence_dense: float,
) -> Evidence:
    cov_p, worst, missing = coverage(analysis, title + "\n" + passage)
    cov_s, _, _ = coverage(analysis, sentence)
    return Evidence(
        passage_coverage=cov_p,
        sentence_coverage=cov_s,
        worst_missing=worst,
        number_missing=bool(numbers_missing(analysis, title + passage)),
        dense=dense,
        sentence_dense=sentence_dense,
        missing_terms=missing,
    )


def decide(
    analysis: QuestionAnalysis, evidence: list[Evidence], strictness: float, model: GateModel = DEFAULT_GATE
) -> tuple[Support, int]:
    """The verdict and the index of the best-supported candidate (-1 if none)."""
    if not evidence:
        return Support(False, 0.0, (), "没有检索到任何段落"), -1
    if analysis.english:
        return _decide_english(analysis, evidence, strictness, model)
    probs = [model.probability(e.vector()) for e in evidence]
    best = int(np.argmax(probs))
    p = probs[best]
    chosen = evidence[best]
    supported = p >= model.threshold_for(strictness) and not chosen.number_missing
    reason = "" if supported else _reason(chosen)
    return Support(supported, p, chosen.missing_terms, reason), best


def _decide_english(
    analysis: QuestionAnalysis, evidence: list[Evidence], strictness: float, model: GateModel
) -> tuple[Support, int]:
    """English questions share no words with Chinese text: rely on meaning and numbers."""
    scores = [e.sentence_dense if not e.number_missing else 0.0 for e in evidence]
    best = int(np.argmax(scores))
    threshold = model.english_dense_threshold + (strictness - 0.5) * 0.04
    ok = scores[best] >= threshold
    confidence = max(0.0, min(1.0, 0.5 + (scores[best] - threshold) * 10))
    return Support(ok, confidence, (), "" if ok else "资料中没有与该英文问题足够相关的内容"), best


def _reason(e: Evidence) -> str:
    if e.number_missing:
        return "问题中的数字或年份在资料中没有出现"
    if e.missing_terms:
        return "资料中没有提到：" + "、".join(e.missing_terms[:5])
    return "检索到的段落与问题不够相关"
