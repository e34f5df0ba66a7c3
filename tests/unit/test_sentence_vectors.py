"""Sentence vectors stored at ingest and looked up when answering (a counting stand-in embedder)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from ingest.chunk import split_sentences
from ingest.sentence_vectors import FILE_NAME, SentenceVectors, open_sentence_vectors

PASSAGE = "新建的产业园已经开工。园区计划引进企业四十家，总投资约五十亿元。“我们很有信心。”负责人说。"


class _CountingEmbedder:
    name = "counting"
    dim = 4
    passage_prompt = "passage: "

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = [len(text), text.count("。") + 1, sum(map(ord, text)) % 97, 1.0]
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += list(texts)
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def test_primed_sentences_are_looked_up_not_embedded_again(tmp_path: Path) -> None:
    inner = _CountingEmbedder()
    store = SentenceVectors(tmp_path / FILE_NAME, inner)
    sentences = [t for _, _, t in split_sentences(PASSAGE)]
    assert store.prime([PASSAGE]) == len(sentences) == 3
    assert store.prime([PASSAGE]) == 0  # already there
    inner.embedded.clear()
    vectors = store.embed_passages(sentences)
    assert inner.embedded == []
    np.testing.assert_allclose(vectors, inner._embed(sentences), atol=1e-3)  # float16 storage


def test_a_sentence_not_stored_is_embedded_once_and_kept_across_openings(tmp_path: Path) -> None:
    inner = _CountingEmbedder()
    path = tmp_path / FILE_NAME
    first = SentenceVectors(path, inner)
    out = first.embed_passages(["一个新句子。", "一个新句子。", "另一个句子。"])
    assert inner.embedded == ["一个新句子。", "另一个句子。"]
    np.testing.assert_array_equal(out[0], out[1])
    first.close()
    again = SentenceVectors(path, inner)
    again_out = again.embed_passages(["另一个句子。", "一个新句子。"])
    assert inner.embedded == ["一个新句子。", "另一个句子。"]  # nothing more embedded
    np.testing.assert_array_equal(again_out, out[[2, 0]])  # the same numbers as the first time
    assert again.count() == 2


def test_vectors_are_keyed_by_the_embedder_so_another_model_never_reads_them(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    SentenceVectors(path, _CountingEmbedder()).prime([PASSAGE])
    other = _CountingEmbedder()
    other.name = "another-model"
    SentenceVectors(path, other).embed_passages(["新建的产业园已经开工。"])
    assert other.embedded == ["新建的产业园已经开工。"]


def test_the_setting_turns_the_store_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, index_dir=tmp_path / "index")
    assert open_sentence_vectors(settings.replace(sentence_vectors=False), _CountingEmbedder()) is None
    store = open_sentence_vectors(settings, _CountingEmbedder())
    assert store is not None and store.path == tmp_path / "index" / FILE_NAME
    kb = open_sentence_vectors(settings.replace(kb="policy"), _CountingEmbedder())
    assert kb is not None and kb.path == tmp_path / "index" / "kbs" / "policy" / FILE_NAME


def test_answering_threads_and_an_ingest_share_the_file(tmp_path: Path) -> None:
    inner = _CountingEmbedder()
    store = SentenceVectors(tmp_path / FILE_NAME, inner)
    writer = SentenceVectors(tmp_path / FILE_NAME, inner)
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            for j in range(20):
                store.embed_passages([f"第{i}个线程的第{j}句。", "共同的一句。"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    writer.prime([f"入库的第{k}句话。" * 2 for k in range(50)])
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 4 * 20 + 1 + 50


@pytest.mark.parametrize("text", ["", "短。"])
def test_passages_without_quotable_sentences_store_nothing(tmp_path: Path, text: str) -> None:
    store = SentenceVectors(tmp_path / FILE_NAME, _CountingEmbedder())
    assert store.prime([text]) == 0 and store.count() == 0


def test_forgetting_removes_only_this_embedders_vectors_of_the_stale_sentences(tmp_path: Path) -> None:
    from ingest.sentence_vectors import stale_sentences

    kept_passage = "园区计划引进企业四十家，总投资约五十亿元。新的园区明年投产。"
    stale = stale_sentences([PASSAGE], [kept_passage])
    assert "园区计划引进企业四十家，总投资约五十亿元。" not in stale  # the replacing passage still holds it
    assert stale and all(s in PASSAGE for s in stale)
    mine, other = _CountingEmbedder(), _CountingEmbedder()
    other.name = "other"
    store, theirs = SentenceVectors(tmp_path / FILE_NAME, mine), SentenceVectors(tmp_path / FILE_NAME, other)
    store.prime([PASSAGE, kept_passage])
    theirs.prime([PASSAGE])
    before = store.count()
    assert store.forget(stale) == len(stale)
    assert store.count() == before - len(stale)
    assert theirs.embed_passages(stale).shape == (len(stale), 4) and other.embedded == [
        t for _, _, t in split_sentences(PASSAGE)
    ]  # the other embedder's vectors were kept: nothing embedded again
    mine.embedded.clear()
    store.embed_passages(stale)
    assert mine.embedded == stale  # forgotten ones are embedded again when asked
