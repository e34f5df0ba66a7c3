"""The same ingest, re-ingest, delete, search, ask and LangChain checks on both stores: FAISS and a real
Milvus Lite (the embedded engine, in a file under the test's folder), with the real model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError, IndexMissingError, ModelMismatchError, StoreError
from core.settings import Settings
from ingest.pipeline import ingest
from ingest.sentence_vectors import sentence_vectors_path
from ingest.store import delete_kb, list_kbs, open_store
from qa.assistant import Assistant
from qa.langchain_retriever import YijuRetriever
from qa.retrieve import HybridRetriever
from tests.conftest import ROOT, SEED_FILE, SEEDS

pytestmark = pytest.mark.integration

STORES = ["faiss", "milvus"]
SEED_QUESTIONS = ROOT / "eval" / "seed_questions.jsonl"


def _settings(base: Settings, tmp: Path, store: str, kb: str = "default") -> Settings:
    return base.replace(data_dir=tmp, index_dir=tmp / "index", store=store, milvus_uri=str(tmp / "milvus.db"), kb=kb)


@pytest.fixture(scope="module", params=STORES)
def seed_store(request, model_settings, embedder, tmp_path_factory):  # type: ignore[no-untyped-def]
    settings = _settings(model_settings, tmp_path_factory.mktemp(f"seed-{request.param}"), request.param)
    ingest([SEEDS], settings, embedder)
    return settings, open_store(settings)


@pytest.fixture(scope="module")
def both_assistants(model_settings, embedder, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = {}
    for store in STORES:
        settings = _settings(model_settings, tmp_path_factory.mktemp(f"ask-{store}"), store)
        ingest([SEEDS], settings, embedder)
        out[store] = Assistant(settings, embedder)
    return out


@pytest.mark.parametrize(
    ("question", "needle"),
    [
        ("中小微企业有多少户", "5200万户"),
        ("个体工商户有多少户", "1.22亿户"),
        ("祥符区引进项目的投资总额是多少", "214.5亿元"),
        ("居民存款新增了多少", "16.67万亿"),
    ],
)
def test_seed_facts_found_at_rank_one(seed_store, embedder, question: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    _, store = seed_store
    results = HybridRetriever(store, embedder).search(question, k=5)
    assert needle in results[0].passage.text, [r.passage.text[:30] for r in results]


def test_every_passage_has_its_document_text(seed_store) -> None:  # type: ignore[no-untyped-def]
    _, store = seed_store
    assert store.manifest.passages == 46 and len(store.documents) == 1
    (entry,) = store.manifest.documents
    doc = store.documents[entry.doc_id]
    ids = [h.passage_id for h in store.keyword_search(["中小企业"], 50)]
    for passage, vector in store.fetch(ids):
        assert doc.text[passage.start : passage.end] == passage.text
        assert vector.shape == (store.manifest.dim,)


def test_each_method_and_a_document_filter(seed_store, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, store = seed_store
    retriever = HybridRetriever(store, embedder)
    for method in ("dense", "bm25", "hybrid"):
        top = retriever.search("我国中小微企业有多少户", k=3, method=method)  # type: ignore[arg-type]
        assert "5200万户" in top[0].passage.text, method
    doc_id = store.manifest.documents[0].doc_id
    assert retriever.search("中小微企业", k=3, doc_ids=[doc_id])
    assert retriever.search("中小微企业", k=3, doc_ids=["0" * 40]) == []
    assert retriever.restricted_to(["0" * 40]).search("中小微企业", k=3) == []


def test_incremental_reingest_and_deletes_reach_both_sides(
    model_settings, embedder, tmp_path: Path, store: str
) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED_FILE, docs / "seed.txt")
    (docs / "b.txt").write_text("乙公司今年营收增长了百分之二十，利润创历史新高。", "utf-8")
    settings = _settings(model_settings, tmp_path, store)
    first = ingest([docs], settings, embedder)
    assert first.embedded == first.passages == 47
    again = ingest([docs], settings, embedder)
    assert again.embedded == 0 and again.reused == 47 and again.passages == 47
    (docs / "b.txt").write_text("乙公司今年营收增长了百分之三十。", "utf-8")
    (docs / "c.txt").write_text("丙公司在天津开设了十家线下门店。", "utf-8")
    changed = ingest([docs], settings, embedder)
    assert changed.embedded == 2 and changed.passages == 48
    retriever = HybridRetriever(open_store(settings), embedder)
    assert "百分之三十" in retriever.search("乙公司营收增长了多少", k=1)[0].passage.text
    assert not _texts_with(retriever, "乙公司营收增长了多少", "百分之二十")  # the old version is gone
    (docs / "c.txt").unlink()
    removed = ingest([docs], settings, embedder)
    assert removed.embedded == 0 and removed.passages == 47
    assert [Path(p).name for p in removed.removed] == ["c.txt"]
    retriever = HybridRetriever(open_store(settings), embedder)
    assert not _texts_with(retriever, "丙公司在天津开设了几家门店", "丙公司")
    assert open_store(settings).manifest.passages == 47


def _texts_with(retriever: HybridRetriever, question: str, needle: str) -> list[str]:
    """Passages holding ``needle`` among the dense and the keyword side's candidates, each on its own."""
    found = []
    for method in ("dense", "bm25"):
        found += [r.passage.text for r in retriever.search(question, k=50, method=method) if needle in r.passage.text]  # type: ignore[arg-type]
    return found


@pytest.fixture(params=STORES)
def store(request) -> str:  # type: ignore[no-untyped-def]
    return request.param


def test_removing_the_last_document_leaves_an_empty_usable_store(
    model_settings, embedder, tmp_path: Path, store: str
) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(model_settings, tmp_path, store)
    ingest([SEED_FILE], settings, embedder)
    doc_id = open_store(settings).manifest.documents[0].doc_id
    report = ingest([], settings, embedder, remove_doc_ids=[doc_id])
    assert report.documents == 0 and report.removed == [str(SEED_FILE)]
    empty = open_store(settings)
    assert empty.manifest.passages == 0 and not empty.manifest.documents
    assert HybridRetriever(empty, embedder).search("中小微企业", k=5) == []
    assert empty.dense_search(embedder.embed_queries(["中小微企业"])[0], 10) == []
    assert empty.keyword_search(["中小微企业"], 10) == []


class _OtherModel:
    def __init__(self, inner, name: str, dim: int) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.name, self.dim = inner, name, dim

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.embed_queries(texts)


def test_another_model_is_refused(seed_store, embedder) -> None:  # type: ignore[no-untyped-def]
    settings, store = seed_store
    other = _OtherModel(embedder, "BAAI/bge-small-zh-v1.5", 512)
    with pytest.raises(ModelMismatchError, match="重新运行"):
        ingest([SEED_FILE], settings, other)
    with pytest.raises(ModelMismatchError, match="bge-small-zh"):
        HybridRetriever(store, other)


def test_knowledge_bases_are_separate(model_settings, embedder, tmp_path: Path, store: str) -> None:  # type: ignore[no-untyped-def]
    news = tmp_path / "news.txt"
    news.write_text("丁公司宣布在成都新建一座智能工厂，总投资八十亿元。", "utf-8")
    ingest([SEED_FILE], _settings(model_settings, tmp_path, store), embedder)
    other = _settings(model_settings, tmp_path, store, kb="factory")
    ingest([news], other, embedder)
    assert list_kbs(other) == ["default", "factory"]
    top = HybridRetriever(open_store(other), embedder).search("丁公司在哪里建工厂", k=5)
    assert [r.passage.doc_name for r in top] == ["news.txt"]
    assert sentence_vectors_path(other).is_file()  # the base's sentences, kept for answering
    delete_kb(other)
    assert list_kbs(other) == ["default"]
    assert not sentence_vectors_path(other).exists()  # gone with the base, on either store
    with pytest.raises(IndexMissingError, match="--kb factory"):
        open_store(other)


def test_langchain_retriever_on_the_store(seed_store, embedder) -> None:  # type: ignore[no-untyped-def]
    _, store = seed_store
    docs = YijuRetriever(retriever=HybridRetriever(store, embedder), k=3).invoke("我国中小微企业有多少户？")
    assert len(docs) == 3 and "5200万户" in docs[0].page_content
    assert docs[0].metadata["paragraph"] == 2 and docs[0].metadata["title"].endswith("加快成长")
    assert docs[0].id == docs[0].metadata["passage_id"]
    none = YijuRetriever(retriever=HybridRetriever(store, embedder), k=3, doc_ids=["0" * 40])
    assert none.invoke("我国中小微企业有多少户？") == []


def test_seed_questions_get_the_same_answers_on_both_stores(both_assistants) -> None:  # type: ignore[no-untyped-def]
    lines = SEED_QUESTIONS.read_text("utf-8").splitlines()
    questions = [json.loads(line) for line in lines[::6]]  # 26 of 152, answerable and not
    differ = []
    for q in questions:
        faiss, milvus = (both_assistants[s].ask(q["question"]) for s in STORES)
        if (faiss.refused, faiss.text) != (milvus.refused, milvus.text):
            differ.append((q["id"], faiss.text[:40], milvus.text[:40]))
    assert not differ
    answer = both_assistants["milvus"].ask("我国中小微企业有多少户？")
    assert not answer.refused and "5200万" in answer.text
    assert both_assistants["milvus"].ask("我国中小微企业2019年有多少户？").refused


def test_a_killed_milvus_ingest_is_invisible_then_completed(
    model_settings, embedder, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from ingest.milvus_store import MilvusWriter

    settings = _settings(model_settings, tmp_path, "milvus")
    ingest([SEED_FILE], settings, embedder)
    news = tmp_path / "news.txt"
    news.write_text("戊公司今年在西安开设了十二家线下门店。", "utf-8")

    def killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # stops after the passages are in, before the entry is written

    with monkeypatch.context() as m:
        m.setattr(MilvusWriter, "_mark_ready", killed)
        with pytest.raises(KeyboardInterrupt):
            ingest([SEED_FILE, news], settings, embedder)
    half = open_store(settings)
    assert half.manifest.passages == 46
    assert not _texts_with(HybridRetriever(half, embedder), "戊公司开了几家门店", "戊公司")
    done = ingest([SEED_FILE, news], settings, embedder)
    assert done.passages == 47
    store = open_store(settings)
    top = HybridRetriever(store, embedder).search("戊公司开了几家门店", k=1)
    assert "十二家" in top[0].passage.text
    hits = [h.passage_id for h in store.keyword_search(["戊公司"], 50)]
    assert [p.text for p, _ in store.fetch(hits) if "戊公司" in p.text] == [news.read_text("utf-8")]  # one copy


def test_an_unreachable_server_is_reported_without_the_token(model_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(model_settings, tmp_path, "milvus").replace(
        milvus_uri="http://127.0.0.1:9", milvus_token="root:s3cret-token"
    )
    with pytest.raises(StoreError) as caught:
        open_store(settings)
    assert "YIJU_MILVUS_URI" in str(caught.value) and "s3cret" not in str(caught.value)
    assert "s3cret" not in repr(settings)


def test_cli_on_milvus_with_a_knowledge_base(model_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {
        "YIJU_MODEL_CACHE_DIR": str(model_settings.resolved_model_cache_dir),
        "YIJU_MILVUS_URI": str(tmp_path / "milvus.db"),
        "YIJU_STORE": "milvus",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),  # milvus-lite's server reads it
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    done = run("-m", "ingest", str(SEEDS), "--kb", "policy", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "46 个段落" in done.stdout
    done = run("-m", "qa", "search", "中小微企业有多少户", "--kb", "policy", "--doc", SEED_FILE.name, "--json")
    assert done.returncode == 0, done.stderr
    assert "5200万户" in json.loads(done.stdout)[0]["text"]
    done = run("-m", "qa", "kb", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert [(kb["name"], kb["passages"]) for kb in json.loads(done.stdout)] == [("policy", 46)]
    done = run("-m", "qa", "ask", "问题", "--kb", "nothing")
    assert done.returncode == 1 and "--kb nothing" in done.stderr and "Traceback" not in done.stderr
    assert run("-m", "qa", "kb", "delete", "policy").returncode == 0
    assert json.loads(run("-m", "qa", "kb", "list", "--json").stdout) == []


def test_the_app_services_work_per_knowledge_base(model_settings, embedder, tmp_path: Path, store: str) -> None:  # type: ignore[no-untyped-def]
    from ui.services import Preferences, Services, ensure_index

    settings = _settings(model_settings, tmp_path, store).replace(seed_dir=SEEDS)
    ensure_index(settings, embedder, lambda _: None)
    services = Services(settings, Assistant(settings, embedder))
    upload = tmp_path / "factory.txt"
    upload.write_text("丁公司宣布在成都新建一座智能工厂，总投资八十亿元。", "utf-8")
    assert services.document_entries("factory") == []
    (line,) = services.add_files([(upload, "factory.txt")], kb="factory")
    assert line[0] == "ok", line
    assert services.knowledge_bases() == ["default", "factory"]
    assert [e.passages for e in services.document_entries("factory")] == [1]
    answer = services.assistant_for(Preferences(kb="factory")).ask("丁公司的智能工厂总投资多少？")
    assert not answer.refused and "八十亿元" in answer.text
    assert services.assistant_for(Preferences()).ask("丁公司的智能工厂总投资多少？").refused
    seed_doc = services.document_entries()[0].doc_id
    restricted = services.assistant_for(Preferences(doc_ids=(seed_doc,)))
    assert "5200万" in restricted.ask("我国中小微企业有多少户？").text
    assert {r.passage.doc_id for r in restricted.retriever.search("中小企业", k=5)} == {seed_doc}
    with pytest.raises(ConfigError, match="知识库名称"):
        services.document_entries("中文名")


@pytest.mark.parametrize("store", STORES)
def test_pages_and_boxes_are_kept(store: str, model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from core.types import scored_record
    from tests.support.scans import text_layer_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEED_FILE, docs / SEED_FILE.name)
    text_layer_pdf(
        docs / "report.pdf",
        [["某市小微企业补贴工作简报"], ["某市2025年共向小微企业发放补贴资金3.6亿元，", "惠及企业一万二千余家。"]],
    )
    settings = _settings(model_settings, tmp_path, store)
    ingest([docs], settings, embedder)
    retriever = HybridRetriever(open_store(settings), embedder)
    top = retriever.search("某市2025年向小微企业发放了多少补贴资金", k=3)[0]
    assert "3.6亿元" in top.passage.text and top.passage.page == 2 and not top.passage.ocr
    assert len(top.passage.boxes) == 2 and all(0 <= v <= 1 for box in top.passage.boxes for v in box)
    assert scored_record(top)["page"] == 2
    seed = retriever.search("中小微企业有多少户", k=1)[0]
    assert seed.passage.page is None and seed.passage.boxes == () and scored_record(seed)["page"] is None
    doc = open_store(settings).documents[top.passage.doc_id]
    assert doc.pages == 2 and {ln.page for ln in doc.lines} == {1, 2}


@pytest.fixture
def milvus_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The Milvus engine of the milvus-lite wheel serving gRPC on a free port of 127.0.0.1: the code path of a
    Milvus server (``http://host:port``), with several processes on one knowledge base."""
    import socket
    import time

    from milvus_lite.server import Server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = Server(str(tmp_path / "server.db"), address=f"127.0.0.1:{port}")
    assert server.init() and server.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_a_milvus_server_is_shared_by_the_app_and_an_ingest_command(  # type: ignore[no-untyped-def]
    milvus_server: str, model_settings, embedder, tmp_path: Path
) -> None:
    # The engine in the wheel indexes FLAT, IVF_FLAT and AUTOINDEX only ("auto" picks HNSW on a server).
    settings = model_settings.replace(
        data_dir=tmp_path, store="milvus", milvus_uri=milvus_server, milvus_index="FLAT", kb="shared"
    )
    with pytest.raises(StoreError, match="YIJU_MILVUS_INDEX"):
        ingest([SEED_FILE], settings.replace(milvus_index="HNSW"), embedder)
    ingest([SEED_FILE], settings, embedder)
    assistant = Assistant(settings, embedder)  # holds its connection, as the app does
    assert "5200万" in assistant.ask("我国中小微企业有多少户？").text
    news = tmp_path / "news.txt"
    news.write_text("己公司今年在青岛新建了三座冷链仓库，总投资九亿元。", "utf-8")
    env = {
        "YIJU_MODEL_CACHE_DIR": str(model_settings.resolved_model_cache_dir),
        "YIJU_DATA_DIR": str(tmp_path),
        "YIJU_STORE": "milvus",
        "YIJU_MILVUS_URI": milvus_server,
        "YIJU_MILVUS_INDEX": "FLAT",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ingest", str(SEED_FILE), str(news), "--kb", "shared", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr  # a Milvus Lite file would refuse a second process here
    assert "47 个段落" in done.stdout
    assert assistant.ask("己公司新建了几座冷链仓库？").refused  # it reads the documents ready when it opened
    assistant.reload()
    answer = assistant.ask("己公司新建了几座冷链仓库？")
    assert not answer.refused and "三座" in answer.text
    assert [kb["name"] for kb in _kb_list(env)] == ["shared"]


def _kb_list(env: dict[str, str]) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "qa", "kb", "list", "--json"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_sentence_vectors_of_replaced_and_removed_documents_are_forgotten(  # type: ignore[no-untyped-def]
    model_settings, embedder, tmp_path: Path, store: str
) -> None:
    from ingest.chunk import chunk_document, split_sentences
    from ingest.sentence_vectors import SentenceVectors

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("甲公司在苏州新建研发中心。研发中心将招聘三百名工程师。", "utf-8")
    (folder / "b.txt").write_text("乙公司今年营收增长两成。董事长表示将继续扩大投资。", "utf-8")
    settings = _settings(model_settings, tmp_path, store)

    def stored() -> int:
        vectors = SentenceVectors(sentence_vectors_path(settings), embedder)
        try:
            return vectors.count()
        finally:
            vectors.close()

    def current_sentences() -> set[str]:
        docs = open_store(settings).documents
        passages = [
            p for d in docs.values() for p in chunk_document(d, settings.max_passage_chars, settings.min_passage_chars)
        ]
        return {t for p in passages for _, _, t in split_sentences(p.text)}

    first = ingest([folder], settings, embedder)
    assert first.sentences_forgotten == 0 and stored() == len(current_sentences()) == 4
    (folder / "b.txt").write_text("乙公司今年营收增长三成。董事长表示将继续扩大投资。", "utf-8")
    edited = ingest([folder], settings, embedder)
    assert edited.sentences_forgotten == 1  # the changed sentence; the one kept in the new version stays
    assert stored() == len(current_sentences()) == 4
    (folder / "a.txt").unlink()
    removed = ingest([folder], settings, embedder)
    assert removed.removed and removed.sentences_forgotten == 2
    assert stored() == len(current_sentences()) == 2


def test_fetch_gives_the_same_passages_and_vectors_after_a_search_and_without_one(seed_store, embedder) -> None:  # type: ignore[no-untyped-def]
    settings, store = seed_store
    hits = HybridRetriever(store, embedder).search("个体工商户有多少户", k=5)
    searched = [h.passage.passage_id for h in hits]
    fresh = open_store(settings)  # nothing searched yet: every passage is looked up by id
    others = [h.passage_id for h in fresh.keyword_search(["企业"], 40) if h.passage_id not in searched][:5]
    assert others
    for ids in (searched, others, searched[:2] + others[:2]):
        mixed, looked_up = store.fetch(ids), open_store(settings).fetch(ids)
        assert [p.passage_id for p, _ in mixed] == ids
        assert [p for p, _ in mixed] == [p for p, _ in looked_up]
        for (_, a), (_, b) in zip(mixed, looked_up, strict=True):
            assert a.dtype == b.dtype == np.float32 and np.allclose(a, b) and abs(float(np.linalg.norm(a)) - 1) < 1e-3
