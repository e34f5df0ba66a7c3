"""Training and validation cases: real retrieval over each source's own contexts, read by the real reader.

Every SQuAD-style source is indexed by the product's own ingest pipeline (so
passages, retrieval scores and sentence splits are what the answerer sees).
Each question gives a *normal* case (its top passages; they support an answer
when one holds an answer text) and, for every other answerable question, a
*noise* case: the same question over the best passages that hold no answer
text (on-topic noise, the right behaviour is a refusal), and for every
question with a number or a name, a *swapped* case: the number changed, or
the name replaced by one from another question of the source, where the
context holds neither (a synthetic near miss: another year, another body);
for the other answerable half a *neighbour* case (``neighbour_swapped``): a
year or a name of the question replaced by another of the same kind from its
own context, one that no sentence there names with the question's other
words (the near miss whose words are all on the page: another year of the
same story, a neighbouring body); and for that half a *removed* case (``removed``): the same
passages with the sentences holding the answer cut out, so that what is left
is on the topic, often with other figures of the same story, but does not say.
Unanswerable
questions (ChineseSquad 2.0, DuReader-checklist near misses) give cases with
no support.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from core.settings import Settings
from core.text import normalize
from core.types import Passage, ScoredPassage
from learn.sources import Item, Source, squad_items
from qa.analysis import QueryAnalysis, analyse
from qa.read import Candidate, candidates_of, sentence_features

TOP_K = 5
NOISE_POOL = 12


@dataclass
class Case:
    source: str
    qid: str
    kind: str  # normal | noise | swapped | neighbour | removed | impossible
    supported: bool  # some passage holds an answer text
    analysis: QueryAnalysis
    retrieved: list[ScoredPassage]
    candidates: list[Candidate]
    features: np.ndarray  # reader rows
    holds: np.ndarray  # per candidate: holds an answer text
    cosines: np.ndarray  # the reader encoder's cosine of the question with each candidate (features read it)
    base_cosines: np.ndarray | None = None  # the base e5 cosines, where the reader encoder is a tuned one

    def refeatured(self) -> Case:
        """The case with its question analysed and its rows computed again by the current code."""
        analysis = analyse(self.analysis.text)
        rows = (
            sentence_features(analysis, self.retrieved, self.candidates, self.cosines)
            if self.candidates
            else np.zeros((0, 0))
        )
        return replace(self, analysis=analysis, features=rows)

    def upgraded(self) -> Case:
        """The case with passages pickled by older code given the fields added since (at their defaults)."""
        return replace(self, retrieved=[replace(sp, passage=_current(sp.passage)) for sp in self.retrieved])


def _current(p: Passage) -> Passage:
    values = {}
    for f in fields(Passage):
        if hasattr(p, f.name):
            values[f.name] = getattr(p, f.name)
    return Passage(**values)


class MemoEmbedder:
    """The real embedder with every vector kept: a source's sentences are embedded in one batch."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[attr-defined]
        self.dim = inner.dim  # type: ignore[attr-defined]
        self._q: dict[str, np.ndarray] = {}
        self._p: dict[str, np.ndarray] = {}

    def _get(self, memo: dict[str, np.ndarray], texts: Sequence[str], embed: object) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            for t, v in zip(missing, embed(missing), strict=True):  # type: ignore[operator]
                memo[t] = v
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([memo[t] for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._get(self._q, texts, self.inner.embed_queries)  # type: ignore[attr-defined]

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._get(self._p, texts, self.inner.embed_passages)  # type: ignore[attr-defined]


NEWS_DISTRACTORS = 200


def news_items(src: Source) -> tuple[list[Item], list[object]]:
    """A JSONL set on CRUD-RAG stories: its questions with their story as context, and the stories
    plus ``NEWS_DISTRACTORS`` other news documents to index (as the news evaluation does)."""
    from eval.datasets import crud_rag_documents, crud_rag_references, crud_rag_texts
    from eval.scoring import load_questions
    from learn.sources import ROOT

    questions = [q for q in load_questions(ROOT / src.path) if q.id.startswith(src.ids)]
    stories = crud_rag_texts(sorted({q.doc for q in questions}))
    items = [Item(q.id, q.question, q.answers if q.answerable else (), "", stories[q.doc]) for q in questions]
    docs = crud_rag_references(sorted(stories)) + crud_rag_documents(NEWS_DISTRACTORS)
    return items, list({d.name: d for d in docs}.values())


def _index(
    src: Source,
    items: Sequence[Item],
    settings: Settings,
    embedder: object,
    work: Path,
    docs: Sequence[object] | None = None,
) -> object:
    from eval.datasets import squad_document, write_corpus
    from ingest.index import load_index
    from ingest.pipeline import ingest

    if docs is None:
        docs = list({(i.title, i.context): squad_document(i.title, i.context) for i in items}.values())
    folder = work / src.name
    write_corpus(docs, folder / "corpus")
    local = settings.replace(index_dir=folder / "index")
    report = ingest([folder / "corpus"], local, embedder)  # type: ignore[arg-type]
    print(
        f"  {src.name}: {report.documents} documents, {report.passages} passages "
        f"(embedded {report.embedded}) in {report.seconds:.0f} s",
        file=sys.stderr,
    )
    return load_index(local.resolved_index_dir)


def _holds(text: str, answers: Iterable[str]) -> bool:
    hay = normalize(text).replace(" ", "")
    return any(normalize(a).replace(" ", "") in hay for a in answers)


def _even(qid: str) -> bool:
    return hashlib.sha1(qid.encode()).digest()[0] % 2 == 0


def swapped(item: Item, others: Sequence[str], pick: int) -> str | None:
    """The question with its first number changed, or a name swapped for ``others[pick % len]``, such
    that the new value is nowhere in the context; None when neither can be done."""
    a = analyse(item.question)
    context = normalize(item.title + item.context)
    if a.numbers:
        n = a.numbers[0]
        value = float(n)
        steps = (1, 2, 3) if len(n) == 4 and n.isdigit() else (value or 1, 1, 7)
        for step in steps:
            new = f"{value + step:g}"
            if new not in context and n in item.question:
                return item.question.replace(n, new, 1)
    names = [x for x in a.names if x in item.question]
    for k in range(len(others)):
        other = others[(pick + k) % len(others)]
        if names and other not in context and other not in item.question:
            return item.question.replace(names[0], other, 1)
    return None


_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?=年)")
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?")
# jieba's name tags by kind: a name is only swapped for one of the same kind.
_NAME_KINDS = {"nr": "person", "nrt": "person", "nrfg": "person", "ns": "place", "nt": "body"}


@functools.lru_cache(maxsize=2048)
def _names_by_kind(text: str) -> dict[str, str]:
    import jieba.posseg

    out: dict[str, str] = {}
    for w in jieba.posseg.cut(text):
        kind = _NAME_KINDS.get(w.flag)
        if kind and len(w.word) >= 2:
            out.setdefault(w.word, kind)
    return out


def neighbour_swapped(item: Item, pick: int) -> str | None:
    """The question with a year or a name replaced by another of the same kind from its own context,
    such that no sentence of the context holds the new one together with any other word of the
    question; None when no such swap exists."""
    question = normalize(item.question)
    context = normalize(item.title + item.context)
    sentences = _SENTENCE.findall(context)
    words = [t.text for t in analyse(item.question).terms]

    def clear(old: str, new: str) -> bool:
        rest = [w for w in words if w not in old and old not in w and w not in new]
        if not rest or new in question:
            return False
        return not any(new in s and any(w in s for w in rest) for s in sentences)

    swaps = [(y, other) for y in _YEAR.findall(question) for other in sorted(set(_YEAR.findall(context)) - {y})]
    found = _names_by_kind(context)
    for name, kind in _names_by_kind(question).items():
        swaps += [(name, n) for n, k in found.items() if k == kind and name not in n and n not in name]
    usable = [(old, new) for old, new in swaps if old in question and clear(old, new)]
    if not usable:
        return None
    old, new = usable[pick % len(usable)]
    return question.replace(old, new, 1)


def _cut(text: str, spans: Sequence[tuple[int, int]]) -> str:
    kept, at = [], 0
    for start, end in sorted(spans):
        kept.append(text[at:start])
        at = end
    kept.append(text[at:])
    return "".join(kept)


def removed(case: Case) -> Case | None:
    """The case with every sentence holding the answer cut out of its passages (a passage left empty
    is dropped); None when the case has no such sentence or the rest no longer splits as before."""
    if case.kind != "normal" or not case.supported or not case.holds.any():
        return None
    spans: dict[int, list[tuple[int, int]]] = {}
    for cand, holds in zip(case.candidates, case.holds, strict=True):
        if holds:
            spans.setdefault(cand.rank, []).append((cand.start, cand.end))
    retrieved = []
    for rank, sp in enumerate(case.retrieved):
        if rank in spans:
            text = _cut(sp.passage.text, spans[rank])
            if not normalize(text).strip():
                continue
            sp = replace(sp, passage=replace(sp.passage, text=text))
        retrieved.append(sp)
    cands = candidates_of(retrieved)
    cosine = {c.text: v for c, v in zip(case.candidates, case.cosines, strict=True)}
    if not cands or any(c.text not in cosine for c in cands):
        return None
    base = None
    if case.base_cosines is not None:
        base_of = {c.text: v for c, v in zip(case.candidates, case.base_cosines, strict=True)}
        base = np.array([base_of[c.text] for c in cands])
    return Case(
        case.source,
        case.qid + "-removed",
        "removed",
        False,
        case.analysis,
        retrieved,
        cands,
        np.zeros((0, 0)),
        np.zeros(len(cands), dtype=bool),
        np.array([cosine[c.text] for c in cands]),
        base,
    )


def with_removed(cases: Sequence[Case]) -> list[Case]:
    """``cases`` and a removed twin of each answered case of the half without a noise case."""
    out = list(cases)
    for c in cases:
        if not _even(c.qid) and (twin := removed(c)) is not None:
            out.append(twin)
    return out


def encoder_cosines(encoder: object, cases: Sequence[Case]) -> list[np.ndarray]:
    """``encoder``'s cosine of each case's question with each of its candidates (one batch of all texts)."""
    texts = sorted({c.text for case in cases for c in case.candidates})
    questions = sorted({case.analysis.text for case in cases})
    sv = encoder.embed_passages(texts)  # type: ignore[attr-defined]
    qv = encoder.embed_queries(questions)  # type: ignore[attr-defined]
    s_at = {t: i for i, t in enumerate(texts)}
    q_at = {t: i for i, t in enumerate(questions)}
    return [
        sv[[s_at[c.text] for c in case.candidates]] @ qv[q_at[case.analysis.text]] if case.candidates else np.zeros(0)
        for case in cases
    ]


def build_cases(src: Source, settings: Settings, embedder: object, work: Path, limit: int | None = None) -> list[Case]:
    from qa.retrieve import HybridRetriever

    docs = None
    if src.path.endswith(".jsonl"):
        items, docs = news_items(src)
    else:
        items = squad_items(src)
    if limit is not None and len(items) > limit:
        step = len(items) / limit
        items = [items[int(i * step)] for i in range(limit)]
    memo = MemoEmbedder(embedder)
    index = _index(src, items, settings, embedder, work, docs)
    retriever = HybridRetriever(index, memo, candidates=settings.candidates)  # type: ignore[arg-type]
    memo.embed_queries([normalize(i.question) for i in items])
    names = sorted({n for i in items for n in analyse(i.question).names if len(n) >= 2})
    variants = {i.qid: swapped(i, names, k) for k, i in enumerate(items) if i.answers and names}
    neighbours = {i.qid: neighbour_swapped(i, k) for k, i in enumerate(items) if i.answers and not _even(i.qid)}
    memo.embed_queries([normalize(v) for v in [*variants.values(), *neighbours.values()] if v])
    cases: list[Case] = []
    pending: list[tuple[Item, str, list[ScoredPassage]]] = []
    for item in items:
        found = retriever.search(item.question, k=NOISE_POOL)
        if not item.answers:
            pending.append((item, "impossible", found[:TOP_K]))
            continue
        pending.append((item, "normal", found[:TOP_K]))
        if _even(item.qid):
            noise = [s for s in found if not _holds(s.passage.title + s.passage.text, item.answers)]
            pending.append((item, "noise", noise[:TOP_K]))
        variant = variants.get(item.qid)
        if variant:
            changed = Item(item.qid + "-swapped", variant, item.answers, item.title, item.context)
            pending.append((changed, "swapped", retriever.search(variant, k=TOP_K)))
        if neighbour := neighbours.get(item.qid):
            moved = Item(item.qid + "-neighbour", neighbour, item.answers, item.title, item.context)
            pending.append((moved, "neighbour", retriever.search(neighbour, k=TOP_K)))
    sentences = [c.text for _, _, r in pending for c in candidates_of(r)]
    memo.embed_passages(sentences)
    for item, kind, retrieved in pending:
        analysis = analyse(item.question)
        cands = candidates_of(retrieved)
        qvec = memo.embed_queries([analysis.text])[0]
        cos = memo.embed_passages([c.text for c in cands]) @ qvec if cands else np.zeros(0)
        rows = sentence_features(analysis, retrieved, cands, cos) if cands else np.zeros((0, 0))
        holds = (
            np.array([_holds(c.text, item.answers) for c in cands], dtype=bool)
            if item.answers
            else np.zeros(len(cands), dtype=bool)
        )
        supported = kind == "normal" and any(_holds(s.passage.text, item.answers) for s in retrieved)
        cases.append(Case(src.name, item.qid, kind, supported, analysis, retrieved, cands, rows, holds, cos))
    return cases
