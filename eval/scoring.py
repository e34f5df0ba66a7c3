"""Offline evaluation: score answers against a question set and sum up.

A question is answered correctly when the (non-refused) answer contains one
of its ``answers`` (or, for RGB-style questions, one alternative of every
``required`` group); an unanswerable question is answered correctly by a
refusal. Texts are compared after NFKC (full-width → half-width), with all
whitespace and the ``[n]`` citation markers removed, ignoring case; a second
try also maps traditional to simplified characters. A passage *hits* when it
contains one of the question's ``evidence`` quotes under the same rules.

``evaluate(assistant, questions)`` answers every question, scores it and
returns flat metrics. ``run_questions`` does the work and yields one record
per question (``Answer.to_record`` plus the scores), appending each to
``results.jsonl`` as it goes so that an interrupted run can resume.

Latency is the assistant's own ``Answer.latency_ms``, measured cold: the
embedder's cache of recent texts is emptied before each question.

The strictness sweep is exact, not estimated: after the real answer (timed,
with the configured answerer) each question is asked again with the
extractive answerer at every strictness of the grid. The embeddings the
first ask computed are replayed from memory, so a rerun costs only the
retrieval, the gate and the answer composition.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidQuestionError, YijuError
from core.types import REFUSAL_TEXT
from ingest.index import Index
from qa.assistant import Assistant
from qa.verify import MARKER

STRICTNESS_GRID = tuple(round(i / 10, 1) for i in range(11))
METHODS = ("bm25", "dense", "fused", "hybrid")
RETRIEVAL_K = 10
_SPACE = re.compile(r"\s+")

Scope = Callable[["Question"], Index]


@dataclass(frozen=True)
class Question:
    """One evaluation question (the JSONL question-set format).

    ``required`` (RGB): every group must be matched by one of its
    alternatives; when empty, matching any of ``answers`` is enough.
    """

    id: str
    question: str
    answerable: bool
    answers: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    required: tuple[tuple[str, ...], ...] = ()
    doc: str = ""  # a CRUD-RAG news document as ``FILE:LINE`` (question sets on that corpus)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Question:
        return cls(
            id=str(data["id"]),
            question=str(data["question"]),
            answerable=bool(data["answerable"]),
            answers=tuple(str(a) for a in data.get("answers", ())),
            evidence=tuple(str(e) for e in data.get("evidence", ())),
            required=tuple(tuple(str(a) for a in group) for group in data.get("required", ())),
            doc=str(data.get("doc", "")),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "answerable": self.answerable,
            "answers": list(self.answers),
            "evidence": list(self.evidence),
        }
        if self.required:
            data["required"] = [list(group) for group in self.required]
        if self.doc:
            data["doc"] = self.doc
        return data


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set; a malformed line is an error naming the line."""
    questions: list[Question] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                questions.append(Question.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise YijuError(
                    f"{path} 第 {lineno} 行不是有效的评测题（{type(exc).__name__}: {exc}）。"
                    '每行应为 {"id", "question", "answerable", "answers", "evidence"}。'
                ) from exc
    return questions


# ---------------------------------------------------------------- scoring


def match_key(text: str) -> str:
    """The form texts are compared in: NFKC, no whitespace, no ``[n]`` markers, lower case."""
    text = MARKER.sub("", text)
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


def _simplified(key: str) -> str:
    from core.text import to_simplified

    return to_simplified(key)


def contains(text: str, needle: str) -> bool:
    """Does ``text`` contain ``needle`` (compared as ``match_key``, then also simplified)?"""
    hay, pin = match_key(text), match_key(needle)
    if not pin:
        return False
    return pin in hay or _simplified(pin) in _simplified(hay)


def contains_any(text: str, needles: Iterable[str]) -> bool:
    return any(contains(text, n) for n in needles)


def is_correct(q: Question, answer: str, refused: bool) -> bool:
    if not q.answerable:
        return refused
    if refused:
        return False
    if q.required:
        return all(contains_any(answer, group) for group in q.required)
    return contains_any(answer, q.answers) if q.answers else True


def passage_hits(q: Question, passage_text: str) -> bool:
    return contains_any(passage_text, q.evidence)


def hit_rank(q: Question, passage_texts: Sequence[str]) -> int | None:
    """1-based rank of the first passage holding an evidence quote, or None."""
    for rank, text in enumerate(passage_texts, start=1):
        if passage_hits(q, text):
            return rank
    return None


def score_record(q: Question, record: dict[str, Any]) -> dict[str, Any]:
    """The scores of one answer record (``Answer.to_record`` shape)."""
    citations = record.get("citations", [])
    return {
        "answerable": q.answerable,
        "expected": list(q.answers),
        "required": [list(g) for g in q.required],
        "evidence": list(q.evidence),
        "correct": is_correct(q, record.get("answer", ""), bool(record.get("refused"))),
        "citation_hits": sum(passage_hits(q, c.get("text", "")) for c in citations) if q.evidence else 0,
    }


# ---------------------------------------------------------------- metrics


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _retrieval(ranks: Sequence[int | None], prefix: str = "") -> dict[str, float]:
    n = len(ranks)
    return {
        f"{prefix}recall_at_1": _ratio(sum(1 for r in ranks if r is not None and r <= 1), n),
        f"{prefix}recall_at_5": _ratio(sum(1 for r in ranks if r is not None and r <= 5), n),
        f"{prefix}mrr_at_10": _ratio(sum(1.0 / r for r in ranks if r is not None and r <= 10), n),
    }


def metrics(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Flat metrics of scored records; a ratio with nothing to count is NaN."""
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    refused = [r for r in records if r["refused"]]
    answered_ans = [r for r in ans if not r["refused"]]
    cited = [r for r in answered_ans if r.get("evidence")]
    with_evidence = [r for r in ans if r.get("evidence")]
    latencies = [float(r["latency_ms"]) for r in records if r.get("latency_ms") is not None and not r.get("error")]
    out: dict[str, float] = {
        "n": float(len(records)),
        "n_answerable": float(len(ans)),
        "n_unanswerable": float(len(una)),
        "accuracy": _ratio(sum(r["correct"] for r in records), len(records)),
        "answerable_accuracy": _ratio(sum(r["correct"] for r in ans), len(ans)),
        "answered_accuracy": _ratio(sum(r["correct"] for r in answered_ans), len(answered_ans)),
        "refusal_rate_unanswerable": _ratio(sum(r["refused"] for r in una), len(una)),
        "false_refusal_rate": _ratio(sum(r["refused"] for r in ans), len(ans)),
        "refusal_precision": _ratio(sum(not r["answerable"] for r in refused), len(refused)),
        "citation_precision": _ratio(
            sum(r["citation_hits"] for r in cited), sum(len(r.get("citations", [])) for r in cited)
        ),
        **_retrieval([r.get("retrieval_hit_rank") for r in with_evidence]),
        "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else math.nan,
        "latency_ms_p95": float(np.percentile(latencies, 95)) if latencies else math.nan,
        "latency_ms_mean": float(np.mean(latencies)) if latencies else math.nan,
    }
    methods = sorted({m for r in with_evidence for m in r.get("compare", {})}, key=_method_order)
    for m in methods:
        out.update(_retrieval([r.get("compare", {}).get(m) for r in with_evidence], prefix=f"{m}_"))
    return out


# The rates reported with a 95 % bootstrap interval (questions resampled with replacement).
INTERVAL_METRICS = (
    "accuracy",
    "answerable_accuracy",
    "refusal_rate_unanswerable",
    "false_refusal_rate",
    "citation_precision",
)


def _ratio_parts(records: Sequence[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per record, the numerator and denominator each interval metric sums (as ``metrics`` counts them)."""
    ans = np.array([bool(r["answerable"]) for r in records])
    refused = np.array([bool(r["refused"]) for r in records])
    correct = np.array([bool(r["correct"]) for r in records])
    cited = ans & ~refused & np.array([bool(r.get("evidence")) for r in records])
    hits = np.array([float(r.get("citation_hits") or 0) for r in records])
    n_cites = np.array([float(len(r.get("citations", []))) for r in records])
    return {
        "accuracy": (correct.astype(float), np.ones(len(records))),
        "answerable_accuracy": ((correct & ans).astype(float), ans.astype(float)),
        "refusal_rate_unanswerable": ((refused & ~ans).astype(float), (~ans).astype(float)),
        "false_refusal_rate": ((refused & ans).astype(float), ans.astype(float)),
        "citation_precision": (hits * cited, n_cites * cited),
    }


def bootstrap_intervals(
    records: Sequence[dict[str, Any]], resamples: int = 2000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of ``INTERVAL_METRICS`` over ``resamples`` resamplings of the questions."""
    if not records:
        return {}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(records), size=(resamples, len(records)))
    out = {}
    for key, (num, den) in _ratio_parts(records).items():
        if den.sum() == 0:
            continue
        totals = den[idx].sum(axis=1)
        values = num[idx].sum(axis=1)[totals > 0] / totals[totals > 0]
        out[key] = (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
    return out


def _method_order(method: str) -> int:
    return METHODS.index(method) if method in METHODS else len(METHODS)


def sweep_points(records: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Accuracy and refusal rates at each strictness of the recorded sweep."""
    grid = sorted({float(s) for r in records for s in r.get("sweep", {})})
    points = []
    for s in grid:
        key = f"{s:.2f}"
        rows = [(r["answerable"], r["sweep"][key]) for r in records if key in r.get("sweep", {})]
        ans = [v for a, v in rows if a]
        una = [v for a, v in rows if not a]
        points.append(
            {
                "strictness": s,
                "answerable_accuracy": _ratio(sum(v["correct"] for v in ans), len(ans)),
                "false_refusal_rate": _ratio(sum(v["refused"] for v in ans), len(ans)),
                "refusal_rate_unanswerable": _ratio(sum(v["refused"] for v in una), len(una)),
            }
        )
    return points


# ---------------------------------------------------------------- running


class _EmbeddingMemo:
    """Wraps an embedder: always computes while recording, answers from memory while replaying.

    Recording computes every call as the bare embedder would, so the timed
    first ask pays its real cost; the reruns of the sweep then replay.
    """

    def __init__(self, embedder: Any) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.dim = embedder.dim
        self.replay = False
        self._queries: dict[str, np.ndarray] = {}
        self._passages: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # anything else the embedder offers

    def clear(self) -> None:
        self.replay = False
        self._queries.clear()
        self._passages.clear()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self._queries, self.inner.embed_queries)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self._passages, self.inner.embed_passages)

    def _embed(
        self, texts: Sequence[str], memory: dict[str, np.ndarray], compute: Callable[[Sequence[str]], np.ndarray]
    ) -> np.ndarray:
        texts = list(texts)
        missing = (
            list(dict.fromkeys(texts)) if not self.replay else [t for t in dict.fromkeys(texts) if t not in memory]
        )
        if missing:
            memory.update(zip(missing, compute(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([memory[t] for t in texts])


class _Runner:
    """The assistants one question is asked with: the real one and one per strictness."""

    def __init__(self, assistant: Assistant, grid: Sequence[float]) -> None:
        self.base = assistant
        self.memo = _EmbeddingMemo(assistant.embedder)
        self.grid = tuple(grid)
        self._assistants: tuple[Assistant, dict[float, Assistant]] | None = None

    def cold_start(self) -> None:
        """Empty the embedder's own cache of recent texts, if it has one.

        Each question then pays for embedding itself and the sentences it
        reads, so latency does not depend on which questions came before
        (152 seed questions over 46 passages would otherwise be timed warm).
        """
        embedders = [self.memo.inner]
        if self.base.learned is not None:
            embedders.append(self.base.learned.reader.embedder)
        for embedder in embedders:
            clear = getattr(embedder, "clear_cache", None)
            if callable(clear):
                clear()

    def assistants(self, index: Index | None) -> tuple[Assistant, dict[float, Assistant]]:
        if index is None and self._assistants is not None:
            return self._assistants
        built = self._build(index or self.base.index)
        if index is None:
            self._assistants = built
        return built

    def _build(self, index: Index) -> tuple[Assistant, dict[float, Assistant]]:
        base = self.base
        main = self._derive(base.settings, index, base.llm)
        sweep = {s: self._derive(base.settings.replace(strictness=s), index, None) for s in self.grid}
        return main, sweep

    def _derive(self, settings: Any, index: Index, llm: Any) -> Assistant:
        assistant = Assistant(
            settings,
            self.memo,
            index=index,
            llm=llm,
            gate=self.base.gate,
            models=self.base.learned.models if self.base.learned else None,
            reader_embedder=self.base.reader_encoder,
        )
        assistant.retriever.reranker = self.base.retriever.reranker
        return assistant


def _refusal_record(q: Question, reason: str) -> dict[str, Any]:
    return {
        "id": q.id,
        "question": q.question,
        "answer": REFUSAL_TEXT,
        "refused": True,
        "citations": [],
        "retrieved": [],
        "mode": "extractive",
        "model": "",
        "latency_ms": 0.0,
        "standalone_question": "",
        "removed_sentences": [],
        "notice": reason,
        "error": reason,
    }


def evaluate_question(
    q: Question, runner: _Runner, index: Index | None, compare: Sequence[str], use_llm: bool = True
) -> dict[str, Any]:
    """Answer one question (timed), rerun it over the strictness grid and rank its evidence."""
    main, sweep = runner.assistants(index)
    runner.memo.clear()
    runner.cold_start()
    try:
        answer = main.ask(q.question, use_llm=use_llm)
    except InvalidQuestionError as exc:
        refusal = _refusal_record(q, str(exc))
        return {**refusal, **score_record(q, refusal), "retrieval_hit_rank": None}
    record = answer.to_record(q.id)
    record.update(score_record(q, record))
    record["support_confidence"] = round(answer.support.confidence, 4) if answer.support else None
    runner.memo.replay = True
    record["retrieval_hit_rank"] = _rank(main, q, "hybrid") if q.evidence else None
    record["compare"] = {m: _rank(main, q, m) for m in compare} if q.evidence else {}
    record["sweep"] = {}
    for s, assistant in sweep.items():
        rerun = assistant.ask(q.question, use_llm=False)
        record["sweep"][f"{s:.2f}"] = {"refused": rerun.refused, "correct": is_correct(q, rerun.text, rerun.refused)}
    runner.memo.clear()
    return record


def _rank(assistant: Assistant, q: Question, method: str) -> int | None:
    found = assistant.retriever.search(q.question, k=RETRIEVAL_K, method=method)  # type: ignore[arg-type]
    return hit_rank(q, [s.passage.text for s in found])


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """Records already in ``results.jsonl`` by id; a line cut by an interruption is dropped."""
    if not path.exists():
        return {}
    done: dict[str, dict[str, Any]] = {}
    kept: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            done[str(record["id"])] = record
            kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    os.replace(tmp, path)
    return done


def run_questions(
    assistant: Assistant,
    questions: Sequence[Question],
    *,
    results_path: Path | None = None,
    compare: Sequence[str] = (),
    strictness_grid: Sequence[float] = STRICTNESS_GRID,
    scope: Scope | None = None,
    use_llm: bool = True,
    progress: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield a scored record per question, in order; ids already in ``results_path`` are not asked again."""
    done = read_results(results_path) if results_path else {}
    todo = [q for q in questions if q.id not in done]
    runner = _Runner(assistant, strictness_grid)
    bar = _bar(len(todo), progress)
    sink = results_path.open("a", encoding="utf-8") if results_path else None
    try:
        for q in questions:
            if q.id in done:
                yield done[q.id]
                continue
            record = evaluate_question(q, runner, scope(q) if scope else None, compare, use_llm)
            if sink:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
            if bar is not None:
                bar.update(1)
            yield record
    finally:
        if sink:
            sink.close()
        if bar is not None:
            bar.close()


def _bar(total: int, enabled: bool) -> Any:
    if not enabled or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="评测", unit="题")


def evaluate(
    assistant: Assistant,
    questions: Sequence[Question],
    *,
    results_path: Path | None = None,
    compare: Sequence[str] = (),
    strictness_grid: Sequence[float] = STRICTNESS_GRID,
    scope: Scope | None = None,
    use_llm: bool = True,
    progress: bool = False,
) -> dict[str, float]:
    """Answer and score every question; flat metrics (see ``metrics``)."""
    records = list(
        run_questions(
            assistant,
            questions,
            results_path=results_path,
            compare=compare,
            strictness_grid=strictness_grid,
            scope=scope,
            use_llm=use_llm,
            progress=progress,
        )
    )
    return metrics(records)
