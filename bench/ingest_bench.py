"""Ingest throughput, side by side on the same documents.

Five contenders, run in interleaved rounds (each round a different part of
the sample, the order rotated) so that a change in machine load hits them
alike:

* ``pipeline``: ``ingest.pipeline.ingest`` on the files (load, clean, chunk,
  embed, BM25, FAISS, write) with the product's embedder, passages only;
* ``pipeline_sentences``: the same with the sentence vectors the answerer reads
  (``ingest.sentence_vectors``, on by default): what a user waits for;
* ``raw_encode``: ``SentenceTransformer.encode`` (torch) on the pipeline's
  passage texts, nothing else;
* ``raw_runtime``: the product's embedding runtime alone on the same texts
  (the pipeline's overhead is the gap to this one);
* ``langchain``: LangChain's standard recipe on the same files:
  ``DirectoryLoader``/``TextLoader`` → ``RecursiveCharacterTextSplitter`` →
  ``FAISS.from_documents`` with ``HuggingFaceEmbeddings`` on the same local model.

Writing the files is not timed; model loading is done once, before.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import CorpusDoc, write_files
from core.settings import Settings

CONTENDERS = ("pipeline", "pipeline_sentences", "raw_encode", "raw_runtime", "langchain")


@dataclass
class Tally:
    seconds: float = 0.0
    passages: int = 0
    chars: int = 0
    rounds: list[float] = field(default_factory=list)

    def add(self, seconds: float, passages: int, chars: int) -> None:
        self.seconds += seconds
        self.passages += passages
        self.chars += chars
        self.rounds.append(round(seconds, 3))

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "passages": self.passages,
            "passages_per_s": self.passages / self.seconds if self.seconds else 0.0,
            "chars_per_s": self.chars / self.seconds if self.seconds else 0.0,
            "round_seconds": self.rounds,
        }


def split_rounds(docs: Sequence[CorpusDoc], rounds: int) -> list[list[CorpusDoc]]:
    """``rounds`` groups of consecutive documents with about equal passage counts."""
    total = sum(len(d.passages) for d in docs)
    groups: list[list[CorpusDoc]] = [[] for _ in range(max(rounds, 1))]
    seen = 0
    for d in docs:
        groups[min(len(groups) - 1, seen * len(groups) // max(total, 1))].append(d)
        seen += len(d.passages)
    return [g for g in groups if g]


def rotation(names: Sequence[str], round_no: int) -> list[str]:
    shift = round_no % len(names)
    return list(names[shift:]) + list(names[:shift])


LANGCHAIN_MODULES = ("langchain_community", "langchain_huggingface", "langchain_text_splitters")
LANGCHAIN_INSTALL = "pip install -e '.[bench,compare]'"


def langchain_missing() -> list[str]:
    """The LangChain baseline's modules that are not installed (langchain-community is only in the ``compare`` extra)."""
    import importlib.util

    return [name for name in LANGCHAIN_MODULES if importlib.util.find_spec(name) is None]


def langchain_embeddings(model_dir: Path, batch_size: int) -> Any:
    """HuggingFaceEmbeddings set up for e5: passage prompt for documents, query prompt for queries.

    ``query_encode_kwargs`` replaces ``encode_kwargs`` for queries, so normalisation is repeated there.
    """
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(model_dir),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "prompt": "passage: ", "batch_size": batch_size},
        query_encode_kwargs={"normalize_embeddings": True, "prompt": "query: "},
    )


def langchain_splitter(max_chars: int) -> Any:
    """LangChain's default recursive splitter at our passage size, without overlap (overlap would only add work)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=max_chars, chunk_overlap=0)


def langchain_ingest(folder: Path, embeddings: Any, splitter: Any) -> tuple[Any, int, int]:
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_community.vectorstores import FAISS

    loader = DirectoryLoader(str(folder), glob="*.txt", loader_cls=TextLoader, loader_kwargs={"encoding": "utf-8"})
    chunks = splitter.split_documents(loader.load())
    store = FAISS.from_documents(chunks, embeddings)
    return store, len(chunks), sum(len(c.page_content) for c in chunks)


@dataclass
class IngestSetup:
    settings: Settings
    embedder: Any  # the product's SentenceTransformerEmbedder
    st_model: Any  # a torch SentenceTransformer of the same model, for raw encode
    lc_embeddings: Any | None
    workdir: Path


def _timed(fn: Callable[[], tuple[int, int]]) -> tuple[float, int, int]:
    started = time.perf_counter()
    passages, chars = fn()
    return time.perf_counter() - started, passages, chars


def _contender(
    name: str, setup: IngestSetup, files: Path, index: Path, texts: list[str]
) -> Callable[[], tuple[int, int]]:
    chars = sum(len(t) for t in texts)
    prompt = setup.embedder.passage_prompt
    batch = setup.settings.embed_batch_size

    def pipeline(sentence_vectors: bool = False) -> tuple[int, int]:
        from ingest.pipeline import ingest

        settings = setup.settings.replace(index_dir=index / name, sentence_vectors=sentence_vectors)
        report = ingest([files], settings, setup.embedder, rebuild=True)
        return report.passages, chars

    def raw_encode() -> tuple[int, int]:
        setup.st_model.encode(texts, prompt=prompt, batch_size=batch, normalize_embeddings=True)
        return len(texts), chars

    def raw_runtime() -> tuple[int, int]:
        setup.embedder.runtime.encode([prompt + t for t in texts], batch, False)
        return len(texts), chars

    def langchain() -> tuple[int, int]:
        splitter = langchain_splitter(setup.settings.max_passage_chars)
        _, n, n_chars = langchain_ingest(files, setup.lc_embeddings, splitter)
        return n, n_chars

    return {
        "pipeline": pipeline,
        "pipeline_sentences": lambda: pipeline(sentence_vectors=True),
        "raw_encode": raw_encode,
        "raw_runtime": raw_runtime,
        "langchain": langchain,
    }[name]


def compare_ingest(docs: Sequence[CorpusDoc], setup: IngestSetup, rounds: int) -> dict[str, Any]:
    names = [n for n in CONTENDERS if n != "langchain" or setup.lc_embeddings is not None]
    tallies = {n: Tally() for n in names}
    for r, group in enumerate(split_rounds(docs, rounds)):
        files = setup.workdir / f"round-{r}" / "files"
        write_files(group, files)
        texts = [p.text for d in group for p in d.passages]
        for name in rotation(names, r):
            seconds, passages, chars = _timed(
                _contender(name, setup, files, setup.workdir / f"round-{r}" / "index", texts)
            )
            tallies[name].add(seconds, passages, chars)
            print(f"  ingest round {r + 1}: {name:<11} {passages:>5} passages in {seconds:7.1f} s", flush=True)
    result: dict[str, Any] = {n: t.summary() for n, t in tallies.items()}
    result["reingest"] = reingest_check(docs, setup)
    shutil.rmtree(setup.workdir, ignore_errors=True)
    return result


def reingest_check(docs: Sequence[CorpusDoc], setup: IngestSetup) -> dict[str, Any]:
    """Ingest the first round's folder again with one more document: only that one's passages are embedded."""
    first = setup.workdir / "round-0"
    extra = [d for d in docs if not (first / "files" / d.doc.name).exists()][:1]
    if not extra:
        return {}
    from ingest.pipeline import ingest

    write_files(extra, first / "files")
    started = time.perf_counter()
    index = first / "index" / "pipeline_sentences"
    report = ingest([first / "files"], setup.settings.replace(index_dir=index), setup.embedder)
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "passages": report.passages,
        "embedded": report.embedded,
        "reused": report.reused,
        "new_document_passages": len(extra[0].passages),
    }
