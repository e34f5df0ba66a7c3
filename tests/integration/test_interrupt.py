"""Interrupted and concurrent work: SIGKILL during ingest, queries during ingest."""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.index import load_index
from ingest.pipeline import ingest
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


def _ingest_cmd(paths: list[Path], index: Path) -> list[str]:
    return [sys.executable, "-m", "ingest", *map(str, paths), "--index", str(index), "--quiet"]


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
