"""The learned answering path: read → gate → compose over retrieved passages.

Chosen with ``YIJU_ANSWERER=learned``. A message asking several questions is
read and judged part by part; the supported parts are answered and the
others named in the notice (``资料没有提到：…``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.types import Answer, ScoredPassage, Support
from ingest.embed import Embedder
from qa.analysis import analyse
from qa.compose import choose, compose
from qa.extractive import question_parts
from qa.gate import Gate
from qa.models import TrainedModels
from qa.read import Reader, Reading
from qa.verify import verify


@dataclass(frozen=True)
class Part:
    """One question of a message, as read and judged over the message's passages."""

    question: str
    reading: Reading
    support: Support


@dataclass(frozen=True)
class Assessment:
    parts: list[Part]

    @property
    def supported(self) -> list[Part]:
        return [p for p in self.parts if p.support.supported]

    @property
    def support(self) -> Support:
        """The verdict shown with the answer: the first supported part's, else the first part's."""
        return (self.supported or self.parts)[0].support


class LearnedAnswerer:
    def __init__(self, models: TrainedModels, embedder: Embedder) -> None:
        self.models = models
        self.reader = Reader(models.reader, embedder)
        self.gate = Gate(models)

    def assess(self, query: str, retrieved: Sequence[ScoredPassage], strictness: float) -> Assessment:
        parts = []
        for part in question_parts(query):
            reading = self.reader.read(analyse(part), retrieved)
            parts.append(Part(part, reading, self.gate.judge(reading, retrieved, strictness)))
        return Assessment(parts)

    def answer(self, base: Answer, a: Assessment) -> Answer:
        """Quote the reader's best sentences for each supported part; name the parts not covered."""
        chosen = []
        for part in a.supported:
            for hit in choose(part.reading.hits(), part.reading.analysis.kind):
                if hit not in chosen:
                    chosen.append(hit)
        checked = verify(compose(chosen), list(base.retrieved))
        if not checked.citations:
            return base
        notice = ""
        if len(a.parts) > 1 and len(a.supported) < len(a.parts):
            notice = "资料没有提到：" + "；".join(p.question for p in a.parts if not p.support.supported)
        return replace(base, text=checked.text, refused=False, citations=checked.citations, notice=notice)
