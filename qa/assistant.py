"""The one entry point: load the index and models once, then answer questions.

``Assistant.ask(question, history)`` returns an ``Answer``; ``Assistant.stream``
yields partial answer texts and ends with the verified ``Answer``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

from core.errors import InvalidQuestionError, LLMError
from core.settings import Settings
from core.text import normalize
from core.types import REFUSAL_TEXT, Answer, ScoredPassage, Support
from ingest.embed import Embedder
from ingest.index import Index, load_index
from qa.extractive import SentenceHit, best_per_passage, choose_sentences, compose, sentence_hits
from qa.followup import rewrite_rule
from qa.retrieve import HybridRetriever
from qa.support import DEFAULT_GATE, GateModel, decide, evidence_for
from qa.terms import QuestionAnalysis, analyze
from qa.verify import verify

log = logging.getLogger(__name__)

History = Sequence[tuple[str, str]]  # (user question, assistant answer) pairs


class Assistant:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        index: Index | None = None,
        llm: object | None = None,
        gate: GateModel = DEFAULT_GATE,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index = index or load_index(settings.resolved_index_dir)
        self.llm = llm  # qa.llm.LLMAnswerer or None
        self.gate = gate
        self.retriever = HybridRetriever(self.index, embedder, candidates=settings.candidates)

    def reload(self) -> None:
        """Switch to the current index generation (after an ingest or upload)."""
        self.index = load_index(self.settings.resolved_index_dir)
        self.retriever = HybridRetriever(self.index, self.embedder, candidates=self.settings.candidates)

    def check_question(self, question: str) -> str:
        if not isinstance(question, str) or not normalize(question):
            raise InvalidQuestionError("问题为空，请输入一个问题。")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestionError(
                f"问题过长（{len(question)} 字），请缩短到 {self.settings.max_question_chars} 字以内。"
            )
        return normalize(question)

    def standalone(self, question: str, history: History) -> str:
        if not history:
            return question
        if self.llm is not None:
            try:
                return self.llm.rewrite(question, history)  # type: ignore[attr-defined]
            except LLMError as exc:
                log.warning("follow-up rewrite by LLM failed, using the rule: %s", exc)
        return rewrite_rule(question, history)

    def ask(self, question: str, history: History = (), use_llm: bool = True) -> Answer:
        final: Answer | None = None
        for item in self.stream(question, history, use_llm=use_llm):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(self, question: str, history: History = (), use_llm: bool = True) -> Iterator[str | Answer]:
        """Yield partial texts (LLM streaming) and finally the verified Answer."""
        started = time.perf_counter()
        cleaned = self.check_question(question)
        query = self.standalone(cleaned, history)
        retrieved = self.retriever.search(query, k=self.settings.top_k)
        analysis = analyze(query)
        hits = sentence_hits(analysis, retrieved, self.embedder, query)
        support, anchor = self._gate(analysis, retrieved, hits)
        base = Answer(
            question=question,
            text=REFUSAL_TEXT,
            refused=True,
            citations=(),
            retrieved=tuple(retrieved),
            mode="extractive",
            latency_ms=0.0,
            standalone_question=query if query != cleaned else "",
            support=support,
        )
        if not support.supported:
            yield replace(base, latency_ms=_ms(started), notice=support.reason)
            return
        extractive = self._extractive(base, analysis, hits, anchor)
        if self.llm is None or not use_llm:
            yield replace(extractive, latency_ms=_ms(started))
            return
        yield from self._llm(base, extractive, query, started)

    def _gate(
        self, analysis: QuestionAnalysis, retrieved: list[ScoredPassage], hits: list[SentenceHit]
    ) -> tuple[Support, int]:
        best = best_per_passage(hits)
        ranks = sorted(best)
        evidence = [
            evidence_for(
                analysis,
                retrieved[r].passage.title,
                retrieved[r].passage.text,
                best[r].text,
                retrieved[r].dense_score or 0.0,
                best[r].dense,
            )
            for r in ranks
        ]
        support, i = decide(analysis, evidence, self.settings.strictness, self.gate)
        return support, (ranks[i] if i >= 0 else -1)

    def _extractive(self, base: Answer, analysis: QuestionAnalysis, hits: list[SentenceHit], anchor: int) -> Answer:
        chosen = choose_sentences(analysis, hits, anchor)
        checked = verify(compose(chosen), list(base.retrieved))
        if not checked.citations:
            return base
        return replace(base, text=checked.text, refused=False, citations=checked.citations)

    def _llm(self, base: Answer, extractive: Answer, query: str, started: float) -> Iterator[str | Answer]:
        from qa.llm import refusal_like

        llm = self.llm
        assert llm is not None
        text = ""
        try:
            for partial in llm.stream_answer(query, list(base.retrieved)):  # type: ignore[attr-defined]
                text = partial
                yield partial
        except LLMError as exc:
            notice = f"{exc} 以下为离线抽取式回答。"
            yield replace(extractive, latency_ms=_ms(started), notice=notice)
            return
        model = llm.model_name  # type: ignore[attr-defined]
        if refusal_like(text):
            yield replace(base, mode="llm", model=model, latency_ms=_ms(started), notice="LLM 判断资料不足以回答。")
            return
        checked = verify(text, list(base.retrieved))
        if not checked.citations:
            yield replace(
                base,
                mode="llm",
                model=model,
                removed_sentences=checked.removed,
                latency_ms=_ms(started),
                notice="LLM 的回答没有一句能被引用的资料证实，已拒答。",
            )
            return
        yield replace(
            base,
            text=checked.text,
            refused=False,
            citations=checked.citations,
            mode="llm",
            model=model,
            removed_sentences=checked.removed,
            latency_ms=_ms(started),
            notice=f"已删除 {len(checked.removed)} 句无法被资料证实的内容。" if checked.removed else "",
        )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
