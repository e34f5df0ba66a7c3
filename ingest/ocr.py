"""Offline OCR of page images with RapidOCR (PP-OCR detection, direction and recognition models
that ship inside the ``rapidocr`` wheel; ONNX Runtime on the CPU; nothing is downloaded).

The engine is created on first use and kept; a page turned by 90° (its text lines come out taller
than wide) is read again turned back both ways and the better reading kept. Upside-down lines are
turned by the direction classifier.
"""

from __future__ import annotations

import threading
from typing import Any

from core.errors import LoadError
from ingest.layout import RawLine

LOW_CONFIDENCE = 0.8  # lines read with less confidence are kept but marked
MAX_PIXELS = 40_000_000  # a bigger image is refused, not read (memory)
_MAX_SIDE = 4000  # longer sides are scaled down to this before reading


class Ocr:
    """Reads the text lines of a page image. Heavy: create one and pass it along."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._engine is None:
            import logging

            from rapidocr import RapidOCR

            self._engine = RapidOCR(params={"Global.use_cls": True, "Global.log_level": "error"})
            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return self._engine

    def _read(self, image: Any) -> list[RawLine]:
        import numpy as np

        width, height = image.size
        with self._lock:  # one page at a time: ONNX Runtime already uses every core
            out = self._get()(np.asarray(image.convert("RGB")))
        if out.boxes is None:
            return []
        lines = []
        for quad, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
            xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
            box = (min(xs) / width, min(ys) / height, max(xs) / width, max(ys) / height)
            lines.append(RawLine(str(text), box, float(score)))
        return lines

    def read_page(self, image: Any) -> list[RawLine]:
        """The page's lines, read upright if it was on its side (``box`` upright for the layout, ``shown`` on
        the page as stored)."""
        image = _fit(image)
        lines = self._read(image)
        if lines and _sideways(lines):
            turned = [(angle, self._read(image.rotate(angle, expand=True))) for angle in (90, 270)]
            angle, best = max(turned, key=lambda t: _quality(t[1]))
            if _quality(best) > _quality(lines):
                return [RawLine(ln.text, ln.box, ln.score, _unrotate(ln.box, angle)) for ln in best]
        return lines


def _fit(image: Any) -> Any:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise LoadError(f"图片过大（{width}×{height} 像素，上限 {MAX_PIXELS // 1_000_000} 百万像素），请缩小后再上传")
    scale = _MAX_SIDE / max(width, height)
    if scale < 1:
        image = image.resize((round(width * scale), round(height * scale)))
    return image


def _sideways(lines: list[RawLine]) -> bool:
    tall = sum(1 for ln in lines if ln.box[3] - ln.box[1] > 1.5 * (ln.box[2] - ln.box[0]))
    return tall > len(lines) / 2


def _quality(lines: list[RawLine]) -> float:
    return sum(len(ln.text) * ln.score for ln in lines)


def _unrotate(box: tuple[float, float, float, float], angle: int) -> tuple[float, float, float, float]:
    """A box found on the page turned by ``angle`` (PIL: counter-clockwise), mapped back onto the page as stored."""
    x0, y0, x1, y1 = box
    if angle == 90:  # turned page (x', y') = (y, 1 - x)
        return (1 - y1, x0, 1 - y0, x1)
    return (y0, 1 - x1, y1, 1 - x0)  # 270: (x', y') = (1 - y, x)
