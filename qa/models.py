"""The trained parts of the answerer: one artefact, loaded once, checked against the base model.

``qa/trained/answering.json`` holds the reader's (a ranking model over one
question's sentences) and the gate's gradient-boosted models (LightGBM's text format), the gate's isotonic calibration and its operating
point, the feature names both were trained with and the embedding model whose
cosines they read. ``python -m learn train-reader`` writes it with its report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import ConfigError
from core.settings import Settings

ARTEFACT = Path(__file__).resolve().parent / "trained" / "answering.json"
FORMAT = 2


def squash(raw: np.ndarray) -> np.ndarray:
    """A ranking model's scores into (0, 1), monotone (the logistic function)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(raw, dtype=np.float64)))


class Scorer(Protocol):
    """Feature rows in, one probability (or score) per row out."""

    def predict(self, rows: np.ndarray) -> np.ndarray: ...


class GbmScorer:
    """A LightGBM model from its text dump: a binary one's probabilities, or a ranking one's squashed scores."""

    def __init__(self, model_text: str, ranking: bool = False) -> None:
        import lightgbm

        self.booster = lightgbm.Booster(model_str=model_text)
        self.ranking = ranking

    def predict(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        out = np.asarray(self.booster.predict(np.asarray(rows, dtype=np.float64), num_threads=1))
        return squash(out) if self.ranking else out


@dataclass(frozen=True)
class Calibration:
    """Isotonic map from the gate model's raw probability to P(the passages support an answer)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, p: np.ndarray | float) -> np.ndarray:
        return np.interp(p, self.x, self.y)


@dataclass(frozen=True)
class TrainedModels:
    reader: Scorer
    gate: Scorer
    calibration: Calibration
    threshold: float  # calibrated probability at strictness 0.5
    sentence_features: tuple[str, ...]
    gate_features: tuple[str, ...]
    embedding_model: str
    info: dict[str, Any]
    reader_encoder: str | None = None  # sha256 of the tuned sentence encoder the reader was trained on


def base_name(embedder_name: str) -> str:
    """``multilingual-e5-small [onnx-int8-v2]`` → ``multilingual-e5-small``."""
    return embedder_name.split(" [", 1)[0]


def answering_models(settings: Settings, embedder_name: str) -> TrainedModels | None:
    """The trained reader and gate when they answer (``YIJU_ANSWERER=learned``), read once; else None."""
    return load_models(embedder_name=embedder_name) if settings.answerer == "learned" else None


def load_models(path: Path = ARTEFACT, embedder_name: str | None = None) -> TrainedModels:
    """Load the trained reader and gate; refuses an artefact made for other features or another model."""
    from qa.gate import GATE_FEATURES
    from qa.read import SENTENCE_FEATURES

    if not path.exists():
        raise ConfigError(f"找不到训练好的阅读器与拒答模型 {path}。请运行 python -m learn train-reader 生成。")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ConfigError(
            f"{path} 的格式版本为 {data.get('format')}，本程序需要 {FORMAT}：请重新运行 python -m learn train-reader。"
        )
    if tuple(data["sentence_features"]) != SENTENCE_FEATURES or tuple(data["gate_features"]) != GATE_FEATURES:
        raise ConfigError(f"{path} 训练时的特征与当前代码不一致：请重新运行 python -m learn train-reader。")
    if embedder_name is not None and base_name(embedder_name) != base_name(data["embedding_model"]):
        raise ConfigError(
            f"阅读器按 {data['embedding_model']} 的向量训练，当前向量模型为 {embedder_name}："
            "请改回该模型，或用当前模型重新运行 python -m learn train-reader。"
        )
    cal = data["calibration"]
    return TrainedModels(
        reader=GbmScorer(data["reader"], ranking=data.get("reader_output") == "rank"),
        gate=GbmScorer(data["gate"]),
        calibration=Calibration(tuple(cal["x"]), tuple(cal["y"])),
        threshold=float(data["threshold"]),
        sentence_features=tuple(data["sentence_features"]),
        gate_features=tuple(data["gate_features"]),
        embedding_model=data["embedding_model"],
        info=data.get("info", {}),
        reader_encoder=_checked_encoder(path, data.get("reader_encoder")),
    )


def _checked_encoder(path: Path, sha: str | None) -> str | None:
    """The reader encoder's sha256 when the reader was trained on one; it must be the file beside it."""
    import hashlib

    from qa.encoder import ENCODER_ARTEFACT

    if sha is None:
        return None
    encoder = path.parent / ENCODER_ARTEFACT.name
    if not encoder.exists() or hashlib.sha256(encoder.read_bytes()).hexdigest() != sha:
        raise ConfigError(
            f"{path} 的阅读器按句子编码器 {encoder.name}（sha256 {sha[:12]}…）训练，但该文件缺失或已改变："
            "请依次运行 python -m learn train-encoder 与 python -m learn train-reader。"
        )
    return sha
