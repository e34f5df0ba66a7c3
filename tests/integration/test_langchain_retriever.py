from __future__ import annotations

import pytest

from qa.langchain_retriever import YijuRetriever
from qa.retrieve import HybridRetriever

pytestmark = pytest.mark.integration


def test_langchain_retriever_returns_cited_passages(seed_index, embedder) -> None:  # type: ignore[no-untyped-def]
    retriever = YijuRetriever(retriever=HybridRetriever(seed_index, embedder), k=3)
    docs = retriever.invoke("我国中小微企业有多少户？")
    assert len(docs) == 3
    assert "5200万户" in docs[0].page_content
    assert docs[0].metadata["paragraph"] == 2 and docs[0].metadata["title"].endswith("加快成长")
    assert docs[0].id == docs[0].metadata["passage_id"]
