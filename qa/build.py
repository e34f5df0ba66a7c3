"""Factories: create the heavy parts once, from settings, and wire them together."""

from __future__ import annotations

from core.settings import Settings
from ingest.embed import SentenceTransformerEmbedder
from ingest.store import open_store
from qa.assistant import Assistant
from qa.retrieve import CrossEncoderReranker, HybridRetriever


def build_retriever(settings: Settings) -> HybridRetriever:
    index = open_store(settings)
    embedder = SentenceTransformerEmbedder(settings)
    reranker = CrossEncoderReranker(settings.reranker) if settings.reranker else None
    return HybridRetriever(index, embedder, candidates=settings.candidates, reranker=reranker)


def build_llm(settings: Settings):  # type: ignore[no-untyped-def]
    """The configured LLM answerer, or None when no endpoint is set."""
    if not settings.llm_base_url:
        return None
    from qa.llm import LLMAnswerer

    return LLMAnswerer(settings)


def build_assistant(settings: Settings, with_llm: bool = True) -> Assistant:
    embedder = SentenceTransformerEmbedder(settings)
    assistant = Assistant(settings, embedder, llm=build_llm(settings) if with_llm else None)
    if settings.reranker:
        assistant.retriever.reranker = CrossEncoderReranker(settings.reranker)
    return assistant
