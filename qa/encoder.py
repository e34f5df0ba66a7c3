"""The reader's sentence encoder: the base e5 model with its top layers fine-tuned (``learn.encoder``).

Retrieval keeps the base encoder (the index holds its vectors); only the
reader's question–sentence cosines come from this one. The artefact holds the
tuned layers alone, in fp16, with a fingerprint of the base they were trained
on: on another build of the base model loading is refused with what to do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.settings import Settings

ENCODER_ARTEFACT = Path(__file__).resolve().parent / "trained" / "reader_encoder.safetensors"
TUNED_LAYERS = 4
_DONE = ".complete"


def _layers(model: Any) -> Any:
    return model[0].auto_model.encoder.layer


def base_fingerprint(model: Any) -> str:
    """A hash of the weights the tuned layers sit on (the embeddings' first rows and the lower layers)."""
    h = hashlib.sha256()
    bert = model[0].auto_model
    h.update(bert.embeddings.word_embeddings.weight[:2000].detach().float().numpy().tobytes())
    for layer in _layers(model)[:-TUNED_LAYERS]:
        for p in layer.parameters():
            h.update(p.detach().float().numpy().tobytes())
    return h.hexdigest()[:16]


def tuned_state(model: Any) -> dict[str, Any]:
    """The tuned layers' weights in fp16, keyed by layer position from the top (``top0`` is the last)."""
    layers = _layers(model)
    out: dict[str, Any] = {}
    for k in range(TUNED_LAYERS):
        for name, p in layers[len(layers) - 1 - k].state_dict().items():
            out[f"top{k}.{name}"] = p.detach().to("cpu").half().contiguous()
    return out


def load_tuned(model: Any, path: Path = ENCODER_ARTEFACT) -> None:
    """Put the tuned layers into ``model`` (a SentenceTransformer of the base), checking the base."""
    from safetensors import safe_open

    if not path.exists():
        raise ConfigError(f"找不到阅读器的句子编码器 {path}。请运行 python -m learn train-encoder 生成。")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("base") != base_fingerprint(model):
            raise ConfigError(
                f"{path} 是在另一版基础向量模型上训练的：请删除 data/models 下的模型目录让程序重新构建，"
                "或重新运行 python -m learn train-encoder。"
            )
        if int(meta.get("layers", -1)) != TUNED_LAYERS:
            raise ConfigError(f"{path} 调整的层数与本程序不一致：请重新运行 python -m learn train-encoder。")
        layers = _layers(model)
        names = list(f.keys())
        for k in range(TUNED_LAYERS):
            layer = layers[len(layers) - 1 - k]
            prefix = f"top{k}."
            state = {name[len(prefix) :]: f.get_tensor(name).float() for name in names if name.startswith(prefix)}
            layer.load_state_dict(state)


def tuned_model_dir(settings: Settings, path: Path = ENCODER_ARTEFACT) -> Path:
    """A model folder of the base with the tuned layers merged in, written once per artefact beside the
    base model (so ONNX Runtime can serve it like the base)."""
    import json
    import shutil
    import tempfile

    from ingest.embed import TorchEncoder, resolve_model_path

    if not path.exists():
        raise ConfigError(f"找不到阅读器的句子编码器 {path}。请运行 python -m learn train-encoder 生成。")
    base = Path(resolve_model_path(settings))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    target = base.parent / f"{base.name}-reader-{sha}"
    if (target / _DONE).exists():
        return target
    model = TorchEncoder(str(base)).model
    load_tuned(model, path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=base.parent))
    try:
        shutil.copytree(base, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("model.safetensors", ".*"))
        model[0].auto_model.save_pretrained(str(tmp), safe_serialization=True)
        (tmp / _DONE).write_text(json.dumps({"encoder": sha}), "utf-8")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def reader_encoder(settings: Settings, path: Path = ENCODER_ARTEFACT) -> Any:
    """An embedder (same interface as ``ingest.embed.SentenceTransformerEmbedder``) whose cosines the
    reader was trained on: the base model with the tuned layers put in, on the same runtime as the base
    (int8 ONNX by default; the training cosines come from this same function)."""
    from ingest.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(settings, model_path=tuned_model_dir(settings, path))
    embedder.name = f"{settings.embedding_model} [reader-tuned, {embedder.runtime_tag}]"
    embedder.runtime_tag = f"{embedder.runtime_tag}-reader-tuned"
    return embedder


def answering_reader_encoder(settings: Settings, models: Any = None) -> Any | None:
    """The learned reader's own encoder when it answers (``YIJU_ANSWERER=learned``) and was trained on one;
    else None. ``models``: the loaded ``qa.models.TrainedModels``, read from the artefact when not given."""
    if settings.answerer != "learned":
        return None
    if models is None:
        from qa.models import load_models

        models = load_models()
    return reader_encoder(settings) if models.reader_encoder else None
