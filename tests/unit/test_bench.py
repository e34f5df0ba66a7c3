"""The benchmark's pure helpers: sizes, slicing, rounds, metrics, batching, cache keys, report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.__main__ import parse_sizes
from bench.corpus import CorpusDoc, take_passages
from bench.ingest_bench import rotation, split_rounds
from bench.quality import exact_top_k, overlap_at_k, rank_metrics
from bench.query_bench import percentiles
from bench.report import headline, markdown
from bench.vector_cache import CachingEmbedder, VectorStore, cache_key
from core.types import Passage
from eval.datasets import CorpusDocument
from ingest.embed import length_sorted_batches, mean_pool_normalize, pad_batch

ROOT = Path(__file__).resolve().parents[2]


def _doc(name: str, passages: int) -> CorpusDoc:
    ps = tuple(Passage(f"{name}-{i}", name, name, name, 1, i + 1, 1, 0, 1, f"{name} 段落 {i}") for i in range(passages))
    return CorpusDoc(CorpusDocument(f"{name}.txt", "x"), ps)


def test_parse_sizes_sorts_and_puts_all_last() -> None:
    assert parse_sizes("all,50000, 10k") == [10000, 50000, None]
    assert parse_sizes("3000") == [3000]


def test_take_passages_is_the_shortest_prefix_reaching_the_target() -> None:
    docs = [_doc("a", 3), _doc("b", 2), _doc("c", 4)]
    assert [d.doc.name for d in take_passages(docs, 4)] == ["a.txt", "b.txt"]
    assert [d.doc.name for d in take_passages(docs, 3)] == ["a.txt"]
    assert take_passages(docs, 0) == []
    assert len(take_passages(docs, None)) == 3


def test_split_rounds_keeps_order_and_balances_passages() -> None:
    docs = [_doc(str(i), 2) for i in range(10)]
    groups = split_rounds(docs, 4)
    assert [d for g in groups for d in g] == docs
    sizes = [sum(len(d.passages) for d in g) for g in groups]
    assert max(sizes) - min(sizes) <= 2


def test_rotation_changes_who_goes_first() -> None:
    names = ["a", "b", "c"]
    assert [rotation(names, r)[0] for r in range(3)] == ["a", "b", "c"]
    assert sorted(rotation(names, 5)) == names


def test_rank_metrics() -> None:
    m = rank_metrics([1, 3, None, 7])
    assert m["recall_at_1"] == 0.25
    assert m["recall_at_5"] == 0.5
    assert m["mrr_at_10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    assert m["questions"] == 4


def test_exact_top_k_in_blocks_matches_a_full_sort() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    queries = rng.standard_normal((3, 8)).astype(np.float32)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :5]
    assert (exact_top_k(vectors, queries, 5, block=7) == expected).all()


def test_overlap_at_k() -> None:
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    approx = np.array([[4, 3, 2, 1], [5, 6, 0, 9]])
    assert overlap_at_k(exact, approx) == pytest.approx(0.75)


def test_percentiles() -> None:
    stats = percentiles([float(i) for i in range(1, 101)])
    assert stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p95_ms"] == pytest.approx(95.05)
    assert stats["n"] == 100
    assert percentiles([])["n"] == 0


def test_length_sorted_batches_cover_every_index_longest_first() -> None:
    lengths = [5, 1, 9, 3, 7]
    batches = length_sorted_batches(lengths, 2)
    assert batches == [[2, 4], [0, 3], [1]]


def test_length_sorted_batches_end_before_half_padding() -> None:
    lengths = [30] * 25 + [348]
    batches = length_sorted_batches(lengths, 32)
    assert sorted(i for b in batches for i in b) == list(range(26))
    for b in batches:
        width = max(lengths[i] for i in b)
        assert len(b) * width <= 2 * sum(lengths[i] for i in b)
    assert [len(b) for b in batches] == [2, 24]


def test_pad_batch_and_mean_pool_ignore_padding() -> None:
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=1)
    assert ids.tolist() == [[5, 6, 7], [8, 1, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    hidden = np.zeros((2, 3, 2), dtype=np.float32)
    hidden[1, 0] = [3.0, 4.0]
    hidden[1, 1:] = 100.0  # padding positions must not count
    pooled = mean_pool_normalize(hidden, mask)
    assert pooled[1] == pytest.approx([0.6, 0.8])


class _CountingEmbedder:
    name = "fake"
    dim = 2
    passage_prompt = "passage: "
    query_prompt = "query: "

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    embed_queries = embed_passages


def test_caching_embedder_embeds_each_text_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inner = _CountingEmbedder()
    cached = CachingEmbedder(inner, VectorStore(tmp_path / "v.sqlite", 2), "fake/x")
    first = cached.embed_passages(["a", "bb", "a"])
    again = cached.embed_passages(["bb", "ccc"])
    assert inner.seen == ["a", "bb", "ccc"]
    assert first[:, 0].tolist() == [1, 2, 1]
    assert again[:, 0].tolist() == [2, 3]
    assert cached.embedded == 3
    assert cache_key("fake/x", "passage: ", "a") != cache_key("fake/x", "query: ", "a")


def test_headline_and_markdown_from_results() -> None:
    results = {
        "meta": {"quick": True},
        "ingest": {
            "pipeline": {"seconds": 10.0, "passages": 100, "passages_per_s": 10.0, "chars_per_s": 3000.0},
            "pipeline_sentences": {"seconds": 18.0, "passages": 100, "passages_per_s": 5.6, "chars_per_s": 1700.0},
            "raw_encode": {"seconds": 20.0, "passages": 100, "passages_per_s": 5.0, "chars_per_s": 1500.0},
            "raw_runtime": {"seconds": 9.0, "passages": 100, "passages_per_s": 11.1, "chars_per_s": 3300.0},
            "langchain": {"seconds": 25.0, "passages": 120, "passages_per_s": 4.8, "chars_per_s": 1200.0},
        },
        "scales": [],
        "notes": ["n"],
    }
    h = headline(results)
    assert h["ingest_vs_encode_ratio"] == 2.0
    assert h["ingest_vs_langchain_speedup"] == 2.5
    results["headline"] = h
    text = markdown(results)
    assert "| yiju `ingest.pipeline.ingest` (files → index), passages only | 100 |" in text
    assert "2.5×" in text
    assert h["ingest_with_sentence_vectors_slowdown"] == 1.8 and "passages only, time: **1.8×**" in text


def test_without_langchain_community_the_report_says_the_baseline_was_skipped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import argparse
    import importlib.util

    import bench.__main__ as bench_main
    from bench.ingest_bench import langchain_missing

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "langchain_community" else real(n, *a))
    assert langchain_missing() == ["langchain_community"]
    notes: list[str] = []
    args = argparse.Namespace(no_langchain=False)
    assert bench_main._langchain(args, ROOT, 32, notes) is None
    assert "langchain_community not installed" in notes[0] and ".[bench,compare]" in notes[0]

    results = {
        "meta": {"quick": True},
        "ingest": {"pipeline": {"seconds": 10.0, "passages": 100, "passages_per_s": 10.0, "chars_per_s": 3000.0}},
        "scales": [],
        "notes": notes,
    }
    h = headline(results)
    assert h["ingest_vs_langchain_speedup"] is None and h["langchain_query_p50_ms"] is None
    results["headline"] = h
    text = markdown(results)
    assert "LangChain baseline not run" in text and notes[0] in text


def test_ocr_figures_reach_the_headline_and_the_report() -> None:
    from bench.ocr_bench import ocr_table
    from bench.report import headline

    ocr = {"pages": 2, "seconds": 8.0, "pages_per_s": 0.25, "engine_load_s": 1.0, "min_char_accuracy": 0.99}
    ocr["rows"] = [{"page": "one column, PNG", "seconds": 4.0, "char_accuracy": 0.995}]
    results = {"ocr": ocr}
    assert headline(results)["ocr_pages_per_s"] == 0.25 and headline({})["ocr_pages_per_s"] is None
    assert "| one column, PNG | 4.0 | 99.50 % |" in ocr_table(results)


def test_the_scale_table_says_how_the_sentence_vectors_were_stored() -> None:
    from bench.report import scale_table

    def scale(n: int, stored_by: str | None) -> dict:
        p = {"p50_ms": 20.0, "p95_ms": 25.0}
        latency = {"dense": p, "bm25": p, "hybrid": p, "ask": p, "ask_per_question_vectors": p}
        if stored_by:
            latency["ask_sentence_vectors"] = stored_by
        q = {"recall_at_5": 0.9, "mrr_at_10": 0.8}
        return {
            "passages": n,
            "dense_index": "flat",
            "latency": latency,
            "quality": {"dense": q, "bm25": q, "hybrid": q},
            "serving": {"rss_mb": 700, "peak_rss_mb": 720},
            "ingest_subprocess": {"peak_rss_mb": 600},
            "disk": {"index_mb": 12.0, "raw_vectors_mb": 3.0},
        }

    rows = scale_table({"scales": [scale(10000, "ingest"), scale(175119, "first pass"), scale(2000, None)]})
    assert "| 20.0 / 25.0 (ingest) |" in rows[2]
    assert "| 20.0 / 25.0 (first pass) |" in rows[3]
    assert "| 20.0 / 25.0 (ingest) |" in rows[4]  # results written before the option: stored at ingest


def test_the_store_table_counts_milvus_lites_engine_in_its_serving_memory() -> None:
    from bench.report import headline, serving_rss, store_table

    p = {"p50_ms": 10.0, "p95_ms": 12.0}
    q = {"dense": {"recall_at_5": 0.9}, "bm25": {"recall_at_5": 0.9}, "hybrid": {"recall_at_5": 0.95}}
    milvus = {"dense_index": "FLAT", "write_seconds": 3.0, "faiss_write_seconds": 1.0, "latency": {"hybrid": p}}
    milvus |= {"quality": q, "serving": {"rss_mb": 900.0, "children_rss_mb": 350.0}}
    scale = {"passages": 2000, "dense_index": "flat", "latency": {"hybrid": p}, "quality": q, "milvus": milvus}
    scale["serving"] = {"rss_mb": 1000.0, "children_rss_mb": 0.0}
    faiss_row, milvus_row = store_table({"scales": [scale]})[2:]
    assert faiss_row.endswith("| 1000.0 (0.0) |") and milvus_row.endswith("| 1250.0 (350.0) |")
    assert serving_rss({"error": "probe failed"}) is None
    assert headline({"scales": [scale]})["milvus_serving_rss_mb"] == 1250.0
