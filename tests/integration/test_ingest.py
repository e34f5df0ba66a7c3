"""Ingestion with the real model, real FAISS and real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import IndexCorruptError, ModelMismatchError
from core.settings import Settings
from ingest.index import current_generation, load_index
from ingest.pipeline import ingest
from qa.retrieve import HybridRetriever
from tests.conftest import ROOT, SEED_FILE

pytestmark = pytest.mark.integration


def _settings(base: Settings, tmp: Path) -> Settings:
    return base.replace(data_dir=tmp, index_dir=tmp / "index")


@pytest.mark.parametrize(
    ("question", "needle"),
    [
        ("中小微企业有多少户", "5200万户"),
        ("个体工商户有多少户", "1.22亿户"),
        ("祥符区引进项目的投资总额是多少", "214.5亿元"),
        ("居民存款新增了多少", "16.67万亿"),
        ("民营经济贡献了多少技术创新成果", "70%以上"),
    ],
)
def test_seed_facts_found_at_rank_one(seed_index, embedder, question: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    results = HybridRetriever(seed_index, embedder).search(question, k=5)
    assert needle in results[0].passage.text, [r.passage.text[:30] for r in results]


def test_every_seed_passage_has_its_article_title(seed_index) -> None:  # type: ignore[no-untyped-def]
    assert len(seed_index.passages) == 46
    assert all(p.title and p.paragraph >= 1 for p in seed_index.passages)
    assert all(seed_index.documents[p.doc_id].text[p.start : p.end] == p.text for p in seed_index.passages)


def test_mixed_folder_reports_bad_files_and_keeps_good_ones(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gbk.txt").write_bytes(
        "甲公司的注册资本为三千万元，总部位于郑州。\n\n甲公司主要生产流量仪表。".encode("gbk")
    )
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 50)
    shutil.copy(SEED_FILE, docs / "seed.txt")
    report = ingest([docs], _settings(model_settings, tmp_path), embedder)
    assert report.documents == 2
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt"}
    assert "为空" in reasons["empty.txt"] and "二进制" in reasons["binary.txt"]
    index = load_index(tmp_path / "index")
    results = HybridRetriever(index, embedder).search("甲公司的注册资本是多少", k=1)
    assert "三千万元" in results[0].passage.text


def test_incremental_reingest_embeds_only_what_changed(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED_FILE, docs / "seed.txt")
    (docs / "b.txt").write_text("乙公司今年营收增长了百分之二十，利润创历史新高。", "utf-8")
    settings = _settings(model_settings, tmp_path)
    first = ingest([docs], settings, embedder)
    assert first.embedded == first.passages == 47
    again = ingest([docs], settings, embedder)
    assert again.embedded == 0 and again.reused == 47 and again.passages == 47
    (docs / "b.txt").write_text("乙公司今年营收增长了百分之三十。", "utf-8")
    (docs / "c.txt").write_text("丙公司在天津开设了十家线下门店。", "utf-8")
    changed = ingest([docs], settings, embedder)
    assert changed.embedded == 2 and changed.passages == 48
    (docs / "c.txt").unlink()
    removed = ingest([docs], settings, embedder)
    assert removed.embedded == 0 and removed.passages == 47
    assert [Path(p).name for p in removed.removed] == ["c.txt"]


def test_passage_ids_stable_across_reingest(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = _settings(model_settings, tmp_path / "a")
    b = _settings(model_settings, tmp_path / "b")
    ingest([SEED_FILE], a, embedder)
    ingest([SEED_FILE], b, embedder, rebuild=True)
    ids = [[p.passage_id for p in load_index(s.resolved_index_dir).passages] for s in (a, b)]
    assert ids[0] == ids[1]


class _OtherModel:
    """A different embedder identity over the same vectors (the refusal is about identity)."""

    def __init__(self, inner, name: str, dim: int) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.name, self.dim = inner, name, dim

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.embed_queries(texts)


def test_model_mismatch_is_refused(seed_settings, embedder, seed_index) -> None:  # type: ignore[no-untyped-def]
    other = _OtherModel(embedder, "BAAI/bge-small-zh-v1.5", 512)
    with pytest.raises(ModelMismatchError, match="重新运行"):
        ingest([SEED_FILE], seed_settings, other)


def test_damaged_index_is_detected(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(model_settings, tmp_path)
    ingest([SEED_FILE], settings, embedder)
    gen = current_generation(tmp_path / "index")
    assert gen is not None
    with (gen / "vectors.npy").open("r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(IndexCorruptError, match="python -m ingest"):
        load_index(tmp_path / "index")


def test_a_damaged_file_is_named_by_its_checksum_even_when_reading_it_fails_too(  # type: ignore[no-untyped-def]
    model_settings, embedder, tmp_path: Path
) -> None:
    settings = _settings(model_settings, tmp_path)
    ingest([SEED_FILE], settings, embedder)
    gen = current_generation(tmp_path / "index")
    assert gen is not None
    (gen / "passages.jsonl").write_bytes(b"{not json\n")  # checked while the passages are parsed
    with pytest.raises(IndexCorruptError, match=r"passages\.jsonl 校验和不符"):
        load_index(tmp_path / "index")
    with pytest.raises(IndexCorruptError) as unchecked:  # without the checksums, only the parse error is left
        load_index(tmp_path / "index", verify=False)
    assert "校验和" not in str(unchecked.value)


def test_cli_ingest_then_search_json(model_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"YIJU_MODEL_CACHE_DIR": str(model_settings.resolved_model_cache_dir), "PATH": "/usr/bin:/bin"}
    index = tmp_path / "index"
    run = [sys.executable, "-m", "ingest", str(ROOT / "seeds"), "--index", str(index), "--quiet"]
    done = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "46 个段落" in done.stdout
    query = [sys.executable, "-m", "qa", "search", "中小微企业有多少户", "--index", str(index), "--json"]
    done = subprocess.run(query, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert {"passage_id", "doc", "title", "paragraph", "score", "text"} <= set(results[0])
    assert "5200万户" in results[0]["text"]


def test_cli_reports_missing_index(tmp_path: Path) -> None:
    query = [sys.executable, "-m", "qa", "search", "问题", "--index", str(tmp_path / "none")]
    done = subprocess.run(query, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "python -m ingest" in done.stderr and "Traceback" not in done.stderr


def test_removing_the_last_document_leaves_an_empty_usable_index(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(model_settings, tmp_path)
    ingest([SEED_FILE], settings, embedder)
    doc_id = load_index(tmp_path / "index").passages[0].doc_id
    report = ingest([], settings, embedder, remove_doc_ids=[doc_id])
    assert report.documents == 0 and report.removed == [str(SEED_FILE)]
    index = load_index(tmp_path / "index")
    assert index.passages == [] and HybridRetriever(index, embedder).search("中小微企业", k=5) == []


def test_querying_with_another_model_is_refused(seed_index, embedder) -> None:  # type: ignore[no-untyped-def]
    other = _OtherModel(embedder, "BAAI/bge-small-zh-v1.5", 512)
    with pytest.raises(ModelMismatchError, match="bge-small-zh"):
        HybridRetriever(seed_index, other)
