"""A LangChain ``BaseRetriever`` over a yiju knowledge base (either store), for people building their own chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from core.types import scored_record
from qa.retrieve import HybridRetriever, Method


class YijuRetriever(BaseRetriever):
    """Hybrid retrieval as LangChain documents; metadata holds the passage record (id, doc, title, paragraph, score).

    ``doc_ids`` restricts the search to those documents (filtered inside the store)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    k: int = 5
    method: Method = "hybrid"
    doc_ids: list[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[LCDocument]:
        results = self.retriever.search(query, k=self.k, method=self.method, doc_ids=self.doc_ids)
        documents = []
        for r in results:
            metadata = scored_record(r)
            text = metadata.pop("text")
            documents.append(LCDocument(page_content=text, metadata=metadata, id=r.passage.passage_id))
        return documents
