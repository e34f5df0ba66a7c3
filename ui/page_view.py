"""The page a cited passage came from, as an image with the cited lines' boxes drawn over it.

PDF pages are rendered with pypdfium2, images are shown as they are (scaled down); both become a
JPEG data URI, cached per file, page and modification time, so a card costs a render once.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

from core.types import Box, Document, Passage

PAGE_WIDTH = 900  # pixels of the shown page image


@lru_cache(maxsize=32)
def _page_jpeg(path: str, page: int, mtime: float) -> str:
    if path.lower().endswith(".pdf"):
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(path)
        try:
            pdf_page = pdf[page - 1]
            image = pdf_page.render(scale=PAGE_WIDTH / pdf_page.get_width()).to_pil()
        finally:
            pdf.close()
    else:
        from ingest.paged import open_image

        image = open_image(Path(path))
        image.thumbnail((PAGE_WIDTH, PAGE_WIDTH * 4))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def page_image(path: str, page: int) -> str | None:
    """The page as a data URI, or None when the file is gone or cannot be rendered."""
    try:
        return _page_jpeg(path, page, Path(path).stat().st_mtime)
    except Exception:  # a moved, changed or damaged file: the card shows text only
        return None


def cited_boxes(passage: Passage, document: Document | None, spans: tuple[tuple[int, int], ...]) -> list[Box]:
    """Boxes of the lines on the passage's page that hold a cited span (all its lines without spans)."""
    if document is None or not document.lines or not spans:
        return list(passage.boxes)
    ranges = [(passage.start + s, passage.start + e) for s, e in spans]
    boxes = [
        ln.box
        for ln in document.lines
        if ln.page == passage.page and any(ln.start < e and ln.end > s for s, e in ranges)
    ]
    return boxes or list(passage.boxes)


def page_view_html(passage: Passage, document: Document | None, spans: tuple[tuple[int, int], ...]) -> str:
    """A collapsed "查看第N页" view, or "" for an unpaged passage or a page that cannot be shown."""
    if passage.page is None or document is None:
        return ""
    uri = page_image(document.path, passage.page)
    if uri is None:
        return ""
    marks = "".join(
        f'<div class="yiju-page-box" style="left:{x0 * 100:.2f}%;top:{y0 * 100:.2f}%;'
        f'width:{(x1 - x0) * 100:.2f}%;height:{(y1 - y0) * 100:.2f}%"></div>'
        for x0, y0, x1, y1 in cited_boxes(passage, document, spans)
    )
    return (
        f'<details class="yiju-page"><summary>查看第{passage.page}页（标出引用的行）</summary>'
        f'<div class="yiju-page-view"><img src="{uri}" alt="第{passage.page}页">{marks}</div></details>'
    )
