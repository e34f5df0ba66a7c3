"""The support gate: can the retrieved passages answer this question at all?

Score thresholds alone are weak (e5 cosines bunch together), so the gate asks
what the question demands. Some demands no score can waive: its numbers and
years, the kind of answer it wants (``多少亩`` needs a number of 亩, ``哪一年``
a year, ``谁`` a name) and the key noun whose value is asked (``注册资本`` in
``注册资本是多少``) must be in a candidate passage. Among the candidates that
meet them, a logistic model combines term coverage (IDF-weighted), the most
informative missing term and the e5 closeness of passage and best sentence
into one probability. It was fitted on DuReader-checklist dev and CMRC2018
dev (answerable vs. near-miss unanswerable questions); ``eval/gate_fit.json``
records the fit and its operating point (``python -m qa fit-gate`` redoes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.types import ScoredPassage, Support
from qa.extractive import SentenceHit, best_per_passage
from qa.terms import QuestionAnalysis, coverage, key_missing, numbers_missing, required_missing, typed_answer

FEATURES = (
    "passage_coverage",  # IDF-weighted share of the question's terms in title + passage
    "multi_coverage",  # the same over terms of two or more characters
    "sentence_coverage",  # … in the best sentence and its neighbours
    "worst_missing",  # weight of the most informative term not found (IDF / 12)
    "number_missing",  # a number or year of the question is absent
    "typed_missing",  # the answer kind can be checked (number in a unit, date, name) and is absent
    "key_missing",  # the key noun next to the question word (注册资本 in 注册资本是多少) is absent
    "dense",  # e5 cosine of question and passage
    "sentence_dense",  # e5 cosine of question and best sentence
)


@dataclass(frozen=True)
class GateModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float  # probability at strictness 0.5
    # Cross-lingual e5 cosines run lower than same-language ones: a best sentence at this cosine
    # or more is taken as support. Fitted by ``python -m qa fit-english`` (eval/english_fit.md) at 05db0e7;
    # refitting after the names check (7554d7b) gives 0.7894, which measured worse (see README).
    english_dense_threshold: float = 0.7857

    def probability(self, features: np.ndarray) -> float:
        z = float(np.dot(self.weights, features)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def threshold_for(self, strictness: float) -> float:
        """Strictness 0 → accept almost anything; 0.5 → fitted point; 1 → very strict."""
        strictness = max(0.0, min(1.0, strictness))
        if strictness <= 0.5:
            return 0.02 + (self.threshold - 0.02) * strictness / 0.5
        return self.threshold + (0.98 - self.threshold) * (strictness - 0.5) / 0.5


# Fitted by ``python -m qa fit-gate`` on DuReader-checklist dev + CMRC2018 dev; see eval/gate_fit.json.
DEFAULT_GATE = GateModel(
    weights=(2.616, 0.438, 1.304, -0.52, -2.273, -1.288, 0.086, 1.729, 2.123), bias=-6.03, threshold=0.526
)


@dataclass(frozen=True)
class Evidence:
    """Gate signals for one candidate passage and its best sentence."""

    passage_coverage: float
    multi_coverage: float
    sentence_coverage: float
    worst_missing: float
    number_missing: bool
    typed_missing: bool
    key_missing: bool
    dense: float
    sentence_dense: float
    missing_terms: tuple[str, ...]
    missing_numbers: tuple[str, ...] = ()
    missing_required: tuple[str, ...] = ()  # quoted phrases, names, the key noun's attribute (not a feature)

    def vector(self) -> np.ndarray:
        return np.array(
            [
                self.passage_coverage,
                self.multi_coverage,
                self.sentence_coverage,
                min(self.worst_missing / 12.0, 1.0),
                float(self.number_missing),
                float(self.typed_missing),
                float(self.key_missing),
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
    context: str = "",
) -> Evidence:
    """Signals of one candidate. ``title`` is the article header (title, subtitles, bylines);
    ``sentence`` the passage's best sentence; ``context`` the opening of its article (where the
    names a question requires may be, see ``required_missing``)."""
    whole = title + "\n" + passage
    cov = coverage(analysis, whole, context)
    missing_numbers = numbers_missing(analysis, whole, context)
    typed = typed_answer(analysis, passage)
    return Evidence(
        passage_coverage=cov.share,
        multi_coverage=cov.share_multi,
        sentence_coverage=coverage(analysis, sentence).share,
        worst_missing=cov.worst,
        number_missing=bool(missing_numbers),
        typed_missing=typed is False,
        key_missing=bool(key_missing(analysis, whole)),
        dense=dense,
        sentence_dense=sentence_dense,
        missing_terms=cov.missing,
        missing_numbers=missing_numbers,
        missing_required=required_missing(analysis, whole, passage, context),
    )


def requirements_met(e: Evidence) -> bool:
    """What the question demands and no score can waive: its numbers and years, the kind of
    answer it asks for (a number in its unit, a date, a name), the key noun next to the
    question word, whose value is asked (``注册资本`` in ``注册资本是多少``), and the phrases it
    requires verbatim: quoted ones, names of people, places and organisations, and the
    attribute of the key noun (``新设立`` in ``新设立的个体工商户有多少户``)."""
    return not (e.number_missing or e.typed_missing or e.key_missing or e.missing_required)


def decide(
    analysis: QuestionAnalysis, evidence: list[Evidence], strictness: float, model: GateModel = DEFAULT_GATE
) -> tuple[Support, int]:
    """The verdict and the index of the best-supported candidate (-1 if none).

    The best candidate is the most probable one among those that meet the
    question's requirements; the question is answered when its probability
    reaches the threshold for ``strictness``.
    """
    if not evidence:
        return Support(False, 0.0, (), "没有检索到任何段落"), -1
    if analysis.english:
        return _decide_english(analysis, evidence, strictness, model)
    probs = np.array([model.probability(e.vector()) for e in evidence])
    eligible = np.array([requirements_met(e) for e in evidence])
    if not eligible.any():
        best = int(np.argmax(probs))
        reason = _reason(analysis, evidence[best])
        return Support(False, 0.0, evidence[best].missing_terms, reason, score=float(probs[best])), best
    best = int(np.argmax(np.where(eligible, probs, -1.0)))
    p = float(probs[best])
    chosen = evidence[best]
    supported = p >= model.threshold_for(strictness)
    reason = "" if supported else _reason(analysis, chosen)
    return Support(supported, p, chosen.missing_terms, reason, score=p), best


def _decide_english(
    analysis: QuestionAnalysis, evidence: list[Evidence], strictness: float, model: GateModel
) -> tuple[Support, int]:
    """English questions share no words with Chinese text: rely on meaning, years and the kind of answer."""
    scores = [0.0 if e.number_missing or e.typed_missing or e.missing_required else e.sentence_dense for e in evidence]
    best = int(np.argmax(scores))
    threshold = model.english_dense_threshold + (strictness - 0.5) * 0.04
    ok = scores[best] >= threshold
    confidence = max(0.0, min(1.0, 0.5 + (scores[best] - threshold) * 10))
    reason = ""
    if not ok:  # the Chinese path checks far more (news set: 81 % answered right, English 41 %)
        why = _reason(analysis, evidence[best]) if scores[best] == 0.0 else "资料中没有与该英文问题足够相关的内容"
        reason = why + "。英文问题只能按语义比对，改用中文提问往往能找到答案。"
    return Support(ok, confidence, (), reason, score=float(scores[best])), best


def _reason(analysis: QuestionAnalysis, e: Evidence) -> str:
    if e.number_missing:
        return "资料中没有出现问题里的数字或年份：" + "、".join(n.lstrip("=") for n in e.missing_numbers)
    if e.missing_required:
        return "资料中没有提到：" + "、".join(e.missing_required[:5])
    if e.typed_missing:
        return f"相关段落中没有问题所要的{wanted_kind(analysis)}"
    if e.key_missing or e.missing_terms:
        missing = e.missing_terms or analysis.key
        return "资料中没有提到：" + "、".join(missing[:5])
    return "检索到的段落与问题不够相关"


def wanted_kind(analysis: QuestionAnalysis) -> str:
    """The kind of answer the question asks for, in words (年份, 以“亩”计的数字, 比例…)."""
    if analysis.answer_type == "time":
        return {"年": "年份", "月": "月份", "日": "日期"}.get(analysis.unit, "日期或时间")
    if analysis.unit:
        return f"以“{analysis.unit}”计的数字" if analysis.unit != "%" else "比例"
    return {"time": "日期或时间", "person": "人名", "place": "地名"}.get(analysis.answer_type, "数字")


def candidate_evidence(
    analysis: QuestionAnalysis,
    retrieved: list[ScoredPassage],
    hits: list[SentenceHit],
    headers: list[str] | None = None,
    openings: list[str] | None = None,
) -> tuple[list[int], list[Evidence]]:
    """(passage ranks, their evidence) for every retrieved passage that has a scored sentence.

    ``headers[r]`` is the article header of passage ``r`` (title, subtitles, bylines);
    the passage title alone when not given. ``openings[r]`` is the opening of its article.
    """
    best = best_per_passage(hits)
    ranks = sorted(best)
    evidence = []
    for r in ranks:
        p = retrieved[r].passage
        header = headers[r] if headers else p.title
        opening = openings[r] if openings else ""
        dense = retrieved[r].dense_score or 0.0
        evidence.append(evidence_for(analysis, header, p.text, best[r].text, dense, best[r].dense, opening))
    return ranks, evidence
