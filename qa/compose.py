"""Composing the extractive answer from what the reader found.

The best sentence is quoted verbatim with its ``[n]``. A list question (``有哪些``)
also gets the other sentences of that passage the reader rates at least half as
likely, in passage order (at most ``LIST_POINTS``). Sentences are never padded:
nothing is quoted that the reader did not pick.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.chunk import sentence_spans
from qa.extractive import SentenceHit

LIST_POINTS = 4
_LIST_SHARE = 0.5


def choose(hits: Sequence[SentenceHit], kind: str) -> list[SentenceHit]:
    """The sentences to quote for one question, in passage order."""
    if not hits:
        return []
    best = hits[0]
    if kind != "list":
        return [best]
    same = [h for h in hits if h.rank == best.rank and h.score >= _LIST_SHARE * best.score]
    return sorted(same[:LIST_POINTS], key=lambda h: h.start)


def compose(chosen: Sequence[SentenceHit]) -> str:
    """Quoted sentences with their citation numbers, e.g. ``…5200万户。[1]``; a quote holding several
    sentences (a quotation and its speaker) gets the number after each."""
    return "".join(f"{h.text[s:e]}[{h.rank + 1}]" for h in chosen for s, e in sentence_spans(h.text))
