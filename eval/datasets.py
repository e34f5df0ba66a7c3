"""Adapters: public benchmarks as question sets plus a corpus to index.

Formats:

* ``jsonl``: our own question set; the corpus is a folder (``seeds/``).
* ``squad``: CMRC2018, DRCD, DuReader-checklist. Each context becomes one
  ``.txt`` file (``# 标题`` and the context as one paragraph), so each is a
  document; ``is_impossible`` questions are unanswerable with no evidence.
  ``answers`` are the annotated answer texts. ``evidence`` is the sentence
  (or the run of sentences) of the context holding the answer span, cut by
  the chunker's own sentence splitter, so it never straddles two passages:
  stricter than the bare answer (``1990年`` is in many passages), finer than
  the paragraph (a long one becomes several passages).
  The corpus is the contexts of the selected questions (``all_contexts``:
  every context of the file), plus ``distractors`` CRUD-RAG news documents.
* ``rgb``: ``{"id", "query", "answer", "positive", "negative"}`` lines. Every
  element of ``answer`` must be in the response; an element that is a list
  holds alternatives. All passages go into one index (embedded once); each
  question is answered over a view of that index holding only its own
  passages (``scopes``), as RGB intends. ``negative_only``: only the
  negative passages are indexed and the right answer is a refusal.

``--limit N`` keeps N questions spread evenly over the file (deterministic),
so a small run sees every part of a file that is ordered by type.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from core.errors import YijuError
from eval.scoring import Question, contains, load_questions
from ingest.chunk import sentence_spans
from ingest.index import Index

ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = ROOT / "seeds"
CRUD_RAG_DIR = ROOT.parent / "shared" / "data" / "crud_rag" / "80000_docs"
FORMATS = ("jsonl", "squad", "rgb")

T = TypeVar("T")


@dataclass(frozen=True)
class CorpusDocument:
    name: str  # file name, unique in the corpus
    text: str


@dataclass
class Dataset:
    questions: list[Question]
    documents: list[CorpusDocument] = field(default_factory=list)  # written to a folder, then indexed
    folders: list[Path] = field(default_factory=list)  # indexed as they are
    scopes: dict[str, frozenset[str]] | None = None  # question id → the document names it may see
    notes: list[str] = field(default_factory=list)


def spread(items: Sequence[T], limit: int | None) -> list[T]:
    """``limit`` items spread evenly over ``items`` (all of them when ``limit`` is None or large)."""
    if limit is None or limit >= len(items):
        return list(items)
    n = len(items)
    return [items[i * n // limit] for i in range(max(limit, 0))]


def _doc_name(prefix: str, text: str) -> str:
    return f"{prefix}_{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}.txt"


def detect_format(path: Path) -> str:
    if path.suffix.lower() == ".json":
        return "squad"
    with path.open(encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "")
    try:
        keys = set(json.loads(first)) if first else set()
    except ValueError as exc:
        raise YijuError(f"{path} 的第一行不是 JSON，无法判断格式；请用 --format 指定 jsonl、squad 或 rgb。") from exc
    return "rgb" if {"query", "answer"} <= keys else "jsonl"


# ---------------------------------------------------------------- jsonl


def load_jsonl(
    path: Path,
    *,
    limit: int | None = None,
    corpus: Path | None = None,
    news_dir: Path = CRUD_RAG_DIR,
    ids: str | None = None,
) -> Dataset:
    """Our own question set. Its corpus is ``corpus`` (default ``seeds/``), or, when its questions name
    CRUD-RAG documents (``"doc": "FILE:LINE"``) and no ``corpus`` is given, every document they name.
    ``ids`` keeps only the questions whose id starts with it (one split of a shared file); the corpus
    stays that of the whole file, so a split is read among the same documents as the others."""
    questions = load_questions(path)
    refs = list(dict.fromkeys(q.doc for q in questions if q.doc))
    if ids:
        questions = [q for q in questions if q.id.startswith(ids)]
        if not questions:
            raise YijuError(f"{path} 中没有编号以 {ids} 开头的问题。")
    if refs and corpus is None:
        return Dataset(questions=spread(questions, limit), documents=crud_rag_references(refs, news_dir))
    folder = corpus or SEEDS_DIR
    if not folder.exists():
        raise YijuError(f"语料目录 {folder} 不存在；请用 --corpus 指定问题集对应的文档目录。")
    return Dataset(questions=spread(questions, limit), folders=[folder])


# ---------------------------------------------------------------- SQuAD style


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise YijuError(f"无法读取 {path}（{exc}）。请确认文件存在且为 SQuAD 格式的 JSON。") from exc


def _answer_span(context: str, text: str, start: int) -> tuple[int, int] | None:
    """The span of ``text`` in ``context``: at ``start`` if it is there, else the nearest occurrence."""
    if start >= 0 and context[start : start + len(text)] == text:
        return start, start + len(text)
    found = [m.start() for m in re.finditer(re.escape(text), context)]
    if not found:
        return None
    best = min(found, key=lambda s: abs(s - start))
    return best, best + len(text)


def evidence_sentence(context: str, span: tuple[int, int]) -> str:
    """The sentence(s) of ``context`` that hold ``span``, stripped."""
    s0, e0 = span
    covering = [(s, e) for s, e in sentence_spans(context) if s < e0 and e > s0]
    if not covering:
        return context[s0:e0].strip()
    return context[covering[0][0] : covering[-1][1]].strip()


def _squad_question(qa: dict[str, Any], context: str) -> Question | None:
    impossible = bool(qa.get("is_impossible", False))
    qid, text = str(qa["id"]), str(qa["question"])
    if impossible:
        return Question(qid, text, answerable=False)
    answers = [a for a in qa.get("answers", []) if str(a.get("text", "")).strip()]
    if not answers:
        return None
    texts = tuple(dict.fromkeys(str(a["text"]).strip() for a in answers))
    evidence: list[str] = []
    for a in answers:
        span = _answer_span(context, str(a["text"]), int(a.get("answer_start", -1)))
        if span is not None:
            evidence.append(evidence_sentence(context, span))
    return Question(qid, text, answerable=True, answers=texts, evidence=tuple(dict.fromkeys(e for e in evidence if e)))


def squad_document(title: str, context: str) -> CorpusDocument:
    """One context as one file: the title as a heading, the context as one paragraph."""
    text = f"# {title.strip()}\n\n{context.strip()}\n" if title.strip() else context.strip() + "\n"
    return CorpusDocument(_doc_name("ctx", text), text)


def load_squad(
    path: Path,
    *,
    limit: int | None = None,
    distractors: int = 0,
    distractor_dir: Path = CRUD_RAG_DIR,
    all_contexts: bool = False,
    buckets: tuple[int, int] | None = None,
) -> Dataset:
    """``buckets`` (lo, hi): only articles whose title hashes into [lo, hi] (``title_bucket``), the way
    the data roles split one file into train, validation and test."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise YijuError(f"{path} 不是 SQuAD 格式（缺少顶层 data 列表）。")
    pairs: list[tuple[Question, CorpusDocument]] = []
    contexts: list[CorpusDocument] = []
    dropped = 0
    for article in data["data"]:
        for para in article.get("paragraphs", []):
            title = str(para.get("title") or article.get("title") or "")
            if buckets and not buckets[0] <= title_bucket(title) <= buckets[1]:
                continue
            context = str(para["context"])
            doc = squad_document(title, context)
            contexts.append(doc)
            for qa in para.get("qas", []):
                q = _squad_question(qa, context)
                if q is None:
                    dropped += 1
                else:
                    pairs.append((q, doc))
    chosen = spread(pairs, limit)
    docs = contexts if all_contexts else [d for _, d in chosen]
    dataset = Dataset(questions=[q for q, _ in chosen], documents=_unique(docs))
    if dropped:
        dataset.notes.append(f"{dropped} 道可回答题没有答案文本，已略去")
    if distractors:
        dataset.documents += crud_rag_documents(distractors, distractor_dir)
    return dataset


def title_bucket(title: str) -> int:
    """``sha1(title) % 10``: the bucket that gives an article its data role (``eval/splits.md``)."""
    return int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) % 10


def _unique(docs: Sequence[CorpusDocument]) -> list[CorpusDocument]:
    return list({d.name: d for d in docs}.values())


# ---------------------------------------------------------------- CRUD-RAG distractors


def _crud_lines(path: Path) -> Iterator[tuple[int, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                yield lineno, line.strip()


def crud_rag_documents(n: int, directory: Path = CRUD_RAG_DIR) -> list[CorpusDocument]:
    """``n`` distinct CRUD-RAG news documents, taken in turn from each part file (deterministic)."""
    parts = sorted(directory.glob("*.gz"))
    if not parts:
        raise YijuError(f"在 {directory} 中找不到 CRUD-RAG 文档（*.gz）；--distractors 需要这些新闻作干扰文档。")
    readers = [_crud_lines(p) for p in parts]
    seen: set[str] = set()
    out: list[CorpusDocument] = []
    while len(out) < n and readers:
        for reader in list(readers):
            item = next(reader, None)
            if item is None:
                readers.remove(reader)
            elif item[1] not in seen:
                seen.add(item[1])
                out.append(CorpusDocument(crud_name(item[1]), item[1] + "\n"))
                if len(out) == n:
                    break
    return out


def crud_rag_references(refs: Sequence[str], directory: Path = CRUD_RAG_DIR) -> list[CorpusDocument]:
    """The CRUD-RAG documents named ``FILE:LINE`` (1-based line of the decompressed part file)."""
    found = crud_rag_texts(refs, directory)
    return _unique([CorpusDocument(crud_name(found[r]), found[r] + "\n") for r in refs])


def crud_name(text: str) -> str:
    """The file name a CRUD-RAG document gets in a corpus (the same for a distractor)."""
    return _doc_name("crud", text)


def crud_rag_texts(refs: Sequence[str], directory: Path = CRUD_RAG_DIR) -> dict[str, str]:
    """``FILE:LINE`` → the text of that CRUD-RAG document."""
    wanted: dict[str, set[int]] = {}
    for ref in refs:
        name, _, line = ref.rpartition(":")
        if not name or not line.isdigit():
            raise YijuError(f"文档引用 {ref!r} 无效：应为 “文件名:行号”，如 documents_dup_part_1_part_1.gz:101。")
        wanted.setdefault(name, set()).add(int(line))
    found: dict[str, str] = {}
    for name, lines in wanted.items():
        path = directory / name
        if not path.exists():
            raise YijuError(
                f"找不到 CRUD-RAG 文档 {path}；请把 shared/data 放在项目目录旁（见 shared/data/README.md）。"
            )
        for lineno, text in _crud_lines(path):
            if lineno in lines:
                found[f"{name}:{lineno}"] = text
    missing = [r for r in refs if r not in found]
    if missing:
        raise YijuError(f"CRUD-RAG 文档中没有这些行（或为空行）：{'、'.join(missing[:5])}。")
    return found


# ---------------------------------------------------------------- RGB


def _groups(answer: Any) -> tuple[tuple[str, ...], ...]:
    items = answer if isinstance(answer, list) else [answer]
    groups = []
    for item in items:
        alternatives = item if isinstance(item, list) else [item]
        group = tuple(str(a).strip() for a in alternatives if str(a).strip())
        if group:
            groups.append(group)
    return tuple(groups)


def _rgb_evidence(passages: Sequence[str], groups: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """The sentences of the positive passages that hold an answer alternative."""
    alternatives = [a for g in groups for a in g]
    quotes: list[str] = []
    for text in passages:
        for s, e in sentence_spans(text):
            sentence = text[s:e].strip()
            if sentence and any(contains(sentence, a) for a in alternatives):
                quotes.append(sentence)
    return tuple(dict.fromkeys(quotes))


def _texts(item: dict[str, Any], key: str) -> list[str]:
    return [str(t) for t in item.get(key, []) if str(t).strip()]


def load_rgb(path: Path, *, limit: int | None = None, negative_only: bool = False) -> Dataset:
    questions: list[Question] = []
    docs: dict[str, CorpusDocument] = {}
    scopes: dict[str, frozenset[str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            qid, query, groups = str(item["id"]), str(item["query"]), _groups(item["answer"])
        except (ValueError, KeyError, TypeError) as exc:
            raise YijuError(
                f"{path} 第 {lineno} 行不是 RGB 格式（需要 id、query、answer、positive、negative）：{exc}"
            ) from exc
        positive, negative = _texts(item, "positive"), _texts(item, "negative")
        indexed = negative if negative_only else positive + negative
        names = []
        for text in indexed:
            doc = CorpusDocument(_doc_name("rgb", text), text.strip() + "\n")
            docs[doc.name] = doc
            names.append(doc.name)
        scopes[qid] = frozenset(names)
        if negative_only:
            questions.append(Question(qid, query, answerable=False))
        else:
            flat = tuple(dict.fromkeys(a for g in groups for a in g))
            evidence = _rgb_evidence(positive, groups)
            questions.append(Question(qid, query, True, answers=flat, evidence=evidence, required=groups))
    chosen = spread(questions, limit)
    keep = set().union(*(scopes[q.id] for q in chosen)) if chosen else set()
    return Dataset(
        questions=chosen,
        documents=[d for name, d in docs.items() if name in keep],
        scopes={q.id: scopes[q.id] for q in chosen},
    )


def index_view(index: Index, doc_names: frozenset[str]) -> Index:
    """The part of ``index`` made of the named documents, with its own FAISS and BM25.

    Vectors are reused; only the small in-memory search structures are built.
    """
    from core.text import tokenize
    from ingest.index import build_bm25, build_dense

    rows = [i for i, p in enumerate(index.passages) if p.doc_name in doc_names]
    passages = [index.passages[i] for i in rows]
    if rows:
        vectors = np.ascontiguousarray(np.asarray(index.vectors)[rows], dtype=np.float32)
    else:
        vectors = np.zeros((0, index.manifest.dim), dtype=np.float32)
    # The same tokens the ingest pipeline gives BM25 (title + text).
    bm25 = build_bm25([tokenize(p.title + " " + p.text) for p in passages]) if passages else None
    documents = {k: d for k, d in index.documents.items() if d.name in doc_names}
    return Index(index.path, index.manifest, documents, passages, vectors, build_dense(vectors, "flat"), bm25)


def scope_for(index: Index, scopes: dict[str, frozenset[str]]) -> Callable[[Question], Index]:
    """For ``evaluate(scope=…)``: each question gets the view of its own documents."""
    return lambda q: index_view(index, scopes[q.id])


# ---------------------------------------------------------------- all formats


def load_dataset(
    path: Path,
    fmt: str | None = None,
    *,
    limit: int | None = None,
    corpus: Path | None = None,
    distractors: int = 0,
    distractor_dir: Path = CRUD_RAG_DIR,
    rgb_negative_only: bool = False,
    all_contexts: bool = False,
    ids: str | None = None,
    buckets: tuple[int, int] | None = None,
) -> Dataset:
    if not path.exists():
        raise YijuError(f"问题文件 {path} 不存在。")
    fmt = fmt or detect_format(path)
    if ids and fmt != "jsonl":
        raise YijuError("--ids 只用于 JSONL 问题集。")
    if buckets and fmt != "squad":
        raise YijuError("--buckets 只用于 SQuAD 格式的文件。")
    if fmt == "squad":
        return load_squad(
            path,
            limit=limit,
            distractors=distractors,
            distractor_dir=distractor_dir,
            all_contexts=all_contexts,
            buckets=buckets,
        )
    if fmt == "rgb":
        if distractors:
            raise YijuError("RGB 格式的每道题只检索自己的段落，不能加 --distractors。")
        return load_rgb(path, limit=limit, negative_only=rgb_negative_only)
    dataset = load_jsonl(path, limit=limit, corpus=corpus, news_dir=distractor_dir, ids=ids)
    if distractors:
        dataset.documents = _unique(dataset.documents + crud_rag_documents(distractors, distractor_dir))
    return dataset


def write_corpus(documents: Sequence[CorpusDocument], folder: Path) -> None:
    """Write the documents as ``.txt`` files; files of an earlier run that are not wanted now are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {d.name for d in documents}
    for old in folder.glob("*.txt"):
        if old.name not in wanted:
            old.unlink()
    for d in documents:
        target = folder / d.name
        if not target.exists() or target.read_text(encoding="utf-8") != d.text:
            target.write_text(d.text, encoding="utf-8")


def cleaner_problems(documents: Sequence[CorpusDocument]) -> list[str]:
    """Documents the cleaner would not keep whole as body text (so part of them is never indexed)."""
    from ingest.clean import clean_text

    problems = []
    for d in documents:
        body = re.sub(r"^# .*\n\n", "", d.text)
        cleaned, articles = clean_text(d.text, fallback_title=Path(d.name).stem)
        kept = "".join(cleaned[s:e] for a in articles for s, e in a.paragraphs)
        if re.sub(r"\s+", "", body) not in re.sub(r"\s+", "", kept):
            problems.append(d.name)
    return problems
