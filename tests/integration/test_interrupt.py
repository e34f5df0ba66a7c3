"""Interrupted and concurrent work: SIGKILL during ingest (FAISS and Milvus Lite), queries during ingest."""

from __future__ import annotations

import contextlib
import gzip
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.index import load_index
from ingest.pipeline import ingest
from ingest.store import open_store
from qa.retrieve import HybridRetriever
from tests.conftest import ROOT, SEED_FILE, SHARED_DATA

pytestmark = pytest.mark.integration


def _news_docs(folder: Path, n: int) -> None:
    """``n`` real news documents from the CRUD-RAG corpus, one file each."""
    folder.mkdir(parents=True, exist_ok=True)
    source = SHARED_DATA / "crud_rag" / "80000_docs" / "documents_dup_part_1_part_1.gz"
    assert source.exists(), f"missing shared data: {source}"
    with gzip.open(source, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            (folder / f"news_{i:04d}.txt").write_text(line.strip()[:1200], "utf-8")


def _ingest_cmd(paths: list[Path], index: Path | None = None, quiet: bool = True) -> list[str]:
    where = ["--index", str(index)] if index else []
    return [sys.executable, "-m", "ingest", *map(str, paths), *where, *(["--quiet"] if quiet else [])]


def _kill_at(proc: subprocess.Popen[bytes], stage: str, after: float) -> None:
    """SIGKILL ``proc`` ``after`` seconds once its progress on stderr matches ``stage``."""
    seen = b""
    assert proc.stderr is not None
    while proc.poll() is None and not re.search(stage, seen.decode("utf-8", "ignore")):
        seen = seen[-4096:] + os.read(proc.stderr.fileno(), 4096)
    time.sleep(after)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert alive, f"the ingest ended before it was killed at {stage!r}"


def test_sigkill_during_ingest_leaves_previous_index_usable(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index_dir = tmp_path / "index"
    settings = model_settings.replace(data_dir=tmp_path, index_dir=index_dir)
    ingest([SEED_FILE], settings, embedder)
    before = load_index(index_dir)
    news = tmp_path / "news"
    _news_docs(news, 100)
    env = {**os.environ, "YIJU_MODEL_CACHE_DIR": str(model_settings.resolved_model_cache_dir)}
    rng = random.Random(7)
    for delay in (rng.uniform(4, 9), rng.uniform(9, 16)):
        proc = subprocess.Popen(_ingest_cmd([SEED_FILE, news], index_dir), cwd=ROOT, env=env)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        after = load_index(index_dir)  # verifies checksums and counts
        assert after.manifest.passages in (before.manifest.passages, after.manifest.passages)
        assert [p.passage_id for p in after.passages[: len(before.passages)]] == [p.passage_id for p in before.passages]
    done = subprocess.run(_ingest_cmd([SEED_FILE, news], index_dir), cwd=ROOT, env=env, timeout=900)
    assert done.returncode == 0
    final = load_index(index_dir)
    assert len(final.manifest.documents) == 101
    assert not list(index_dir.glob(".building-*")) or all(
        time.time() - p.stat().st_mtime < 120 for p in index_dir.glob(".building-*")
    )


@contextlib.contextmanager
def _milvus_reader(settings):  # type: ignore[no-untyped-def]
    """The Milvus Lite file opened as a fresh reader would, and let go again (the engine runs one process per
    file: while this process holds it, an ingest command cannot open it)."""
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def _check_consistent(store, embedder) -> int:  # type: ignore[no-untyped-def]
    """What a reader sees: only whole, ready documents, each hit with its document; returns the passage rows."""
    ready = {e.doc_id: e.passages for e in store.manifest.documents}
    assert store.manifest.passages == sum(ready.values())
    hits = HybridRetriever(store, embedder).search("新闻", k=50)
    assert hits and {h.passage.doc_id for h in hits} <= set(ready)
    assert all(store.documents[h.passage.doc_id].text for h in hits)
    rows = store.client.query(store.passage_collection, filter="", output_fields=["count(*)"])
    return int(rows[0]["count(*)"])


def test_sigkill_during_a_milvus_ingest_leaves_whole_documents_and_the_rerun_completes(
    model_settings, embedder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = model_settings.replace(data_dir=tmp_path, store="milvus", milvus_uri=str(tmp_path / "milvus.db"))
    news = tmp_path / "news"
    _news_docs(news, 100)
    env = {
        **os.environ,
        "YIJU_MODEL_CACHE_DIR": str(model_settings.resolved_model_cache_dir),
        "YIJU_DATA_DIR": str(tmp_path),
        "YIJU_STORE": "milvus",
        "YIJU_MILVUS_URI": settings.resolved_milvus_uri,
        "HOME": str(tmp_path),  # milvus-lite's server reads it
    }
    assert subprocess.run(_ingest_cmd([SEED_FILE]), cwd=ROOT, env=env, timeout=300).returncode == 0
    seen = []
    # Killed while embedding (nothing written yet), then just after the writes begin (the sentence vectors are
    # the last step before them): the progress on stderr says when.
    for stage, after in ((r"向量化:\s+\d+%", 1.0), (r"向量化句子:\s+100%", 0.3)):
        _kill_at(
            subprocess.Popen(_ingest_cmd([SEED_FILE, news], quiet=False), cwd=ROOT, env=env, stderr=subprocess.PIPE),
            stage,
            after,
        )
        with _milvus_reader(settings) as store:  # opens: the killed run left no engine holding the file
            _check_consistent(store, embedder)
            seen.append(store.manifest.passages)
    done = subprocess.run(_ingest_cmd([SEED_FILE, news]), cwd=ROOT, env=env, timeout=900)
    assert done.returncode == 0
    with _milvus_reader(settings) as final:
        rows = _check_consistent(final, embedder)
        assert len(final.manifest.documents) == 101
        assert all(46 <= n <= final.manifest.passages for n in seen)
        assert rows == final.manifest.passages  # nothing the killed runs wrote is left over
        top = HybridRetriever(final, embedder).search("我国中小微企业有多少户", k=1)
        assert "5200万户" in top[0].passage.text


def test_queries_during_ingest_see_old_or_new_never_a_mix(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index_dir = tmp_path / "index"
    settings = model_settings.replace(data_dir=tmp_path, index_dir=index_dir)
    ingest([SEED_FILE], settings, embedder)
    news = tmp_path / "news"
    _news_docs(news, 40)
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                index = load_index(index_dir)
                assert index.vectors.shape[0] == len(index.passages) == index.dense.ntotal
                seen.add(len(index.passages))
            except BaseException as exc:  # collected and re-raised in the test thread
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        ingest([SEED_FILE, news], settings, embedder)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors[0]
    final = len(load_index(index_dir).passages)
    assert seen <= {46, final} and final in seen
