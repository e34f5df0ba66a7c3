"""Save uploaded files under the uploads folder, safely.

An upload's original name is never used as a path. The stored file lives at
``<uploads_dir>/<content hash>/<sanitised name>``: path separators, ``..``,
control characters and shell-unfriendly characters cannot reach the file
system, two different files with the same name do not collide, and the same
file uploaded twice lands on the same path (so ingest sees it as unchanged).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from core.errors import LoadError
from ingest.index import file_sha256
from ingest.load import SUPPORTED

MAX_STEM_CHARS = 80
MAX_DISPLAY_CHARS = 200
_KEEP = frozenset("-_.()（）【】[]《》 ")
_RUNS = re.compile(r"[_ ]{2,}")


@dataclass(frozen=True)
class StoredUpload:
    path: Path
    original_name: str  # for display only


def display_name(raw: str) -> str:
    """The user's file name, fit to show: last path component, no control characters."""
    base = re.split(r"[/\\]", raw or "")[-1]
    shown = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C").strip()
    if len(shown) > MAX_DISPLAY_CHARS:
        _, dot, suffix = shown.rpartition(".")
        keep = f".{suffix}" if dot and len(suffix) <= 10 else ""
        shown = shown[: MAX_DISPLAY_CHARS - len(keep)] + keep
    return shown or "未命名文件"


def safe_name(raw: str) -> str:
    """A file-system-safe name keeping letters, digits (incl. CJK) and a few punctuation marks.

    Raises ``LoadError`` when the extension is not a supported document type.
    """
    name = unicodedata.normalize("NFKC", display_name(raw))
    stem, dot, suffix = name.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if not dot or suffix not in SUPPORTED:
        raise LoadError(f"不支持的文件类型 {suffix or '（无扩展名）'}；请上传 {' '.join(SUPPORTED)} 文件。")
    cleaned = "".join(ch if ch.isalnum() or ch in _KEEP else "_" for ch in stem)
    cleaned = _RUNS.sub("_", cleaned).strip(" ._")[:MAX_STEM_CHARS].rstrip(" .")
    return (cleaned or "upload") + suffix


def store_upload(source: Path, original_name: str, uploads_dir: Path, max_mb: float) -> StoredUpload:
    """Copy ``source`` into ``uploads_dir``; ``LoadError`` (Chinese) for a bad type, size or read failure."""
    name = safe_name(original_name)
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise LoadError(f"无法读取上传的文件：{exc.strerror or exc}。请重新上传。") from exc
    if size > max_mb * 1e6:
        raise LoadError(f"文件过大（{size / 1e6:.1f} MB），单个文件上限为 {max_mb:g} MB。请拆分或压缩后再上传。")
    if size == 0:
        raise LoadError("文件是空的（0 字节），请检查后重新上传。")
    folder = (uploads_dir / file_sha256(source)[:16]).resolve()
    target = folder / name
    if target.parent != folder:  # cannot happen after safe_name; kept as a last guard
        raise LoadError("文件名不安全，已拒绝。")
    folder.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return StoredUpload(target, display_name(original_name))


def remove_stored(path: Path, uploads_dir: Path) -> bool:
    """Delete an uploaded file (and its hash folder) if it lies inside ``uploads_dir``."""
    root = uploads_dir.resolve()
    target = Path(path).resolve()
    if root not in target.parents:
        return False
    target.unlink(missing_ok=True)
    folder = target.parent
    if folder != root and not any(folder.iterdir()):
        folder.rmdir()
    return True
