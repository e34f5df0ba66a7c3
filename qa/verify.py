"""Citation verification: keep only the answer sentences the sources support.

Every answer sentence must cite at least one retrieved passage with ``[n]``
(or another style models write: ``qa.citations`` pairs sentences with their
markers); every number, percentage, date and named entity in it must appear in
a passage it cites. Unsupported sentences are removed and listed. Each
citation carries the span of the passage that best supports each sentence citing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text import normalize
from core.types import Citation, ScoredPassage
from ingest.chunk import sentence_spans
from qa.citations import MARKER, Claim, split_claims
from qa.terms import number_forms

__all__ = ["MARKER", "Claim", "Verified", "best_span", "claim_facts", "split_claims", "unsupported_facts", "verify"]

_QUOTED = re.compile(r"[《“「『\"]([^》”」』\"]{2,30})[》”」』\"]")
_ORG = re.compile(
    r"[\u4e00-\u9fff（）()]{2,20}?(?:有限公司|股份公司|集团|银行|研究院|大学|协会|委员会|管理局|知识产权局)"
)


@dataclass(frozen=True)
class Verified:
    text: str
    citations: tuple[Citation, ...]
    removed: tuple[str, ...]


def claim_facts(text: str) -> tuple[set[str], set[str]]:
    """(numbers, entities) a sentence asserts."""
    numbers = {n for n in number_forms(text) if not re.fullmatch(r"[1-9]", n)}
    entities = {m.group(1) for m in _QUOTED.finditer(text)} | {m.group(0) for m in _ORG.finditer(text)}
    return numbers, entities


def unsupported_facts(text: str, sources: list[str]) -> list[str]:
    numbers, entities = claim_facts(text)
    source_numbers: set[str] = set().union(*(number_forms(s) for s in sources)) if sources else set()
    joined = normalize("".join(sources))
    missing = [n for n in sorted(numbers) if n not in source_numbers]
    missing += [e for e in sorted(entities) if normalize(e) not in joined]
    return missing


def best_span(sentence: str, passage: str) -> tuple[int, int]:
    """Offsets of the passage sentence sharing the most characters with ``sentence``."""
    target = set(normalize(sentence))
    best, best_score = (0, len(passage)), -1.0
    for s, e in sentence_spans(passage):
        chunk = passage[s:e]
        score = len(target & set(normalize(chunk))) / (1 + 0.01 * len(chunk))
        if score > best_score:
            best, best_score = (s, e), score
    s, e = best
    while s < e and passage[s].isspace():
        s += 1
    return s, e


def verify(answer: str, retrieved: list[ScoredPassage]) -> Verified:
    """Drop unsupported sentences; renumber citations 1..m in order of first use."""
    kept: list[tuple[str, list[int]]] = []  # supported sentences and the passages they cite
    removed: list[str] = []
    spans: dict[int, list[tuple[int, int]]] = {}  # passage number as cited → its supporting spans, first use first
    for claim in split_claims(answer, len(retrieved)):
        valid = [n for n in dict.fromkeys(claim.cited) if 1 <= n <= len(retrieved)]
        sources = [retrieved[n - 1].passage.text for n in valid]
        if not valid or unsupported_facts(claim.text, sources):
            removed.append(claim.text)
            continue
        for n in valid:
            span = best_span(claim.text, retrieved[n - 1].passage.text)
            if span not in spans.setdefault(n, []):
                spans[n].append(span)
        kept.append((claim.text, valid))
    number = {n: i for i, n in enumerate(spans, start=1)}
    text = "".join(t + "".join(f"[{number[n]}]" for n in cited) for t, cited in kept)
    citations = []
    for n, found in spans.items():
        p = retrieved[n - 1].passage
        s, e = found[0]
        citations.append(Citation(number[n], p, p.text[s:e], s, e, tuple(sorted(found))))
    return Verified(text, tuple(citations), tuple(removed))
