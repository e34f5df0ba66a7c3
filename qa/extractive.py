"""The offline answerer: quote the sentences that answer the question.

Every sentence of the top passages is scored by a linear model over a few
signals: how much of the question it covers (IDF-weighted terms, character
bigrams, the terms next to the question word, and what it adds over the
other sentences of its passage), how close it is in meaning (e5 cosine, raw
and standardised over the candidates), whether it holds the kind of answer
asked for (a number in 亩 for 多少亩, a year for 哪一年, a name for 谁), and
the rank of its passage. The weights were fitted on CMRC2018 dev (see
``SENTENCE_WEIGHTS``). The best sentence is quoted verbatim with its ``[n]``;
a close runner-up of the same passage (or the next sentence, when the best
one is short or lacks the kind of answer) is added, and for a message asking
several questions, the best sentence for each further part. A best sentence
that is a heading restating the question is replaced by its section's opening.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.text import normalize
from core.types import ScoredPassage
from ingest.chunk import sentence_spans, split_sentences
from ingest.embed import Embedder
from qa.prompt import looks_like_instruction
from qa.terms import (
    QuestionAnalysis,
    analyze,
    asks_wh,
    char_bigrams,
    coverage,
    focus_share,
    key_missing,
    numbers_missing,
    required_missing,
    restates,
    typed_answer,
)

_CONTENT = re.compile(r"[\w\u4e00-\u9fff]")

SENTENCE_FEATURES = (
    "coverage",  # IDF-weighted share of the question's terms in the sentence
    "coverage_prev",  # … in the sentence before
    "coverage_next",  # … in the sentence after
    "coverage_passage",  # … in the passage with its title
    "bigrams",  # share of the question's character bigrams in the sentence (catches what word cuts miss)
    "focus",  # share of the terms next to the question word (what is asked about) in the sentence
    "distinct",  # coverage counting each term by 1 / (sentences of the passage holding it): what this sentence adds
    "dense",  # e5 cosine of question and sentence
    "dense_z",  # that cosine standardised over all candidate sentences of the question
    "dense_passage",  # e5 cosine of question and passage
    "typed_yes",  # holds an answer of the demanded kind (number in the unit asked, date)
    "typed_no",  # the kind can be checked and is absent
    "numbers_missing",  # a number or year of the question is absent from the sentence and its neighbours
    "short",  # fewer than 12 characters
    "rank",  # passage rank / 4
    "key",  # share of the key nouns (the thing whose value is asked) in the sentence
    "predicate",  # share of the question's verbs in the sentence (封顶 in 多少栋楼已经封顶)
    "clause",  # share of the terms of the question word's clause (not an attribution before it, such as 某某认为，)
)
_DENSE = SENTENCE_FEATURES.index("dense")
_TYPED = SENTENCE_FEATURES.index("typed_yes")
# Fitted by ``python -m qa fit-gate`` (logistic regression: does this sentence hold the
# gold answer?) on the first 300 questions of CMRC2018 dev; see eval/gate_fit.json.
SENTENCE_WEIGHTS = (
    -0.87,
    0.06,
    0.02,
    0.65,
    1.61,
    1.41,
    2.65,
    0.94,
    1.06,
    1.18,
    0.0,
    -2.1,
    -0.72,
    0.35,
    -1.35,
    -0.1,
    1.45,
    -1.05,
)

# English questions: the same features, fitted by ``python -m qa fit-english`` on the en-fit half of
# eval/english_questions.jsonl (term signals there come from dictionary translations, and the
# features of the question word's neighbourhood are empty); see eval/english_fit.json.
ENGLISH_SENTENCE_WEIGHTS = (
    2.17,
    -0.51,
    0.37,
    -2.9,
    -0.27,
    0.0,
    4.95,
    0.16,
    0.95,
    1.04,
    0.45,
    -3.6,
    -0.76,
    -0.13,
    -2.26,
    0.0,
    0.0,
    0.0,
)


@dataclass(frozen=True)
class SentenceHit:
    rank: int  # position of the passage in the retrieved list (0-based)
    start: int  # offsets inside the passage text
    end: int
    text: str
    coverage: float
    dense: float
    score: float
    typed: bool | None = None  # holds an answer of the demanded kind (None: not checkable)


@dataclass(frozen=True)
class Candidates:
    """Every quotable sentence of the top passages, with its feature row."""

    spans: list[tuple[int, int, int, str]]  # (passage rank, start, end, text)
    features: np.ndarray  # one row of SENTENCE_FEATURES per span


def _passage_rows(
    analysis: QuestionAnalysis, passage: ScoredPassage, rank: int, sentences: Sequence[tuple[int, int, str]]
) -> list[list[float]]:
    """Feature rows of one passage's sentences, dense columns left at 0."""
    p = passage.passage
    covs = [coverage(analysis, t).share for _, _, t in sentences]
    cov_p = coverage(analysis, p.title + "\n" + p.text).share
    asked = analysis.bigrams
    distinct = _distinct_coverage(analysis, [t for _, _, t in sentences])
    rows = []
    for i, (_, _, text) in enumerate(sentences):
        window = " ".join(t for _, _, t in sentences[max(0, i - 1) : i + 2])
        typed = typed_answer(analysis, text)
        shared = len(asked & char_bigrams(normalize(text))) / len(asked) if asked else 0.0
        rows.append(
            [
                covs[i],
                covs[i - 1] if i > 0 else 0.0,
                covs[i + 1] if i + 1 < len(covs) else 0.0,
                cov_p,
                shared,
                focus_share(analysis, text),
                distinct[i],
                0.0,
                0.0,
                float(passage.dense_score or 0.0),
                float(typed is True),
                float(typed is False),
                float(bool(numbers_missing(analysis, window))),
                float(len(text) < 12),
                rank / 4,
                focus_share(analysis, text, "key"),
                focus_share(analysis, text, "predicate"),
                focus_share(analysis, text, "clause"),
            ]
        )
    return rows


def _distinct_coverage(analysis: QuestionAnalysis, sentences: Sequence[str]) -> list[float]:
    """Per sentence: the question's term weight it holds, each term shared among the sentences holding it."""
    hays = [normalize(t).lower() for t in sentences]
    out = [0.0] * len(hays)
    for term in analysis.terms:
        holders = [i for i, h in enumerate(hays) if term.found_in(h)]
        for i in holders:
            out[i] += term.weight / len(holders)
    return [v / analysis.total_weight for v in out]


def candidate_sentences(
    analysis: QuestionAnalysis,
    retrieved: Sequence[ScoredPassage],
    embedder: Embedder,
    question: str,
    max_passages: int = 5,
) -> Candidates:
    """The sentences of the first ``max_passages`` passages and their features."""
    spans: list[tuple[int, int, int, str]] = []
    rows: list[list[float]] = []
    for rank, p in enumerate(retrieved[:max_passages]):
        sents = split_sentences(p.passage.text)
        spans += [(rank, s, e, t) for s, e, t in sents]
        rows += _passage_rows(analysis, p, rank, sents)
    features = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(SENTENCE_FEATURES))
    if spans:
        qvec = embedder.embed_queries([question])[0]
        dense = embedder.embed_passages([t for *_, t in spans]) @ qvec
        features[:, _DENSE] = dense
        features[:, _DENSE + 1] = (dense - dense.mean()) / (dense.std() + 1e-6)
    return Candidates(spans, features)


def sentence_hits(
    analysis: QuestionAnalysis,
    retrieved: list[ScoredPassage],
    embedder: Embedder,
    question: str,
    max_passages: int = 5,
    weights: Sequence[float] | None = None,
) -> list[SentenceHit]:
    """Score every sentence of the first ``max_passages`` passages, best first (with ``weights``, or
    the fitted ``SENTENCE_WEIGHTS`` / ``ENGLISH_SENTENCE_WEIGHTS`` for the question's language)."""
    if weights is None:
        weights = ENGLISH_SENTENCE_WEIGHTS if analysis.english else SENTENCE_WEIGHTS
    cands = candidate_sentences(analysis, retrieved, embedder, question, max_passages)
    scores = cands.features @ np.asarray(weights, dtype=np.float64)
    hits = []
    for (rank, s, e, text), f, score in zip(cands.spans, cands.features, scores, strict=True):
        if looks_like_instruction(text):
            continue  # a prompt-injection sentence inside a document is never quoted as an answer
        typed = None if f[_TYPED] == f[_TYPED + 1] == 0 else bool(f[_TYPED])
        hits.append(SentenceHit(rank, s, e, text, float(f[0]), float(f[_DENSE]), float(score), typed))
    return sorted(hits, key=lambda h: -h.score)


def quote_start(analysis: QuestionAnalysis, hits: Sequence[SentenceHit], retrieved: Sequence[ScoredPassage]) -> int:
    """The passage to quote from: the best sentence's, unless that passage lacks an amount the
    question names (10亿元以上项目有多少个) and a lower one has it. Years and ordinals (第31届)
    are left out: a story gives them once, at its start."""
    if not hits:
        return -1
    texts: dict[int, str] = {}  # passage rank → title and text, in the order of their best sentence
    for h in hits:
        if h.rank not in texts:
            p = retrieved[h.rank].passage
            texts[h.rank] = p.title + "\n" + p.text
    hits = _holding_key(analysis, hits, texts)
    amounts = tuple(n for n in analysis.numbers if n.startswith("=") or n.endswith(("%", "‰")))
    if amounts:
        only = replace(analysis, numbers=amounts)
        for rank in dict.fromkeys(h.rank for h in hits):
            if not numbers_missing(only, texts[rank]):
                return rank
    return hits[0].rank


def _holding_key(
    analysis: QuestionAnalysis, hits: Sequence[SentenceHit], texts: dict[int, str]
) -> Sequence[SentenceHit]:
    """``hits`` without the passages ranked before the first one that holds what is asked about,
    when the best passage lacks the key noun (项目经理 in 项目经理是谁) and a later one has it, with
    the question's names and at least the same coverage. ``texts`` are the passages (with their
    titles) by rank, best first."""
    first = texts[hits[0].rank]
    if not analysis.key or not key_missing(analysis, first):
        return hits
    floor = coverage(analysis, first).share
    for rank, text in texts.items():
        if (
            not key_missing(analysis, text)
            and not required_missing(analysis, text)
            and coverage(analysis, text).share >= floor
        ):
            return [h for h in hits if h.rank == rank]
    return hits


def quotes_the_kind(analysis: QuestionAnalysis, chosen: Sequence[SentenceHit]) -> bool:
    """Whether a quote can answer a question asking for a number or a date (多少, 哪一年): some
    quoted sentence holds one. A quote without it does not answer, however close its words."""
    if analysis.answer_type not in ("number", "time"):
        return True
    return any(h.typed is not False for h in chosen)


def best_per_passage(hits: list[SentenceHit]) -> dict[int, SentenceHit]:
    best: dict[int, SentenceHit] = {}
    for h in hits:
        if h.rank not in best:
            best[h.rank] = h
    return best


def choose_sentences(
    analysis: QuestionAnalysis,
    hits: list[SentenceHit],
    anchor: int,
    margin: float = 2.0,
    part_hits: Sequence[list[SentenceHit]] = (),
) -> list[SentenceHit]:
    """The sentences to quote, in passage order.

    The best sentence of the anchor passage and a runner-up (see ``_best_and_runner``),
    or, when that best sentence is a heading restating the question, its section
    (``_section_under``); then, for a question in several parts (two question
    marks), the best sentence for each part that the quote does not cover yet.
    ``part_hits`` holds the sentences scored for each part on its own
    (``question_parts``); without it, a part takes the hit covering most of it
    among those close to the best.
    """
    if not hits:
        return []
    first = next((h for h in hits if h.rank == anchor), hits[0])
    chosen = _section_under(analysis, first, hits) or _best_and_runner(analysis, hits, anchor, margin)
    parts = question_parts(analysis.question)
    for i, part in enumerate(parts if len(parts) > 1 else ()):
        own = part_hits[i] if i < len(part_hits) else None
        extra = _best_for_part(analyze(part), own or hits, chosen, None if own else first.score - _PART_FLOOR)
        if extra is not None:
            chosen.append(extra)
    return sorted(chosen, key=lambda h: (h.rank, h.start))


def _best_and_runner(
    analysis: QuestionAnalysis, hits: list[SentenceHit], anchor: int, margin: float
) -> list[SentenceHit]:
    """The best sentence of the anchor passage that does not merely repeat the question; then a
    runner-up of the same passage within ``margin`` (a logit: on CMRC2018 dev questions 300–900,
    0.5 / 1 / 2 quote the answer for 82.8 / 84.0 / 85.8 % at 61 / 65 / 71 characters on average),
    or, when the best one is short or lacks the kind of answer asked for, the sentence right after it."""
    if asks_wh(analysis):
        hits = [h for h in hits if not restates(analysis, h.text)] or hits
    first = next((h for h in hits if h.rank == anchor), hits[0])
    same = [h for h in hits if h.rank == first.rank and h is not first]
    runner = next((h for h in same if h.score >= first.score - margin), None)
    if runner is None and (first.typed is False or len(first.text) < 20):
        after = [h for h in same if h.start >= first.end]
        runner = min(after, key=lambda h: h.start) if after else None
    return [first] if runner is None else [first, runner]


def _section_under(analysis: QuestionAnalysis, first: SentenceHit, hits: list[SentenceHit]) -> list[SentenceHit]:
    """When the best sentence is a heading that only restates the question (处理好速度与质量的关系。
    for 企业该咋处理好速度和质量的关系？), the first two sentences of its section: what the heading
    promises is said there. Empty otherwise."""
    if not (asks_wh(analysis) and restates(analysis, first.text)):
        return []
    after = sorted((h for h in hits if h.rank == first.rank and h.start >= first.end), key=lambda h: h.start)
    return after[:SECTION_SENTENCES]


SECTION_SENTENCES = 2
_PART_FLOOR = 2.0  # how far below the best sentence another part's sentence may score (without own hits)


def question_parts(question: str) -> list[str]:
    """The questions asked in one message: ``A？B？`` → ``["A？", "B？"]``, and
    ``A和B分别…`` (or ``各自``) → ``["A…", "B…"]``."""
    parts = [p for p in re.findall(r"[^？?]+[？?]*", question) if len(_CONTENT.findall(p)) >= 4]
    parts = [q for p in parts for q in _respectively(p)]
    return parts or [question]


_RESPECTIVELY = re.compile(r"(分别|各自的?)")


def _respectively(question: str) -> list[str]:
    """``调研组认为短视频平台和居民储蓄分别是怎样冲击实体店的？`` → ``["调研组认为短视频平台是怎样
    冲击实体店的？", "居民储蓄是怎样冲击实体店的？"]``: one question per conjunct before 分别 / 各自.
    The conjuncts are split at 和 when there is one (``立与破的关系和速度与质量的关系``), else at
    与 / 及 / 、; single characters (``立与破分别对应什么``) are not split."""
    m = _RESPECTIVELY.search(question)
    if m is None:
        return [question]
    clause_start = max(question.rfind(c, 0, m.start()) for c in "，,；;：:") + 1
    before, phrase, rest = question[:clause_start], question[clause_start : m.start()], question[m.end() :]
    if not phrase.strip() and clause_start > 0:  # 进行股权融资和债券融资，分别募集了多少资金: the clause before
        start = max(question.rfind(c, 0, clause_start - 1) for c in "，,；;：:") + 1
        before, phrase = question[:start], question[start : clause_start - 1]
        rest = question[clause_start - 1] + rest
    conjuncts = phrase.split("和") if "和" in phrase else re.split(r"[与及、]", phrase)
    if len(conjuncts) < 2 or any(len(_CONTENT.findall(c)) < 2 for c in conjuncts[1:]):
        return [question]
    joiner = "的" if m.group(1).startswith("各自") and not rest.startswith("的") else ""
    return [before + c + joiner + rest for c in conjuncts]


def _best_for_part(
    part: QuestionAnalysis, hits: list[SentenceHit], chosen: list[SentenceHit], floor: float | None
) -> SentenceHit | None:
    """The first hit (best first; scoring at least ``floor`` if given) covering most of ``part``,
    unless the quote covers it already."""
    quoted = "".join(h.text for h in chosen)
    if not part.terms or coverage(part, quoted).share >= 0.8:
        return None
    taken = {(h.rank, h.start) for h in chosen}
    best, best_cov = None, 0.5
    for h in hits:
        if (h.rank, h.start) in taken or (floor is not None and h.score < floor):
            continue
        cov = coverage(part, h.text).share
        if cov > best_cov:
            best, best_cov = h, cov
            if floor is None:
                break  # scored for this part: the first that covers it is the best
    return best


def compose(chosen: list[SentenceHit]) -> str:
    """Quoted sentences with their citation numbers, e.g. ``…5200万户。[1]``.

    A quote holding several sentences (a quotation and its speaker) gets the
    number after each, so every sentence of the answer carries its source.
    """
    return "".join(f"{h.text[s:e]}[{h.rank + 1}]" for h in chosen for s, e in sentence_spans(h.text))
