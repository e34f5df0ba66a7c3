"""Reading order and paragraphs of a printed page from its lines' boxes.

OCR and a PDF's text layer both give lines with boxes, in no reliable order. A recursive XY cut
puts them in reading order: a region is split at a vertical gap between columns first (left to
right), else at its widest horizontal gap (top to bottom), so a headline across the page comes
before the columns under it and each column is read whole before the next. Within a column a
new paragraph starts at an indented first line, a wider gap or a change of font size.

The page's text is then one block per paragraph, blank lines between, and each line keeps its
offsets into that text so passages can name their page and boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from core.types import Box

_COLUMN_GAP = 0.02  # of the page width: a vertical gap this wide separates columns


@dataclass(frozen=True)
class RawLine:
    text: str
    box: Box  # fractions of the page's width and height, the page upright
    score: float = 1.0
    shown: Box | None = None  # the box on the page as stored, when that is turned

    @property
    def page_box(self) -> Box:
        return self.shown or self.box


@dataclass(frozen=True)
class PlacedLine:
    """A line placed in the page's text: ``text[start:end]`` is the line's text."""

    start: int
    end: int
    line: RawLine


def _height(line: RawLine) -> float:
    return line.box[3] - line.box[1]


def _gaps(spans: list[tuple[float, float]], min_gap: float) -> list[tuple[float, float]]:
    """Gaps at least ``min_gap`` wide between the union of the 1-D ``spans``."""
    out: list[tuple[float, float]] = []
    spans = sorted(spans)
    reach = spans[0][1]
    for lo, hi in spans[1:]:
        if lo - reach >= min_gap:
            out.append((reach, lo))
        reach = max(reach, hi)
    return out


def reading_order(lines: list[RawLine]) -> list[RawLine]:
    """``lines`` in the order a reader takes them (columns left to right, blocks top to bottom)."""
    if len(lines) <= 1:
        return list(lines)
    x_gaps = _gaps([(ln.box[0], ln.box[2]) for ln in lines], _COLUMN_GAP)
    if x_gaps:
        cut = max(x_gaps, key=lambda g: g[1] - g[0])[1]
        left = [ln for ln in lines if ln.box[2] <= cut]
        right = [ln for ln in lines if ln.box[2] > cut]
        return reading_order(left) + reading_order(right)
    y_gaps = _gaps([(ln.box[1], ln.box[3]) for ln in lines], 0.0)
    if not y_gaps:  # lines side by side on one row, or overlapping
        return sorted(lines, key=lambda ln: (ln.box[1], ln.box[0]))
    cut = max(y_gaps, key=lambda g: g[1] - g[0])[1]
    top = [ln for ln in lines if ln.box[3] <= cut]
    bottom = [ln for ln in lines if ln.box[3] > cut]
    return reading_order(top) + reading_order(bottom)


def _margin(line: RawLine, lines: list[RawLine]) -> float:
    """The left edge of ``line``'s column: the leftmost start of the lines above or below it."""
    h = _height(line)
    column = [
        ln.box[0]
        for ln in lines
        if ln.box[0] < line.box[2] and ln.box[2] > line.box[0] and ln.box[0] >= line.box[0] - 3 * h
    ]
    return min(column, default=line.box[0])


def _starts_paragraph(prev: RawLine, line: RawLine, margin: float) -> bool:
    h = median([_height(prev), _height(line)])
    if abs(_height(line) - _height(prev)) > 0.25 * h:  # another font size: headline, subtitle
        return True
    if line.box[1] - prev.box[3] > 0.9 * h:  # a wider gap (a new column starts above: not a gap)
        return True
    return line.box[0] - margin > 0.8 * h  # first-line indent


def paragraphs(lines: list[RawLine]) -> list[list[RawLine]]:
    """Ordered lines grouped into paragraphs."""
    ordered = reading_order([ln for ln in lines if ln.text.strip()])
    groups: list[list[RawLine]] = []
    for line in ordered:
        if groups and not _starts_paragraph(groups[-1][-1], line, _margin(line, ordered)):
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def page_text(lines: list[RawLine]) -> tuple[str, list[PlacedLine]]:
    """The page as text (one block per paragraph) and where each line landed in it."""
    parts: list[str] = []
    placed: list[PlacedLine] = []
    pos = 0
    for group in paragraphs(lines):
        if parts:
            parts.append("\n\n")
            pos += 2
        for line in group:
            text = line.text.strip()
            parts.append(text)
            placed.append(PlacedLine(pos, pos + len(text), line))
            pos += len(text)
    return "".join(parts), placed
