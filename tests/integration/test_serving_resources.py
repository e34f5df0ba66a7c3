"""Serving at scale: FAISS threads per query, documents read on demand, ONNX arena released (same vectors)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from core.text import tokenize
from core.types import Document
from ingest.chunk import chunk_document
from ingest.clean import clean_text
from ingest.index import DocumentStore, load_index, write_index
from ingest.load import content_hash
from qa.retrieve import faiss_threads

pytestmark = pytest.mark.integration

TEXTS = {
    "a.txt": "中小企业发展报告\n\n截至2023年底，我国中小微企业超过5200万户。\n\n专精特新中小企业达到10.3万家。",
    "b.txt": "个体工商户\n\n天津市登记在册的个体工商户有一百多万户，同比增长百分之五。",
}


def _documents() -> list[Document]:
    docs = []
    for name, raw in TEXTS.items():
        text, articles = clean_text(raw, fallback_title=Path(name).stem)
        docs.append(Document(content_hash(raw.encode("utf-8")), name, name, text, articles))
    return docs


def _write(index_dir: Path) -> list[Document]:
    docs = _documents()
    passages = [p for d in docs for p in chunk_document(d, 350, 20)]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(passages), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    write_index(
        index_dir,
        docs,
        passages,
        vectors,
        [tokenize(p.text) for p in passages],
        "fake",
        {"max_chars": 350, "min_chars": 20},
        {d.doc_id: "2024-01-01 00:00:00" for d in docs},
    )
    return docs


def test_faiss_threads_apply_to_the_calling_thread_only_and_are_restored() -> None:
    import faiss

    before = faiss.omp_get_max_threads()
    seen: list[int] = []
    with faiss_threads(1):
        assert faiss.omp_get_max_threads() == 1
        other = threading.Thread(target=lambda: seen.append(faiss.omp_get_max_threads()))
        other.start()
        other.join()
    assert faiss.omp_get_max_threads() == before
    assert seen == [before]  # an index build in another thread keeps every thread
    with faiss_threads(None):
        assert faiss.omp_get_max_threads() == before


def test_documents_are_read_on_demand_and_equal_the_written_ones(tmp_path: Path) -> None:
    docs = _write(tmp_path / "index")
    index = load_index(tmp_path / "index")
    assert isinstance(index.documents, DocumentStore)
    assert len(index.documents) == 2
    assert list(index.documents) == [d.doc_id for d in docs]
    assert all(index.documents[d.doc_id] == d for d in docs)
    assert index.documents.get("missing") is None
    assert all(index.documents[p.doc_id].text[p.start : p.end] == p.text for p in index.passages)


def test_copies_of_the_documents_share_the_open_file(tmp_path: Path) -> None:
    import copy

    docs = _write(tmp_path / "index")
    store = load_index(tmp_path / "index").documents
    assert copy.deepcopy(store) is store and copy.copy(store) is store  # the chat state is deep-copied
    assert copy.deepcopy({"turn": store})["turn"][docs[0].doc_id] == docs[0]


def test_documents_stay_readable_after_their_generation_is_removed(tmp_path: Path) -> None:
    docs = _write(tmp_path / "index")
    index = load_index(tmp_path / "index")
    shutil.rmtree(index.path)  # a later ingest removed this generation while an answer still holds it
    assert index.documents[docs[1].doc_id] == docs[1]


def test_bm25_scores_from_the_memory_mapped_index(tmp_path: Path) -> None:
    _write(tmp_path / "index")
    index = load_index(tmp_path / "index")
    scores = index.bm25.get_scores([t for t in tokenize("个体工商户") if t in index.bm25.vocab_dict])
    best = int(np.argmax(scores))
    assert "个体工商户" in index.passages[best].text and scores[best] > 0


def test_releasing_the_onnx_arena_leaves_the_vectors_unchanged(embedder) -> None:  # type: ignore[no-untyped-def]
    if embedder.backend != "onnx-int8":
        pytest.skip("the default embedder runs on torch here (onnxruntime not installed)")
    runtime = embedder.runtime
    texts = ["passage: " + "弗里西亚群岛位于欧洲西北部，" * 20, "passage: 我国中小微企业有多少户？", "passage: 短句。"]
    released = runtime.encode(texts, 2, False)
    kept_options = runtime.release_memory
    try:
        runtime.release_memory = None
        kept = runtime.encode(texts, 2, False)
    finally:
        runtime.release_memory = kept_options
    assert np.array_equal(released, kept)
