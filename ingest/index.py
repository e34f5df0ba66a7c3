"""The index directory: passages, vectors, FAISS, BM25 and a manifest.

Layout (one generation per ingest, switched atomically)::

    INDEX_DIR/CURRENT            name of the live generation
    INDEX_DIR/gen-…/manifest.json   model, dimension, counts, documents, checksums
    INDEX_DIR/gen-…/documents.jsonl cleaned documents (for "查看原文")
    INDEX_DIR/gen-…/passages.jsonl
    INDEX_DIR/gen-…/vectors.npy     float32, L2-normalised, row i = passage i
    INDEX_DIR/gen-…/dense.faiss
    INDEX_DIR/gen-…/bm25/           bm25s over Chinese word tokens

A new generation is written completely, then ``CURRENT`` is replaced with
``os.replace``: a reader sees the old index or the new one, never a mix, and
an interrupted ingest leaves the previous index as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from core.errors import IndexCorruptError, IndexMissingError
from core.types import Article, Document, Line, Passage, passage_from_json

FORMAT_VERSION = 1
# Exact (flat) search up to here. Measured by `python -m bench` on CMRC2018 + CRUD-RAG at 50k passages:
# flat 6.3 ms per query (2.1 ms with one OpenMP thread); HNSW(M=32, efConstruction=80, efSearch=128) 0.4 ms
# but overlap@10 with exact 0.90 and dense recall@5 0.953 → 0.910, so HNSW waits for a size where flat no
# longer fits the 50 ms hybrid budget, and searches wider (efC=200, efS=512: overlap@10 0.991, 1.8 ms at 50k).
# At all 175k benchmark passages flat takes ~11 ms on one thread (the retriever's setting).
HNSW_THRESHOLD = 200_000
_FILES = ("documents.jsonl", "passages.jsonl", "vectors.npy", "dense.faiss")


@dataclass(frozen=True)
class DocumentEntry:
    doc_id: str
    path: str
    name: str
    title: str
    passages: int
    ingested_at: str
    encoding: str


@dataclass
class Manifest:
    model: str
    dim: int
    documents: list[DocumentEntry]
    passages: int
    chunking: dict[str, int]
    dense_index: str
    checksums: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        data = dict(data)
        data["documents"] = [DocumentEntry(**d) for d in data["documents"]]
        return cls(**data)


@dataclass
class Index:
    """A loaded index generation. Read-only once built."""

    path: Path
    manifest: Manifest
    documents: Mapping[str, Document]
    passages: list[Passage]
    vectors: np.ndarray
    dense: Any  # faiss.Index
    bm25: Any  # bm25s.BM25

    @property
    def model(self) -> str:
        return self.manifest.model


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def document_to_json(doc: Document) -> dict[str, Any]:
    return asdict(doc)


def document_from_json(data: dict[str, Any]) -> Document:
    articles = tuple(
        Article(
            **{
                **a,
                "subtitles": tuple(a["subtitles"]),
                "bylines": tuple(a["bylines"]),
                "tags": tuple(a["tags"]),
                "sections": tuple(a["sections"]),
                "paragraphs": tuple(tuple(p) for p in a["paragraphs"]),
            }
        )
        for a in data["articles"]
    )
    lines = tuple(Line(**{**x, "box": tuple(x["box"])}) for x in data.get("lines", ()))
    return Document(**{**data, "articles": articles, "lines": lines})


class DocumentStore(Mapping[str, Document]):
    """A generation's cleaned documents, parsed from ``documents.jsonl`` only when asked for.

    Answers need a handful per question (article headers, "查看原文"); holding all of them parsed cost
    ~1.7 KB per passage of resident memory (≈ 300 MB at 175k passages). Only byte offsets stay in memory.
    The file stays open, so whoever still holds this store can read a generation a later ingest removed.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        self._spans: dict[str, tuple[int, int]] = {}
        offset = 0
        with path.open("rb") as f:
            for line in f:
                if line.strip():
                    self._spans[_doc_id(line)] = (offset, len(line))
                offset += len(line)

    def __getitem__(self, doc_id: str) -> Document:
        offset, length = self._spans[doc_id]
        return document_from_json(json.loads(os.pread(self._fd, length, offset)))

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)

    def __copy__(self) -> DocumentStore:
        return self  # read-only; a copy would share the file descriptor without owning it

    def __deepcopy__(self, memo: dict[int, Any]) -> DocumentStore:
        return self  # the UI's chat state is deep-copied and keeps each answer's documents


_DOC_ID_PREFIX = b'{"doc_id": "'


def _doc_id(line: bytes) -> str:
    """The ``doc_id`` of one ``documents.jsonl`` row: the first key as written by ``write_index``, else parsed."""
    if line.startswith(_DOC_ID_PREFIX):
        end = line.find(b'"', len(_DOC_ID_PREFIX))
        if end > 0 and b"\\" not in line[:end]:
            return line[len(_DOC_ID_PREFIX) : end].decode("utf-8")
    return str(json.loads(line)["doc_id"])


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as f:  # orjson: several times faster than json on 175k passage lines
        return [orjson.loads(line) for line in f if line.strip()]


def build_dense(vectors: np.ndarray, kind: str) -> Any:
    import faiss

    dim = vectors.shape[1]
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 200
        index.hnsw.efSearch = 512
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def dense_kind_for(n: int) -> str:
    return "hnsw" if n > HNSW_THRESHOLD else "flat"


def build_bm25(token_lists: list[list[str]]) -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    # bm25s needs at least one token per document ("" is its own empty token) and one document.
    bm25.index([tokens or [""] for tokens in token_lists] or [[""]], show_progress=False)
    return bm25


def write_index(
    index_dir: Path,
    documents: list[Document],
    passages: list[Passage],
    vectors: np.ndarray,
    bm25_tokens: list[list[str]],
    model: str,
    chunking: dict[str, int],
    ingested_at: dict[str, str],
) -> Path:
    """Write a complete new generation and make it current; returns its path."""
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    gen = Path(tempfile.mkdtemp(prefix=".building-", dir=index_dir))
    _write_jsonl(gen / "documents.jsonl", [document_to_json(d) for d in documents])
    _write_jsonl(gen / "passages.jsonl", [asdict(p) for p in passages])
    np.save(gen / "vectors.npy", vectors.astype(np.float32, copy=False))
    kind = dense_kind_for(len(passages))
    faiss.write_index(build_dense(vectors, kind), str(gen / "dense.faiss"))
    build_bm25(bm25_tokens).save(str(gen / "bm25"), show_progress=False)
    counts = {d.doc_id: 0 for d in documents}
    for p in passages:
        counts[p.doc_id] += 1
    manifest = Manifest(
        model=model,
        dim=int(vectors.shape[1]),
        documents=[
            DocumentEntry(
                doc_id=d.doc_id,
                path=d.path,
                name=d.name,
                title=d.articles[0].title if d.articles else d.name,
                passages=counts[d.doc_id],
                ingested_at=ingested_at[d.doc_id],
                encoding=d.encoding,
            )
            for d in documents
        ],
        passages=len(passages),
        chunking=chunking,
        dense_index=kind,
        checksums={name: file_sha256(gen / name) for name in _FILES},
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    (gen / "manifest.json").write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=1), "utf-8")
    _fsync_tree(gen)
    final = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{gen.name[-6:]}"
    gen.rename(final)
    _switch_current(index_dir, final.name)
    _remove_old_generations(index_dir, keep={final.name})
    return final


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())


def _switch_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".CURRENT.{os.getpid()}"
    tmp.write_text(name + "\n", "utf-8")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / "CURRENT")


def _remove_old_generations(index_dir: Path, keep: set[str]) -> None:
    """Remove generations and half-built folders other than ``keep``.

    The generation that was current until now is kept one more round so a
    query that opened it a moment ago can still finish reading it.
    """
    gens = sorted(p for p in index_dir.glob("gen-*") if p.name not in keep)
    for old in gens[:-1]:
        shutil.rmtree(old, ignore_errors=True)
    for half in index_dir.glob(".building-*"):
        if time.time() - half.stat().st_mtime > 60:
            shutil.rmtree(half, ignore_errors=True)


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    gen = index_dir / pointer.read_text("utf-8").strip()
    return gen if gen.is_dir() else None


def read_manifest(index_dir: Path) -> Manifest | None:
    gen = current_generation(index_dir)
    return None if gen is None else _generation_manifest(index_dir, gen)


def _generation_manifest(index_dir: Path, gen: Path) -> Manifest:
    try:
        return Manifest.from_json(json.loads((gen / "manifest.json").read_text("utf-8")))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorruptError(str(index_dir), f"manifest.json 无法读取：{exc}") from exc


def load_index(index_dir: Path, verify: bool = True) -> Index:
    """Load the current generation; checksums are verified unless ``verify=False``.

    An ingest may switch CURRENT and remove the old generation while it is being read; a
    generation that vanished or changed under the reader is not damage, so the new current
    one is loaded instead.
    """
    while True:
        gen = current_generation(index_dir)
        if gen is None:
            raise IndexMissingError(str(index_dir))
        try:
            return _load_generation(index_dir, gen, verify)
        except IndexCorruptError:
            if current_generation(index_dir) == gen:
                raise


def _load_generation(index_dir: Path, gen: Path, verify: bool) -> Index:
    manifest = _generation_manifest(index_dir, gen)
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(str(index_dir), f"索引格式版本 {manifest.format_version} 与本程序不符")
    if not verify:
        return _read_generation(index_dir, gen, manifest)
    # Hashing releases the GIL: the checksums are computed on a second thread while this one parses the
    # passages (about 1.3 s of a 4.6 s load at 175k passages). A bad checksum is reported before any
    # error that reading the damaged files raised.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checked = pool.submit(_verify_checksums, index_dir, gen, manifest)
        try:
            index = _read_generation(index_dir, gen, manifest)
        except IndexCorruptError:
            checked.result()
            raise
        checked.result()
    return index


def _verify_checksums(index_dir: Path, gen: Path, manifest: Manifest) -> None:
    for name, expected in manifest.checksums.items():
        if not (gen / name).exists() or file_sha256(gen / name) != expected:
            raise IndexCorruptError(str(index_dir), f"{name} 校验和不符")


def _read_generation(index_dir: Path, gen: Path, manifest: Manifest) -> Index:
    import bm25s
    import faiss

    try:
        documents = DocumentStore(gen / "documents.jsonl")
        passages = [passage_from_json(p) for p in _read_jsonl(gen / "passages.jsonl")]
        # Memory-mapped and read-only: the vectors, the FAISS index and BM25's postings stay in the page cache,
        # shared, not copied per process; a BM25 query reads only its terms' postings.
        vectors = np.load(gen / "vectors.npy", mmap_mode="r")
        dense = faiss.read_index(str(gen / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        bm25 = bm25s.BM25.load(str(gen / "bm25"), mmap=True, show_progress=False, verbosity=0)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexCorruptError(str(index_dir), f"{type(exc).__name__}: {exc}") from exc
    if len(passages) != manifest.passages or vectors.shape[0] != len(passages) or dense.ntotal != len(passages):
        raise IndexCorruptError(str(index_dir), "段落数与向量数不一致")
    return Index(gen, manifest, documents, passages, vectors, dense, bm25)
