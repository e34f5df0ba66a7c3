"""Does the faster embedding runtime cost retrieval quality? Dense CMRC2018 recall, torch versus ONNX int8.

Same passages (the first ``contexts`` CMRC2018 dev contexts, chunked by the
pipeline) and the questions whose evidence lies in them; exact inner-product
search, so only the embeddings differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.corpus import Corpus
from bench.quality import exact_top_k, rank_metrics
from eval.scoring import hit_rank, passage_hits


def check_subset(corpus: Corpus, contexts: int) -> tuple[list[str], list[Any]]:
    docs = corpus.docs[:contexts]
    texts = [p.text for d in docs for p in d.passages]
    questions = [q for q in corpus.questions if any(passage_hits(q, t) for t in texts)]
    return texts, questions


def dense_quality(embedder: Any, texts: Sequence[str], questions: Sequence[Any]) -> dict[str, float]:
    vectors = embedder.embed_passages(list(texts))
    queries = embedder.embed_queries([q.question for q in questions])
    top = exact_top_k(vectors, queries, 10)
    return rank_metrics([hit_rank(q, [texts[i] for i in row]) for q, row in zip(questions, top, strict=True)])


def compare_backends(embedders: dict[str, Any], corpus: Corpus, contexts: int) -> dict[str, Any]:
    texts, questions = check_subset(corpus, contexts)
    out: dict[str, Any] = {"contexts": contexts, "passages": len(texts), "questions": len(questions)}
    vectors = {}
    for name, embedder in embedders.items():
        out[name] = dense_quality(embedder, texts, questions)
        vectors[name] = embedder.embed_passages(list(texts))
    if len(vectors) == 2:
        a, b = vectors.values()
        cos = np.sum(a * b, axis=1)
        out["passage_cosine_mean"] = float(cos.mean())
        out["passage_cosine_min"] = float(cos.min())
    return out
