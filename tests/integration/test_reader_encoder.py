"""The reader's tuned sentence encoder (qa/trained/reader_encoder.safetensors) on the real e5 base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from core.settings import Settings
from qa.encoder import ENCODER_ARTEFACT, reader_encoder, tuned_model_dir

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ENCODER_ARTEFACT.exists(), reason="no tuned reader encoder is shipped"),
]

QUESTION = "我国中小微企业有多少户？"
SENTENCES = [
    "我国中小微企业已超过5200万户，占企业总数的90%以上。",
    "开封市举办了一场面向实体店经营者的培训活动。",
    "天津的商场周末客流有所回升。",
]


def _cosines(encoder) -> np.ndarray:  # type: ignore[no-untyped-def]
    q = encoder.embed_queries([QUESTION])[0]
    return encoder.embed_passages(SENTENCES) @ q


def test_the_answer_sentence_is_closest_on_both_runtimes(model_settings: Settings) -> None:
    served = reader_encoder(model_settings)  # int8 ONNX where ONNX Runtime is installed, as in serving
    torch = reader_encoder(model_settings.replace(embed_backend="torch"))
    a, b = _cosines(served), _cosines(torch)
    assert int(np.argmax(a)) == 0 and int(np.argmax(b)) == 0
    # int8 moves the cosines a little; the reader was trained on the served runtime's, so the order is what matters
    assert np.abs(a - b).max() < 0.05
    assert "reader-tuned" in served.name and served.name != torch.name


def test_the_tuned_folder_is_built_once(model_settings: Settings) -> None:
    first = tuned_model_dir(model_settings)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert tuned_model_dir(model_settings) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_missing_artefact_says_what_to_run(model_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train-encoder"):
        tuned_model_dir(model_settings, tmp_path / "absent.safetensors")


def test_an_encoder_trained_on_another_base_is_refused(model_settings: Settings, tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(ENCODER_ARTEFACT), framework="pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        meta = dict(f.metadata() or {})
    other = tmp_path / "other.safetensors"
    save_file(tensors, str(other), metadata={**meta, "base": "0" * 16})
    with pytest.raises(ConfigError, match="另一版基础向量模型"):
        tuned_model_dir(model_settings, other)
