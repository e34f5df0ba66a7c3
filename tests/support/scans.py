"""Scanned pages made from known text: the seed's paragraphs printed with Pillow in Noto CJK.

A one-column page and a two-column page (headline across both columns), as PNG and as an
image-only PDF, optionally turned on its side, so that OCR can be checked against the source.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.clean import clean_text

WIDTH, HEIGHT = 1240, 1754  # A4 at 150 dpi
MARGIN = 80
BODY, HEAD = 26, 44


@dataclass(frozen=True)
class Printed:
    image: Any  # PIL image
    title: str
    paragraphs: list[str]  # in reading order, as printed


def cjk_font_path() -> str:
    out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout
    paths = sorted({line.split(":")[0] for line in out.splitlines() if "CJK" in line and "Regular" in line})
    if not paths:
        raise RuntimeError("Noto CJK font not found: install fonts-noto-cjk (make browser)")
    return next((p for p in paths if "Sans" in p), paths[0])


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(cjk_font_path(), size, index=2)  # index 2 of the collection: SC


def seed_paragraphs(seed_file: Path) -> tuple[str, list[str]]:
    """The seed's first article: its title and body paragraphs."""
    text, articles = clean_text(seed_file.read_text("utf-8"), fallback_title="seed")
    first = articles[0]
    return first.title, [text[s:e] for s, e in first.paragraphs]


def _wrap(text: str, font: Any, width: int, indent: int) -> list[str]:
    lines, current, room = [], "", width - indent
    for ch in text:
        if font.getlength(current + ch) > room:
            lines.append(current)
            current, room = "", width
        current += ch
    return [*lines, current] if current else lines


def _column(draw: Any, paragraphs: list[str], x: int, y: int, width: int, bottom: int) -> tuple[int, int]:
    """Print paragraphs (first lines indented two characters) until ``bottom``; (paragraphs printed, y)."""
    font = _font(BODY)
    done = 0
    for para in paragraphs:
        lines = _wrap(para, font, width, 2 * BODY)
        if y + len(lines) * int(BODY * 1.6) > bottom:
            break
        for i, line in enumerate(lines):
            draw.text((x + (2 * BODY if i == 0 else 0), y), line, font=font, fill=0)
            y += int(BODY * 1.6)
        y += int(BODY * 0.3)
        done += 1
    return done, y


def print_page(title: str, paragraphs: list[str], columns: int = 1) -> Printed:
    from PIL import Image, ImageDraw

    image = Image.new("L", (WIDTH, HEIGHT), 255)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, MARGIN), title, font=_font(HEAD), fill=0)
    top, gutter = MARGIN + 2 * HEAD, 60
    width = (WIDTH - 2 * MARGIN - (columns - 1) * gutter) // columns
    printed: list[str] = []
    rest = list(paragraphs)
    for c in range(columns):
        n, _ = _column(draw, rest, MARGIN + c * (width + gutter), top, width, HEIGHT - MARGIN)
        printed += rest[:n]
        rest = rest[n:]
    return Printed(image, title, printed)


def save(printed: Printed, path: Path, rotate: int = 0) -> Path:
    """Save as PNG or as an image-only PDF (by suffix), turned by ``rotate`` degrees."""
    image = printed.image.rotate(rotate, expand=True, fillcolor=255) if rotate else printed.image
    if path.suffix == ".pdf":
        image.convert("RGB").save(path, "PDF", resolution=150)
    else:
        image.save(path)
    return path


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(expected: str, got: str) -> float:
    """1 − edit distance / length of ``expected``, whitespace ignored."""
    a, b = "".join(expected.split()), "".join(got.split())
    return 1 - edit_distance(a, b) / max(1, len(a))


def text_layer_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF with a real text layer (reportlab, the STSong CID font): each page's lines from the top."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    for lines in pages:
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines):
            c.drawString(72, 760 - 18 * i, line)
        c.showPage()
    c.save()
    return path
