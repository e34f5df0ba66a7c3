"""The Milvus store: Milvus Lite in a local file, or a Milvus server or cluster, through ``pymilvus``.

``YIJU_MILVUS_URI`` is a local path (``data/milvus.db``: Milvus Lite, the engine embedded in this process)
or an address (``http://host:19530``: a standalone server or a cluster; ``YIJU_MILVUS_TOKEN`` logs in).

A knowledge base NAME is three things:

* ``yiju_NAME_passages``: one row per passage (its text and metadata, a dense vector field, and a sparse
  field that Milvus fills itself with a BM25 function over the ``keywords`` field, analysed by the jieba
  tokenizer with the project's stop words);
* ``yiju_NAME_docs``: the cleaned documents (for "查看原文" and the article context), cut into rows, and
  on each document's first row its entry (title, path, passage count), which is what makes it count;
* a row of ``yiju_kbs``: the model, its dimension and the chunking the knowledge base was built with.

A document is added as: its old rows deleted, the document rows written (entry empty), the passages
inserted, the entry written last. It is deleted as: entry emptied, passages deleted, rows deleted. A
reader only keeps hits of documents whose entry it has read, so a killed ingest never shows half a
document; the next ingest removes what was left pending and does the work again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from core.errors import ConfigError, IndexCorruptError, KnowledgeBaseMissingError, StoreError
from core.settings import Settings
from core.text import STOPWORDS, normalize
from core.types import Document, Passage, passage_from_json
from ingest.index import FORMAT_VERSION, DocumentEntry, Manifest, document_from_json, document_to_json, text_hash
from ingest.store import Hit, check_model

log = logging.getLogger(__name__)

META = "yiju_kbs"
_DOC_CHUNK_CHARS = 16_000  # ≤ 64 KB in UTF-8, Milvus's VARCHAR limit
_INSERT_ROWS = 512
_CONNECT_TIMEOUT = 10.0  # seconds: a server that is down is reported, not waited for
_QUERY_IDS = 512
_FOUND_ROWS = 1024  # search results kept for the fetch that follows (a few questions' worth)
_TEXT_BYTES = 65_535
_PASSAGE_FIELDS = ["passage_id", "doc_id", "doc_name", "title", "article", "paragraph", "part", "start", "end", "text"]
_SEARCH_PARAMS: dict[str, dict[str, Any]] = {
    "HNSW": {"ef": 256},
    "IVF_FLAT": {"nprobe": 32},
    "IVF_SQ8": {"nprobe": 32},
    "DISKANN": {"search_list": 256},
}
_INDEX_PARAMS: dict[str, dict[str, Any]] = {
    "HNSW": {"M": 16, "efConstruction": 200},
    "IVF_FLAT": {"nlist": 1024},
    "IVF_SQ8": {"nlist": 1024},
}


def is_lite(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


def connect(settings: Settings) -> Any:
    """A ``MilvusClient`` for ``settings``; the token is passed on, never put into a message."""
    uri = settings.resolved_milvus_uri
    if is_lite(uri) and not uri.endswith(".db"):
        raise ConfigError(f"YIJU_MILVUS_URI={uri} 不是 Milvus Lite 文件：本地路径须以 .db 结尾（如 data/milvus.db）。")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # milvus-lite imports pkg_resources, deprecated
        from pymilvus import MilvusClient

    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its iterator warns on every Lite query page
    if is_lite(uri):
        from pathlib import Path

        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # milvus-lite imports pkg_resources, deprecated
            return MilvusClient(uri=uri, token=settings.milvus_token_value(), timeout=_CONNECT_TIMEOUT)
    except Exception as exc:  # pymilvus raises MilvusException, grpc and OS errors alike
        if is_lite(uri):
            raise StoreError(
                f"无法打开 Milvus Lite 文件 {uri}（{type(exc).__name__}）：它同时只能被一个进程使用，"
                "请先停止正在使用它的应用或命令；要让多个进程共用一个知识库，请用 Milvus 服务器（YIJU_MILVUS_URI=http://主机:19530）。"
            ) from None
        raise StoreError(
            f"无法连接 Milvus（{uri}）：{type(exc).__name__}。请检查 YIJU_MILVUS_URI 与 YIJU_MILVUS_TOKEN，"
            "或改用 YIJU_STORE=faiss。"
        ) from None


def _names(kb: str) -> tuple[str, str]:
    return f"yiju_{kb}_passages", f"yiju_{kb}_docs"


def _quoted(values: Collection[str]) -> str:
    return json.dumps(sorted(values), ensure_ascii=False)


def _cut_utf8(text: str, limit: int = _TEXT_BYTES) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


class MilvusStore:
    """One knowledge base on Milvus, open for reading (its manifest as read when opened)."""

    def __init__(self, client: Any, settings: Settings, manifest: Manifest) -> None:
        self.client = client
        self.kb = settings.kb
        self.uri = settings.resolved_milvus_uri
        self.location = f"{settings.resolved_milvus_uri}（知识库 {settings.kb}）"
        self.passage_collection, self.doc_collection = _names(settings.kb)
        self._manifest = manifest
        self._ready = frozenset(e.doc_id for e in manifest.documents)
        self._search_params = _SEARCH_PARAMS.get(manifest.dense_index, {})
        self._documents = MilvusDocuments(client, self.doc_collection, self._ready)
        self._layout: list[str] | None = None  # ["layout"] when the collection has the page field; asked once
        # The rows the last searches returned, so that ``fetch`` (which follows a search) asks Milvus only for
        # the rest: a lookup by id cost more than the two searches together at 175k passages.
        self._found: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._found_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> MilvusStore:
        client = connect(settings)
        meta = read_meta(client, settings.kb)
        if meta is None:
            raise KnowledgeBaseMissingError(settings.kb, settings.resolved_milvus_uri, "milvus")
        _ensure_loaded(client, settings)
        return cls(client, settings, _manifest(client, settings.kb, meta))

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    def close(self) -> None:
        """Let go of the connection; on Milvus Lite also of this process's engine, so another process (which
        the engine refuses while this one holds the file) can open it."""
        self.client.close()
        if is_lite(self.uri):
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)

    @property
    def documents(self) -> Mapping[str, Document]:
        return self._documents

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None) -> list[Hit]:
        params = {"metric_type": "IP", "params": self._search_params}
        rows = self._search([np.asarray(vector, dtype=np.float32).tolist()], "dense", k, params, doc_ids)
        return rows

    def keyword_search(self, tokens: Sequence[str], k: int, doc_ids: Collection[str] | None = None) -> list[Hit]:
        if not tokens:
            return []
        params = {"metric_type": "BM25", "params": {"drop_ratio_search": 0.0}}
        return self._search([" ".join(tokens)], "sparse", k, params, doc_ids)

    def _search(
        self, data: list[Any], field: str, k: int, params: dict[str, Any], doc_ids: Collection[str] | None
    ) -> list[Hit]:
        if doc_ids is not None and not doc_ids:
            return []
        found = _call(
            self.client.search,
            self.passage_collection,
            data=data,
            anns_field=field,
            limit=k,
            search_params=params,
            filter=f"doc_id in {_quoted(doc_ids)}" if doc_ids is not None else "",
            output_fields=self._row_fields(),
        )
        hits = [h for h in (found[0] if found else []) if h["entity"]["doc_id"] in self._ready]
        with self._found_lock:
            for h in hits:
                row = dict(h["entity"])
                row["dense"] = np.asarray(row["dense"], dtype=np.float32)
                self._found[h["id"]] = row
                self._found.move_to_end(h["id"])
            while len(self._found) > _FOUND_ROWS:
                self._found.popitem(last=False)
        return [Hit(h["id"], float(h["distance"])) for h in hits]

    def _row_fields(self) -> list[str]:
        return [*_PASSAGE_FIELDS, *self._layout_fields(), "dense"]

    def _layout_fields(self) -> list[str]:
        if self._layout is None:
            self._layout = _layout_field(self.client, self.passage_collection)
        return self._layout

    def fetch(self, passage_ids: Sequence[str]) -> list[tuple[Passage, np.ndarray]]:
        if not passage_ids:
            return []
        with self._found_lock:
            by_id = {i: self._found[i] for i in passage_ids if i in self._found}
        rest = [i for i in passage_ids if i not in by_id]
        if rest:
            rows = _call(self.client.query, self.passage_collection, ids=rest, output_fields=self._row_fields())
            by_id.update((r["passage_id"], r) for r in rows)
        missing = [i for i in passage_ids if i not in by_id]
        if missing:
            raise IndexCorruptError(self.location, f"段落 {missing[0]} 已不在 Milvus 中；请重新运行 python -m ingest")
        return [(_passage(by_id[i]), np.asarray(by_id[i]["dense"], dtype=np.float32)) for i in passage_ids]

    def vectors_for(self, text_hashes: Collection[str]) -> dict[str, np.ndarray]:
        hashes = sorted(text_hashes)
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), _QUERY_IDS):
            part = hashes[start : start + _QUERY_IDS]
            rows = _call(
                self.client.query,
                self.passage_collection,
                filter=f"text_hash in {_quoted(part)}",
                output_fields=["text_hash", "dense", "doc_id"],
                limit=16_384,
            )
            for r in rows:
                if r["doc_id"] in self._ready:
                    out[r["text_hash"]] = np.asarray(r["dense"], dtype=np.float32)
        return out


class MilvusDocuments(Mapping[str, Document]):
    """The knowledge base's cleaned documents, read from Milvus when asked for (and kept, a few at a time)."""

    def __init__(self, client: Any, collection: str, ready: frozenset[str]) -> None:
        self._client, self._collection, self._ready = client, collection, ready
        self._cache: dict[str, Document] = {}

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self._ready:
            raise KeyError(doc_id)
        if doc_id not in self._cache:
            rows = _call(
                self._client.query,
                self._collection,
                filter=f"doc_id == {json.dumps(doc_id)}",
                output_fields=["part", "data"],
                limit=16_384,
            )
            data = "".join(r["data"] for r in sorted(rows, key=lambda r: r["part"]))
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[doc_id] = document_from_json(json.loads(data))
        return self._cache[doc_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ready)

    def __len__(self) -> int:
        return len(self._ready)

    def __copy__(self) -> MilvusDocuments:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> MilvusDocuments:
        return self  # the UI's chat state is deep-copied and keeps each answer's documents


def _passage(row: dict[str, Any]) -> Passage:
    layout = json.loads(row["layout"]) if row.get("layout") else {}
    return passage_from_json({**{f: row[f] for f in _PASSAGE_FIELDS}, **layout})


def _layout_field(client: Any, collection: str) -> list[str]:
    """``["layout"]`` when the collection has the page field (collections made before it have not)."""
    fields = _call(client.describe_collection, collection).get("fields", [])
    return ["layout"] if any(f.get("name") == "layout" for f in fields) else []


def _layout_json(p: Passage) -> str:
    if p.page is None:
        return ""
    layout = {"page": p.page, "boxes": [[round(v, 4) for v in b] for b in p.boxes], "ocr": p.ocr}
    return _cut_utf8(json.dumps({**layout, "uncertain": [list(u) for u in p.uncertain]}))


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return method(*args, **kwargs)
    except Exception as exc:
        if type(exc).__name__ not in ("MilvusException", "_InactiveRpcError", "RpcError", "MilvusUnavailableException"):
            raise
        message = str(getattr(exc, "message", "") or type(exc).__name__)
        advice = (
            "这个 Milvus 不支持所选的索引类型：请用 YIJU_MILVUS_INDEX 选它支持的一种（如 FLAT、IVF_FLAT、AUTOINDEX）。"
            if "index type" in message
            else "请检查 Milvus 服务是否在运行。"
        )
        raise StoreError(f"Milvus 请求失败（{message}）。{advice}") from None


# -- the knowledge base's metadata ------------------------------------------------------------------------


def _meta_schema(client: Any) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("kb", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("data", DataType.VARCHAR, max_length=_TEXT_BYTES)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    return schema


def _ensure_meta(client: Any) -> None:
    if _call(client.has_collection, META):
        return
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    _call(client.create_collection, META, schema=_meta_schema(client), index_params=index, consistency_level="Strong")


def read_meta(client: Any, kb: str) -> dict[str, Any] | None:
    if not _call(client.has_collection, META):
        return None
    rows = _call(client.query, META, ids=[kb], output_fields=["data"])
    return json.loads(rows[0]["data"]) if rows else None


def _write_meta(client: Any, kb: str, meta: dict[str, Any]) -> None:
    _call(client.upsert, META, [{"kb": kb, "data": json.dumps(meta, ensure_ascii=False), "vec": [0.0, 0.0]}])


def _manifest(client: Any, kb: str, meta: dict[str, Any]) -> Manifest:
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(f"Milvus 知识库 {kb}", f"格式版本 {meta.get('format_version')} 与本程序不符")
    entries = [DocumentEntry(**json.loads(e)) for e in _entries(client, _names(kb)[1], ready=True)]
    entries.sort(key=lambda e: (e.ingested_at, e.path))
    return Manifest(
        model=meta["model"],
        dim=int(meta["dim"]),
        documents=entries,
        passages=sum(e.passages for e in entries),
        chunking=meta["chunking"],
        dense_index=meta["dense_index"],
        created_at=meta.get("created_at", ""),
    )


def _entries(client: Any, collection: str, *, ready: bool) -> list[str]:
    """The entries (JSON) of the ready documents, or the ids of the pending ones."""
    expr = 'part == 0 and entry != ""' if ready else 'part == 0 and entry == ""'
    field = "entry" if ready else "doc_id"
    it = _call(client.query_iterator, collection, batch_size=4096, filter=expr, output_fields=[field])
    out: list[str] = []
    while batch := it.next():
        out.extend(r[field] for r in batch)
    it.close()
    return out


def _ensure_loaded(client: Any, settings: Settings) -> None:
    """A server may hold a collection released (after a restart); load it, with the configured replicas."""
    for name in _names(settings.kb):
        state = str(_call(client.get_load_state, name).get("state", ""))
        if "NotLoad" in state:
            kwargs = {"replica_number": settings.milvus_replicas} if settings.milvus_replicas > 1 else {}
            _call(client.load_collection, name, **kwargs)


# -- creating a knowledge base ----------------------------------------------------------------------------


def _dense_index(settings: Settings) -> str:
    if settings.milvus_index != "auto":
        return settings.milvus_index
    return "FLAT" if is_lite(settings.resolved_milvus_uri) else "HNSW"


def _passage_schema(client: Any, dim: int) -> Any:
    from pymilvus import DataType, Function, FunctionType

    analyzer = {"tokenizer": "jieba", "filter": ["lowercase", {"type": "stop", "stop_words": sorted(STOPWORDS)}]}
    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("passage_id", DataType.VARCHAR, is_primary=True, max_length=128)
    s.add_field("doc_id", DataType.VARCHAR, max_length=64)
    s.add_field("doc_name", DataType.VARCHAR, max_length=4096)
    s.add_field("title", DataType.VARCHAR, max_length=8192)
    for name in ("article", "paragraph", "part"):
        s.add_field(name, DataType.INT32)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=_TEXT_BYTES)
    s.add_field("text_hash", DataType.VARCHAR, max_length=40)
    s.add_field("layout", DataType.VARCHAR, max_length=_TEXT_BYTES)  # page, line boxes, OCR marks (JSON)
    s.add_field("keywords", DataType.VARCHAR, max_length=_TEXT_BYTES, enable_analyzer=True, analyzer_params=analyzer)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["keywords"], output_field_names=["sparse"]
        )
    )
    return s


def _doc_schema(client: Any) -> Any:
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=80)
    s.add_field("doc_id", DataType.VARCHAR, max_length=64)
    s.add_field("part", DataType.INT32)
    s.add_field("entry", DataType.VARCHAR, max_length=_TEXT_BYTES)
    s.add_field("data", DataType.VARCHAR, max_length=_TEXT_BYTES)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    return s


def _create_kb(client: Any, settings: Settings, model: str, dim: int, chunking: dict[str, int]) -> dict[str, Any]:
    _drop(client, settings.kb)  # what a creation stopped before its metadata row may have left
    passages, docs = _names(settings.kb)
    kind = _dense_index(settings)
    extra = {"num_shards": settings.milvus_shards} if settings.milvus_shards > 1 else {}
    index = client.prepare_index_params()
    index.add_index("dense", index_type=kind, metric_type="IP", params=_INDEX_PARAMS.get(kind, {}))
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    _call(
        client.create_collection,
        passages,
        schema=_passage_schema(client, dim),
        index_params=index,
        consistency_level="Strong",
        **extra,
    )
    doc_index = client.prepare_index_params()
    doc_index.add_index("vec", index_type="FLAT", metric_type="L2")
    _call(
        client.create_collection, docs, schema=_doc_schema(client), index_params=doc_index, consistency_level="Strong"
    )
    if settings.milvus_replicas > 1:
        for name in (passages, docs):
            _call(client.release_collection, name)
            _call(client.load_collection, name, replica_number=settings.milvus_replicas)
    meta = {
        "model": model,
        "dim": dim,
        "chunking": chunking,
        "dense_index": kind,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "format_version": FORMAT_VERSION,
    }
    _write_meta(client, settings.kb, meta)
    return meta


def _drop(client: Any, kb: str) -> None:
    for name in _names(kb):
        if _call(client.has_collection, name):
            _call(client.drop_collection, name)
    if _call(client.has_collection, META):
        _call(client.delete, META, ids=[kb])


# -- writing ------------------------------------------------------------------------------------------------


class MilvusWriter:
    """Adds and deletes documents, a few hundred passages per round trip (each document whole, see the module's
    docstring: within a round, all document rows, then all passages, then the entries)."""

    def __init__(
        self,
        client: Any,
        settings: Settings,
        meta: dict[str, Any],
        chunking: dict[str, int],
        known: Collection[str] = (),
    ) -> None:
        self.client = client
        self.kb = settings.kb
        self.location = f"{settings.resolved_milvus_uri}（知识库 {settings.kb}）"
        self.passages, self.docs = _names(settings.kb)
        self.meta = meta
        self.chunking = chunking
        self._known = set(known)  # documents with rows in Milvus now: an add replaces them
        self._doc_rows: list[dict[str, Any]] = []
        self._passage_rows: list[dict[str, Any]] = []
        self._entry_rows: list[dict[str, Any]] = []
        self._layout: bool | None = None  # does the passage collection have the layout field? asked once

    def add(self, document: Document, passages: list[Passage], vectors: np.ndarray, ingested_at: str) -> None:
        if document.doc_id in self._known:
            self._flush()
            self._remove(document.doc_id)
        data = json.dumps(document_to_json(document), ensure_ascii=False)
        parts = [data[i : i + _DOC_CHUNK_CHARS] for i in range(0, len(data), _DOC_CHUNK_CHARS)] or [""]
        self._doc_rows += [self._doc_row(document.doc_id, n, "", chunk) for n, chunk in enumerate(parts)]
        matrix = np.asarray(vectors, dtype=np.float32)
        rows = [_passage_row(p, v) for p, v in zip(passages, matrix, strict=True)]
        if self._layout is None:
            self._layout = bool(_layout_field(self.client, self.passages))
        if self._layout:
            for row, p in zip(rows, passages, strict=True):
                row["layout"] = _layout_json(p)
        self._passage_rows += rows
        entry = _entry_json(document, len(passages), ingested_at)
        self._entry_rows.append(self._doc_row(document.doc_id, 0, entry, parts[0]))
        self._known.add(document.doc_id)
        if len(self._passage_rows) >= _INSERT_ROWS or len(self._doc_rows) >= 64:
            self._flush()

    def _flush(self) -> None:
        for start in range(0, len(self._doc_rows), 16):
            _call(self.client.insert, self.docs, self._doc_rows[start : start + 16])
        for start in range(0, len(self._passage_rows), _INSERT_ROWS):
            _call(self.client.insert, self.passages, self._passage_rows[start : start + _INSERT_ROWS])
        if self._entry_rows:
            self._mark_ready(self._entry_rows)
        self._doc_rows, self._passage_rows, self._entry_rows = [], [], []

    def _mark_ready(self, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 16):
            _call(self.client.upsert, self.docs, rows[start : start + 16])

    def delete(self, doc_id: str) -> None:
        self._flush()
        self._remove(doc_id)
        self._known.discard(doc_id)

    def _remove(self, doc_id: str) -> None:
        first = _call(self.client.query, self.docs, ids=[f"{doc_id}:0"], output_fields=["data"])
        if first:  # pending first, so a reader drops its hits even if this stops half-way
            _call(self.client.upsert, self.docs, [self._doc_row(doc_id, 0, "", first[0]["data"])])
        quoted = json.dumps(doc_id)
        _call(self.client.delete, self.passages, filter=f"doc_id == {quoted}")
        _call(self.client.delete, self.docs, filter=f"doc_id == {quoted}")

    def repair(self) -> int:
        """Remove what a killed ingest left pending; returns how many documents."""
        pending = _entries(self.client, self.docs, ready=False)
        for doc_id in pending:
            self._remove(doc_id)
        if pending:
            log.warning("Milvus 知识库 %s：清理了上次中断入库留下的 %d 个未完成文档", self.kb, len(pending))
        return len(pending)

    def commit(self) -> str:
        self._flush()
        if self.meta.get("chunking") != self.chunking:
            self.meta = {**self.meta, "chunking": self.chunking}
            _write_meta(self.client, self.kb, self.meta)
        return self.location

    @staticmethod
    def _doc_row(doc_id: str, part: int, entry: str, data: str) -> dict[str, Any]:
        return {
            "key": f"{doc_id}:{part}",
            "doc_id": doc_id,
            "part": part,
            "entry": entry,
            "data": data,
            "vec": [0.0, 0.0],
        }


def _entry_json(document: Document, passages: int, ingested_at: str) -> str:
    entry = DocumentEntry(
        doc_id=document.doc_id,
        path=document.path,
        name=document.name,
        title=document.articles[0].title if document.articles else document.name,
        passages=passages,
        ingested_at=ingested_at,
        encoding=document.encoding,
    )
    return _cut_utf8(json.dumps(asdict(entry), ensure_ascii=False))


def _passage_row(p: Passage, vector: np.ndarray) -> dict[str, Any]:
    row = {f: getattr(p, f) for f in _PASSAGE_FIELDS}
    row["doc_name"] = _cut_utf8(p.doc_name, 4096)
    row["title"] = _cut_utf8(p.title, 8192)
    row["text_hash"] = text_hash(p.text)
    row["keywords"] = _cut_utf8(normalize(p.title + " " + p.text).lower())
    row["dense"] = vector.tolist()
    return row


def milvus_writer(
    settings: Settings, model: str, dim: int, chunking: dict[str, int], *, rebuild: bool = False
) -> tuple[MilvusStore | None, MilvusWriter]:
    client = connect(settings)
    _ensure_meta(client)
    if rebuild:
        _drop(client, settings.kb)
    meta = read_meta(client, settings.kb)
    if meta is not None:
        check_model(_manifest_head(meta), model, dim)
        _ensure_loaded(client, settings)
        MilvusWriter(client, settings, meta, meta["chunking"]).repair()
        store = MilvusStore(client, settings, _manifest(client, settings.kb, meta))
        known = [e.doc_id for e in store.manifest.documents]
        return store, MilvusWriter(client, settings, meta, chunking, known)
    meta = _create_kb(client, settings, model, dim, chunking)
    return None, MilvusWriter(client, settings, meta, chunking)


def _manifest_head(meta: dict[str, Any]) -> Manifest:
    return Manifest(model=meta["model"], dim=int(meta["dim"]), documents=[], passages=0, chunking={}, dense_index="")


def milvus_kbs(settings: Settings) -> list[str]:
    client = connect(settings)
    if not _call(client.has_collection, META):
        return []
    rows = _call(client.query, META, filter='kb != ""', output_fields=["kb"], limit=16_384)
    return sorted(r["kb"] for r in rows)


def drop_milvus_kb(settings: Settings) -> None:
    client = connect(settings)
    if read_meta(client, settings.kb) is None:
        raise KnowledgeBaseMissingError(settings.kb, settings.resolved_milvus_uri, "milvus")
    _drop(client, settings.kb)
