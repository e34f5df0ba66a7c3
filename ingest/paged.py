"""Paged documents (PDF, scanned images) read page by page into text and placed lines.

A PDF page with a usable text layer is read from it (pypdfium2 gives each text run's box); a page
without one is rendered and OCR'd. Images are OCR'd. Each page's lines go through
``ingest.layout`` for reading order and paragraphs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import LoadError
from core.types import Line
from ingest.layout import RawLine, page_text
from ingest.ocr import Ocr

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
PageProgress = Callable[[int, int], None]
_MIN_LAYER_CHARS = 20  # a page whose text layer has fewer characters is OCR'd
_RENDER_SCALE = 200 / 72  # 200 dpi for OCR


@dataclass(frozen=True)
class PagedText:
    text: str
    lines: list[Line]  # offsets into ``text``
    pages: int


def _join(pages: list[tuple[list[RawLine], bool]]) -> PagedText:
    parts: list[str] = []
    lines: list[Line] = []
    pos = 0
    for number, (raw, ocr) in enumerate(pages, start=1):
        text, placed = page_text(raw)
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(text)
        for p in placed:
            lines.append(Line(pos + p.start, pos + p.end, number, p.line.page_box, p.line.score, ocr))
        pos += len(text)
    return PagedText("".join(parts), lines, len(pages))


def _layer_lines(page: Any) -> list[RawLine]:
    width, height = page.get_size()
    textpage = page.get_textpage()
    lines = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top).strip()
        if text:
            lines.append(RawLine(text, (left / width, 1 - top / height, right / width, 1 - bottom / height)))
    return lines


def _open_pdf(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise LoadError("PDF 有密码保护，无法读取；请先去掉密码再上传") from exc
        raise LoadError(f"无法解析 PDF（文件损坏或被截断）：{exc}") from exc


def read_pdf(path: Path, ocr: Ocr, progress: PageProgress | None = None) -> PagedText:
    """A PDF's pages: the text layer where a page has one, OCR where it has not."""
    pdf = _open_pdf(path)
    try:
        total = len(pdf)
        pages: list[tuple[list[RawLine], bool]] = []
        for i in range(total):
            page = pdf[i]
            layer = _layer_lines(page)
            if sum(len(ln.text) for ln in layer) >= _MIN_LAYER_CHARS:
                pages.append((layer, False))
            else:
                image = page.render(scale=_RENDER_SCALE).to_pil()
                pages.append((ocr.read_page(image), True))
            if progress:
                progress(i + 1, total)
    finally:
        pdf.close()
    result = _join(pages)
    if not result.text.strip():
        raise LoadError("PDF 中没有文字（既无文本层，OCR 也没有识别出文字）")
    return result


def open_image(path: Path) -> Any:
    """The image, upright by its EXIF orientation; a damaged or oversized file is a ``LoadError``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except Image.DecompressionBombError as exc:
        raise LoadError("图片过大（像素数超过安全上限），请缩小后再上传") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise LoadError(f"无法读取图片（文件损坏或格式不支持）：{type(exc).__name__}") from exc
    return ImageOps.exif_transpose(image)


def read_image(path: Path, ocr: Ocr, progress: PageProgress | None = None) -> PagedText:
    lines = ocr.read_page(open_image(path))
    if progress:
        progress(1, 1)
    result = _join([(lines, True)])
    if not result.text.strip():
        raise LoadError("图片中没有识别出文字")
    return result


def place_lines(raw: str, lines: list[Line], cleaned: str) -> tuple[Line, ...]:
    """``lines`` (offsets into ``raw``) moved onto ``cleaned``, which keeps every character of ``raw``
    but whitespace, in order (``ingest.clean``)."""
    to_clean = [-1] * (len(raw) + 1)
    j = 0
    for i, ch in enumerate(cleaned):
        if ch.isspace():
            continue
        found = raw.find(ch, j, j + 64)
        if found < 0:
            continue
        to_clean[found] = i
        j = found + 1
    placed = []
    for ln in lines:
        mapped = [to_clean[k] for k in range(ln.start, ln.end) if to_clean[k] >= 0]
        if mapped:
            placed.append(Line(mapped[0], mapped[-1] + 1, ln.page, ln.box, ln.score, ln.ocr))
    return tuple(placed)
