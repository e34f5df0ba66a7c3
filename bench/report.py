"""Headline figures, the Markdown report and the console table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.ocr_bench import ocr_table


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The flat keys every run reports (the largest measured size for the query and quality figures)."""
    ingest = results.get("ingest", {})
    pipe = ingest.get("pipeline", {})
    raw = ingest.get("raw_encode", {})
    runtime = ingest.get("raw_runtime", {})
    lc = ingest.get("langchain", {})
    scales = results.get("scales", [])
    top = scales[-1] if scales else {}
    latency = top.get("latency", {})
    serving = top.get("serving", {})
    built = top.get("ingest_subprocess", {})
    has_lc = bool(lc)
    out = {
        "ingest_passages_per_s": round(pipe.get("passages_per_s", 0.0), 2),
        "raw_encode_passages_per_s": round(raw.get("passages_per_s", 0.0), 2),
        "raw_runtime_passages_per_s": round(runtime.get("passages_per_s", 0.0), 2),
        "ingest_vs_encode_ratio": _ratio(pipe.get("passages_per_s", 0.0), raw.get("passages_per_s", 0.0)),
        "ingest_vs_runtime_ratio": _ratio(pipe.get("passages_per_s", 0.0), runtime.get("passages_per_s", 0.0)),
        # None when the LangChain baseline was not run (see the notes).
        "langchain_passages_per_s": round(lc.get("passages_per_s", 0.0), 2) if has_lc else None,
        # Same documents, so the ratio of times is the fair one (the two splitters make different passage counts).
        "ingest_vs_langchain_speedup": _ratio(lc.get("seconds", 0.0), pipe.get("seconds", 0.0)) if has_lc else None,
        "ingest_vs_langchain_passages_per_s_ratio": (
            _ratio(pipe.get("passages_per_s", 0.0), lc.get("passages_per_s", 0.0)) if has_lc else None
        ),
        "scale_passages": top.get("passages", 0),
        "query_dense_p50_ms": round(latency.get("dense", {}).get("p50_ms", 0.0), 1),
        "query_bm25_p50_ms": round(latency.get("bm25", {}).get("p50_ms", 0.0), 1),
        "query_hybrid_p50_ms": round(latency.get("hybrid", {}).get("p50_ms", 0.0), 1),
        "query_hybrid_p95_ms": round(latency.get("hybrid", {}).get("p95_ms", 0.0), 1),
        "ask_p50_ms": round(latency.get("ask", {}).get("p50_ms", 0.0), 1),
        "ask_per_question_vectors_p50_ms": round(latency.get("ask_per_question_vectors", {}).get("p50_ms", 0.0), 1),
        "ask_speedup_from_stored_sentence_vectors": _ratio(
            latency.get("ask_per_question_vectors", {}).get("p50_ms", 0.0), latency.get("ask", {}).get("p50_ms", 0.0)
        ),
        # Ingest with the sentence vectors the answerer reads (the default) against passages only.
        "ingest_with_sentence_vectors_slowdown": _ratio(
            ingest.get("pipeline_sentences", {}).get("seconds", 0.0), pipe.get("seconds", 0.0)
        ),
        "langchain_query_p50_ms": (
            round(latency["langchain"].get("p50_ms", 0.0), 1) if "langchain" in latency else None
        ),
        "recall_at_5": round(top.get("quality", {}).get("hybrid", {}).get("recall_at_5", 0.0), 4),
        # None when Milvus was not measured (--no-milvus) or failed (its error is in the scale's "milvus").
        "milvus_query_hybrid_p50_ms": _milvus(top, lambda m: round(m["latency"]["hybrid"]["p50_ms"], 1)),
        "milvus_recall_at_5": _milvus(top, lambda m: round(m["quality"]["hybrid"]["recall_at_5"], 4)),
        "milvus_serving_rss_mb": _milvus(top, lambda m: serving_rss(m.get("serving", {}))),
        "serve_peak_rss_mb": serving.get("peak_rss_mb", 0.0),
        "ingest_peak_rss_mb": built.get("peak_rss_mb", 0.0),
        "peak_rss_mb": max(serving.get("peak_rss_mb", 0.0), built.get("peak_rss_mb", 0.0)),
        "cold_start_s": results.get("cold_start", {}).get("seconds_to_first_answer"),
        # None when OCR was not measured (--no-ocr).
        "ocr_pages_per_s": results["ocr"]["pages_per_s"] if results.get("ocr") else None,
        "ocr_min_char_accuracy": results["ocr"]["min_char_accuracy"] if results.get("ocr") else None,
    }
    return out


def _milvus(scale: dict[str, Any], figure: Any) -> Any:
    m = scale.get("milvus")
    return figure(m) if m and "error" not in m else None


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def ingest_table(results: dict[str, Any]) -> list[str]:
    ingest = results.get("ingest", {})
    rows = ["| ingest contender | passages | seconds | passages/s | chars/s |", "|---|---:|---:|---:|---:|"]
    labels = {
        "pipeline": "yiju `ingest.pipeline.ingest` (files → index), passages only",
        "pipeline_sentences": "yiju `ingest.pipeline.ingest` with sentence vectors (the default)",
        "raw_encode": "raw `SentenceTransformer.encode` (torch fp32)",
        "raw_runtime": "raw embedding runtime of the pipeline",
        "langchain": "LangChain recipe (splitter + HuggingFaceEmbeddings + FAISS.from_documents)",
    }
    for key, label in labels.items():
        t = ingest.get(key)
        if t:
            rows.append(
                f"| {label} | {t['passages']} | {_fmt(t['seconds'])} | {_fmt(t['passages_per_s'], 2)} | {_fmt(t['chars_per_s'], 0)} |"
            )
    return rows


def scale_table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| passages | dense index | dense p50/p95 ms | BM25 p50/p95 ms | hybrid p50/p95 ms | ask p50/p95 ms (sentence vectors stored by) "
        "| ask, sentences embedded per question, p50/p95 ms | LangChain search p50/p95 ms "
        "| recall@5 dense/BM25/hybrid | MRR@10 hybrid | serve RSS MB (peak) | ingest peak RSS MB | index MB (raw vectors MB) |",
        "|---:|---|---|---|---|---|---|---|---|---:|---:|---:|---|",
    ]
    for s in results.get("scales", []):
        lat, q = s["latency"], s["quality"]

        def pp(key: str, lat: dict = lat) -> str:
            v = lat.get(key)
            return f"{v['p50_ms']:.1f} / {v['p95_ms']:.1f}" if v and "p50_ms" in v else "–"

        recall = " / ".join(f"{q[m]['recall_at_5']:.3f}" for m in ("dense", "bm25", "hybrid"))
        rows.append(
            f"| {s['passages']} | {s['dense_index']} | {pp('dense')} | {pp('bm25')} | {pp('hybrid')} | {pp('ask')} ({lat.get('ask_sentence_vectors', 'ingest')}) | {pp('ask_per_question_vectors')} "
            f"| {pp('langchain')} | {recall} | {q['hybrid']['mrr_at_10']:.3f} "
            f"| {s['serving'].get('rss_mb', 0):.0f} ({s['serving'].get('peak_rss_mb', 0):.0f}) "
            f"| {s['ingest_subprocess']['peak_rss_mb']:.0f} | {s['disk']['index_mb']} ({s['disk']['raw_vectors_mb']}) |"
        )
    return rows


def store_table(results: dict[str, Any]) -> list[str]:
    """FAISS and Milvus Lite side by side at each size; Milvus's write time is from ready vectors (no embedding)."""
    rows = [
        "| passages | store | dense index | write s (from vectors) | dense p50 ms | BM25 p50 ms | hybrid p50 / p95 ms "
        "| recall@5 dense / BM25 / hybrid | serving RSS MB (of it, the engine) |",
        "|---:|---|---|---:|---:|---:|---|---|---|",
    ]
    for s in results.get("scales", []):
        faiss_write = s.get("milvus", {}).get("faiss_write_seconds")
        rows.append(
            _store_row(
                s["passages"], "FAISS + bm25s", s["dense_index"], faiss_write, s["latency"], s["quality"], s["serving"]
            )
        )
        m = s.get("milvus")
        if m and "error" not in m:
            rows.append(
                _store_row(
                    s["passages"],
                    "Milvus Lite",
                    m["dense_index"],
                    m["write_seconds"],
                    m["latency"],
                    m["quality"],
                    m.get("serving", {}),
                )
            )
        elif m:
            rows.append(f"| {s['passages']} | Milvus Lite | failed: {m['error'][:80]} | | | | | | |")
    return rows


def serving_rss(serving: dict) -> float | None:
    """The answering process's RSS plus its children's (Milvus Lite's engine), MB."""
    if "rss_mb" not in serving:
        return None
    return round(serving["rss_mb"] + serving.get("children_rss_mb", 0.0), 1)


def _store_row(n: int, store: str, kind: str, write_s: Any, lat: dict, q: dict, serving: dict) -> str:
    def p50(key: str) -> str:
        return f"{lat[key]['p50_ms']:.1f}" if key in lat else "–"

    hybrid = lat.get("hybrid", {})
    recall = " / ".join(f"{q[m]['recall_at_5']:.3f}" for m in ("dense", "bm25", "hybrid") if m in q)
    return (
        f"| {n} | {store} | {kind} | {_fmt(write_s)} | {p50('dense')} | {p50('bm25')} "
        f"| {_fmt(hybrid.get('p50_ms'))} / {_fmt(hybrid.get('p95_ms'))} | {recall} "
        f"| {_fmt(serving_rss(serving))} ({_fmt(serving.get('children_rss_mb'))}) |"
    )


def ann_table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| passages | flat search p50 ms | flat, 1 OpenMP thread, p50 ms | HNSW search p50 ms | HNSW overlap@10 with exact | HNSW build s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results.get("scales", []):
        v = s.get("dense_variants", {})
        if v:
            rows.append(
                f"| {s['passages']} | {v['flat']['p50_ms']:.2f} | {v.get('flat_one_thread', {}).get('p50_ms', float('nan')):.2f} "
                f"| {v['hnsw']['p50_ms']:.2f} "
                f"| {v['hnsw']['overlap_at_10']:.3f} | {v['hnsw']['build_seconds']:.1f} |"
            )
    return rows


def index_kind_table(results: dict[str, Any]) -> list[str]:
    rows = ["| passages | dense index | recall@5 dense/BM25/hybrid | MRR@10 dense/hybrid |", "|---:|---|---|---|"]
    for s in results.get("scales", []):
        for kind, q in (
            (s["dense_index"], s["quality"]),
            (s.get("quality_other_dense_index", {}).get("kind"), s.get("quality_other_dense_index")),
        ):
            if kind and q:
                recall = " / ".join(f"{q[m]['recall_at_5']:.3f}" for m in ("dense", "bm25", "hybrid"))
                rows.append(
                    f"| {s['passages']} | {kind} | {recall} | {q['dense']['mrr_at_10']:.3f} / {q['hybrid']['mrr_at_10']:.3f} |"
                )
    return rows


def markdown(results: dict[str, Any]) -> str:
    h = results["headline"]
    meta = results.get("meta", {})
    lines = [
        f"# Benchmark ({'quick' if meta.get('quick') else 'full'} run, {meta.get('started', '')})",
        "",
        f"Machine: {meta.get('cpus', '?')} CPUs; load average at start {meta.get('load_start')}, at end {meta.get('load_end')} "
        "(other processes were running: the absolute figures are for that load; the ratios were measured side by side).",
        f"Embedding runtime of the pipeline: `{meta.get('backend')}`. Ingest sample: {meta.get('ingest_docs')} documents "
        f"in {meta.get('rounds')} interleaved rounds.",
        "",
        "## Ingest",
        "",
        *ingest_table(results),
        "",
        f"- ingest / raw `SentenceTransformer.encode`: **{h['ingest_vs_encode_ratio']}**; "
        f"ingest / its own raw runtime: **{h['ingest_vs_runtime_ratio']}** (passages only)",
        f"- ingest with sentence vectors (the default) / passages only, time: **{h['ingest_with_sentence_vectors_slowdown']}×**",
        f"- LangChain time / yiju time on the same documents: **{h['ingest_vs_langchain_speedup']}×**"
        if h.get("ingest_vs_langchain_speedup") is not None
        else "- LangChain baseline not run (see the notes below).",
    ]
    re = results.get("ingest", {}).get("reingest")
    if re:
        lines.append(
            f"- re-ingest of a folder with one new document: {re['embedded']} passages embedded "
            f"(the new document has {re['new_document_passages']}), {re['reused']} reused, {re['seconds']} s"
        )
    lines += ["", "## At scale (CMRC2018 dev contexts + CRUD-RAG news distractors)", "", *scale_table(results), ""]
    lines += [
        f"Full extractive answer p50 with the sentence vectors stored at ingest: **{h['ask_p50_ms']} ms**; with every "
        f"sentence embedded per question: {h['ask_per_question_vectors_p50_ms']} ms "
        f"(**{h['ask_speedup_from_stored_sentence_vectors']}×**, largest size). Sizes above "
        f"{results.get('meta', {}).get('sentence_vectors_up_to', 20000)} passages are built with passage vectors "
        "only (embedding every sentence of 175k passages takes hours on 2 cores); their stored-vector figure is taken "
        'after an untimed first pass over the same questions has stored the sentences they reach ("first pass").',
        "",
    ]
    lines += ["### Flat versus HNSW", "", *ann_table(results), "", *index_kind_table(results), ""]
    lines += ["### FAISS versus Milvus Lite (same passages, vectors and retriever)", "", *store_table(results), ""]
    check = results.get("backend_check")
    if check:
        lines += ["## Embedding runtime check (dense, exact search)", ""]
        lines.append(
            f"{check['questions']} CMRC2018 dev questions over {check['passages']} passages of the first "
            f"{check['contexts']} contexts; passage cosine torch↔int8 mean {check.get('passage_cosine_mean', 0):.4f}, "
            f"min {check.get('passage_cosine_min', 0):.4f}."
        )
        lines += ["", "| runtime | recall@1 | recall@5 | MRR@10 |", "|---|---:|---:|---:|"]
        for name in ("torch", "onnx-int8"):
            if name in check:
                m = check[name]
                lines.append(f"| {name} | {m['recall_at_1']:.3f} | {m['recall_at_5']:.3f} | {m['mrr_at_10']:.3f} |")
        lines.append("")
    if results.get("ocr"):
        lines += ["## OCR of scanned pages (seed paragraphs printed in Noto CJK)", "", *ocr_table(results), ""]
    cold = results.get("cold_start")
    if cold:
        lines += ["## Cold start", "", f"`python app.py` to the first `/ask` answer: {cold}", ""]
        if results.get("cold_start_smallest"):
            lines += [f"On the smallest index: {results['cold_start_smallest']}", ""]
    lines += ["## Headline", "", "```json", json.dumps(h, indent=1), "```", ""]
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "bench.json"
    md_path = out / "bench.md"
    json_path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), "utf-8")
    md_path.write_text(markdown(results), "utf-8")
    return json_path, md_path
