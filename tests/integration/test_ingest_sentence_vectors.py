"""Sentence vectors stored at ingest, with the real model, real FAISS and the seed document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from ingest.chunk import split_sentences
from ingest.index import load_index
from ingest.pipeline import ingest
from ingest.sentence_vectors import SentenceVectors, sentence_vectors_path
from qa.assistant import Assistant
from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.integration


class _Counted:
    """The real embedder, counting the passage texts it is asked to embed."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name, self.dim, self.passage_prompt = inner.name, inner.dim, inner.passage_prompt
        self.passages = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages += len(texts)
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)


def _seed_questions(n: int) -> list[dict]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "seed_questions.jsonl").open(encoding="utf-8")]
    return rows[:: max(1, len(rows) // n)][:n]


def test_ingest_stores_every_quotable_sentence_and_answering_then_embeds_none(  # type: ignore[no-untyped-def]
    model_settings: Settings, embedder, tmp_path: Path
) -> None:
    settings = model_settings.replace(data_dir=tmp_path, index_dir=tmp_path / "index")
    report = ingest([SEEDS], settings, embedder)
    index = load_index(settings.resolved_index_dir)
    sentences = {t for p in index.passages for _, _, t in split_sentences(p.text)}
    assert report.sentences_embedded == len(sentences) > 100
    assert SentenceVectors(sentence_vectors_path(settings), embedder).count() == len(sentences)

    counted = _Counted(embedder)
    assistant = Assistant(settings, counted, index=index)
    for row in _seed_questions(8):
        assistant.ask(row["question"])
    assert counted.passages == 0  # every sentence looked up, none embedded per question


def test_answers_are_the_same_with_stored_and_with_per_question_vectors(  # type: ignore[no-untyped-def]
    model_settings: Settings, embedder, tmp_path: Path
) -> None:
    stored = model_settings.replace(data_dir=tmp_path, index_dir=tmp_path / "index")
    ingest([SEEDS], stored, embedder)
    index = load_index(stored.resolved_index_dir)
    with_store = Assistant(stored, embedder, index=index)
    without = Assistant(stored.replace(sentence_vectors=False), embedder, index=index)
    assert isinstance(with_store.sentences, SentenceVectors) and without.sentences is embedder
    same = 0
    questions = _seed_questions(20)
    for row in questions:
        a, b = with_store.ask(row["question"]), without.ask(row["question"])
        same += (a.text, a.refused) == (b.text, b.refused)
    # Stored vectors come from other batches (int8 activations are scaled per batch) and float16: a near tie
    # between two sentences may turn, nothing more.
    assert same >= len(questions) - 1


def test_a_knowledge_base_ingested_without_sentence_vectors_fills_them_when_asked(  # type: ignore[no-untyped-def]
    model_settings: Settings, embedder, tmp_path: Path
) -> None:
    settings = model_settings.replace(data_dir=tmp_path, index_dir=tmp_path / "index", sentence_vectors=False)
    report = ingest([SEEDS], settings, embedder)
    path = sentence_vectors_path(settings)
    assert report.sentences_embedded == 0 and not path.exists()
    index = load_index(settings.resolved_index_dir)
    counted = _Counted(embedder)
    assistant = Assistant(settings.replace(sentence_vectors=True), counted, index=index)
    question = _seed_questions(1)[0]["question"]
    assistant.ask(question)
    first = counted.passages
    assert first > 0 and SentenceVectors(path, embedder).count() == first
    assistant.ask(question)
    assert counted.passages == first


def test_the_learned_readers_own_encoder_has_its_sentences_stored_at_ingest_too(  # type: ignore[no-untyped-def]
    model_settings: Settings, embedder, tmp_path: Path
) -> None:
    from qa.encoder import answering_reader_encoder

    settings = model_settings.replace(data_dir=tmp_path, index_dir=tmp_path / "index", answerer="learned")
    encoder = answering_reader_encoder(settings)
    assert encoder is not None and encoder.name != embedder.name
    reader = _Counted(encoder)
    report = ingest([SEEDS], settings, embedder, reader=reader)
    assert report.reader_sentences_embedded == report.sentences_embedded == reader.passages > 100
    stored = SentenceVectors(sentence_vectors_path(settings), embedder).count()
    assert stored == report.sentences_embedded * 2  # one entry per sentence and encoder, keyed by its name

    index = load_index(settings.resolved_index_dir)
    base, reader = _Counted(embedder), _Counted(encoder)
    assistant = Assistant(settings, base, index=index, reader_embedder=reader)
    answer = assistant.ask("我国中小微企业有多少户？")
    assert not answer.refused and "5200万" in answer.text
    for row in _seed_questions(6):
        assistant.ask(row["question"])
    assert reader.passages == 0 and base.passages == 0  # both encoders' sentences looked up
    assert assistant.ask("我国中小微企业有多少户？").text == answer.text
