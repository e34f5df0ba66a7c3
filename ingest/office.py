"""Office files: slides (.pptx) and tables (.xlsx, .csv).

A slide deck is read like a paged document: each slide is a page (1-based), its title a heading,
then the text of its other shapes (text boxes, tables, grouped shapes) and its speaker notes.
A table becomes one paragraph per non-empty row that repeats the column headers
(``地区：杭州；补贴标准：每人3000元``) under the sheet's name (the file's name for CSV) as title.
Formulas are read as the values Excel saved with them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.errors import LoadError
from core.types import Line
from ingest.paged import PagedText

OFFICE_SUFFIXES = (".pptx", ".xlsx", ".csv")
MAX_ROWS = 5000  # per sheet
MAX_COLUMNS = 50
_SLIDE_BOX = (0.0, 0.0, 1.0, 1.0)  # a slide's lines are cited by page, not by box
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # encrypted OOXML and old .xls/.ppt are OLE files, not zip


def cell_text(value: Any) -> str:
    """A cell as shown: whole numbers without ``.0``, dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def row_text(headers: list[str], row: list[str]) -> str:
    """``表头：值；表头：值。`` for a row's non-empty cells (the full stop keeps rows apart when cleaned);
    a column without a header is ``第N列``. Empty for an empty row."""
    parts = []
    for i, value in enumerate(row):
        if value:
            header = headers[i] if i < len(headers) and headers[i] else f"第{i + 1}列"
            parts.append(f"{header}：{value}")
    return "；".join(parts) + "。" if parts else ""


def table_text(title: str, rows: Iterable[list[str]]) -> str:
    """A table's title and its rows as paragraphs; the first non-empty row is the header. Empty when no data."""
    non_empty = (row for row in rows if any(row))
    headers = next(non_empty, None)
    if headers is None:
        return ""
    lines = [row_text(headers, row) for row in non_empty]
    if not lines:
        lines = ["；".join(h for h in headers if h)]  # a header row alone is still the table's content
    return "\n\n".join(["# " + title, *lines])


def _bounded(rows: Iterable[list[str]], name: str) -> Iterator[list[str]]:
    for number, row in enumerate(rows, start=1):
        if number > MAX_ROWS:
            raise LoadError(f"表格过大：「{name}」超过 {MAX_ROWS} 行；请拆分后再上传")
        if len(row) > MAX_COLUMNS and any(row[MAX_COLUMNS:]):
            raise LoadError(f"表格过宽：「{name}」超过 {MAX_COLUMNS} 列；请删去多余的列后再上传")
        yield row[:MAX_COLUMNS]


def _not_zip(data: bytes, kind: str) -> LoadError:
    if data.startswith(_OLE_MAGIC):
        return LoadError(f"{kind} 有密码保护或是旧版格式（.xls/.ppt），无法读取；请去掉密码或另存为新格式再上传")
    return LoadError(f"无法解析 {kind}（文件损坏或格式不对）")


def read_xlsx(path: Path, data: bytes) -> str:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors
        raise _not_zip(data, "XLSX") from exc
    try:
        tables = [_sheet_text(sheet) for sheet in book.worksheets]
    finally:
        book.close()
    text = "\n\n".join(t for t in tables if t)
    if not text:
        raise LoadError("表格中没有数据（所有工作表都是空的）")
    return text


def _sheet_text(sheet: Any) -> str:
    rows = ([cell_text(v) for v in values] for values in sheet.iter_rows(values_only=True))
    return table_text(sheet.title, _bounded(rows, sheet.title))


def read_csv(path: Path, data: bytes) -> tuple[str, str]:
    from ingest.load import decode_text

    raw, encoding = decode_text(data)
    try:
        dialect: Any = csv.Sniffer().sniff(raw[:8192], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = ([cell_text(v) for v in row] for row in csv.reader(io.StringIO(raw), dialect))
        text = table_text(path.stem, _bounded(rows, path.name))
    except csv.Error as exc:
        raise LoadError(f"无法解析 CSV：{exc}") from exc
    if not text:
        raise LoadError("表格中没有数据")
    return text, encoding


def read_pptx(path: Path, data: bytes) -> PagedText:
    """Each slide a page: ``## 标题`` then its shapes' text and its notes."""
    import pptx

    try:
        deck = pptx.Presentation(io.BytesIO(data))
    except Exception as exc:  # zipfile, XML and python-pptx errors
        raise _not_zip(data, "PPTX") from exc
    slides = [_slide_lines(slide) for slide in deck.slides]
    result = _join_slides(slides)
    if not result.text.strip():
        raise LoadError("演示文稿中没有文字")
    return result


def _slide_lines(slide: Any) -> list[str]:
    title = slide.shapes.title
    lines = ["## " + _one_line(title.text_frame.text)] if title is not None and title.has_text_frame else []
    if lines == ["## "]:
        lines = []
    for shape in slide.shapes:
        if title is None or shape.shape_id != title.shape_id:
            lines.extend(_shape_lines(shape))
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        lines.extend(_paragraphs(slide.notes_slide.notes_text_frame.text))
    return lines


def _shape_lines(shape: Any) -> list[str]:
    if getattr(shape, "shapes", None) is not None:  # a group
        return [line for child in shape.shapes for line in _shape_lines(child)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[_one_line(cell.text) for cell in row.cells] for row in shape.table.rows]
        headers = rows[0] if rows else []
        return [t for t in (row_text(headers, r) for r in rows[1:]) if t] or ["；".join(headers)]
    if shape.has_text_frame:
        return _paragraphs(shape.text_frame.text)
    return []


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str) -> list[str]:
    return [p for p in (_one_line(p) for p in text.splitlines()) if p]


def _join_slides(slides: list[list[str]]) -> PagedText:
    parts: list[str] = []
    lines: list[Line] = []
    pos = 0
    for number, slide in enumerate(slides, start=1):
        for text in slide:
            if parts:
                parts.append("\n\n")
                pos += 2
            parts.append(text)
            lines.append(Line(pos, pos + len(text), number, _SLIDE_BOX))
            pos += len(text)
    return PagedText("".join(parts), lines, len(slides))
