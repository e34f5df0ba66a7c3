"""Read files into cleaned documents.

Supported: .txt and .md (UTF-8, or GB18030/GBK/Big5 detected), .docx, .pdf
(text layer, or OCR for pages without one), images (OCR), .html, slides (.pptx, a slide a page)
and tables (.xlsx, .csv: a paragraph per row, headers repeated; ``ingest.office``). Paged documents keep each
line's page and box (``Document.lines``). A file that cannot be read raises ``LoadError`` with
the reason; ``load_paths`` reports it and goes on with the other files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import LoadError
from core.types import Document
from ingest.clean import clean_text
from ingest.ocr import Ocr
from ingest.office import OFFICE_SUFFIXES, read_csv, read_pptx, read_xlsx
from ingest.paged import IMAGE_SUFFIXES, PagedText, PageProgress, place_lines, read_image, read_pdf

SUPPORTED = (".txt", ".md", ".markdown", ".docx", ".pdf", ".html", ".htm", *IMAGE_SUFFIXES, *OFFICE_SUFFIXES)


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 first, then the best guess of charset-normalizer."""
    if b"\x00" in data[:8192]:
        raise LoadError("看起来是二进制文件（含 NUL 字节），不是文本")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5", "utf_16", "cp1252", "shift_jis"]).best()
    if best is None or best.encoding is None:
        raise LoadError("无法识别文本编码（不是 UTF-8、GB18030/GBK 或 Big5）")
    encoding = "gb18030" if best.encoding in ("gbk", "gb2312") else best.encoding
    text = data.decode(encoding)
    if _control_ratio(text) > 0.05:
        raise LoadError("看起来是二进制文件，不是文本")
    return text, encoding


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    return bad / max(1, len(sample))


def _read_docx(path: Path) -> str:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several unrelated types
        raise LoadError(f"无法解析 DOCX（文件损坏或不是 Word 文档）：{type(exc).__name__}") from exc
    lines = []
    for para in document.paragraphs:
        style = (para.style.name or "").lower() if para.style is not None else ""
        text = para.text.strip()
        if text and style.startswith(("heading 1", "title")):
            lines.append("# " + text)
        elif text and style.startswith("heading"):
            lines.append("## " + text)
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _read_html(data: bytes) -> tuple[str, str]:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    raw, encoding = decode_text(data)
    tree = HTMLParser(raw)
    for node in tree.css("script, style, noscript, nav, footer, header"):
        node.decompose()
    blocks = []
    title = tree.css_first("title")
    if title is not None and title.text(strip=True):
        blocks.append("# " + title.text(strip=True))
    body = tree.body or tree.root
    if body is not None:
        for node in body.css("h1, h2, h3, h4, p, li, td, pre, blockquote, div"):
            if node.tag in ("div", "li", "td", "blockquote") and node.css_first("p, div, h1, h2, h3, h4, li"):
                continue  # its block children are visited on their own
            text = node.text(separator="", strip=True)
            if text:
                prefix = "## " if node.tag in ("h1", "h2", "h3", "h4") else ""
                blocks.append(prefix + text)
    return "\n\n".join(blocks), encoding


def read_text(path: Path, data: bytes) -> tuple[str, str]:
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _read_docx(path), "docx"
    if suffix in (".html", ".htm"):
        return _read_html(data)
    if suffix == ".xlsx":
        return read_xlsx(path, data), "xlsx"
    if suffix == ".csv":
        return read_csv(path, data)
    return decode_text(data)


def _read_paged(path: Path, ocr: Ocr | None, progress: PageProgress | None) -> PagedText | None:
    suffix = path.suffix.lower()
    if suffix == ".pptx":
        return read_pptx(path, path.read_bytes())
    if suffix not in (".pdf", *IMAGE_SUFFIXES):
        return None
    reader = read_pdf if suffix == ".pdf" else read_image
    return reader(path, ocr or Ocr(), progress)


def load_document(
    path: Path, max_bytes: int | None = None, *, ocr: Ocr | None = None, progress: PageProgress | None = None
) -> Document:
    """Read, decode and clean one file. Raises ``LoadError`` with the reason.

    ``ocr`` reads scanned pages and images (one is made if none is given); ``progress(done, total)``
    is told of each page of a paged document.
    """
    if path.suffix.lower() not in SUPPORTED:
        raise LoadError(f"不支持的文件类型 {path.suffix or '（无扩展名）'}；支持 {' '.join(SUPPORTED)}")
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise LoadError(f"文件过大（{size / 1e6:.1f} MB，上限 {max_bytes / 1e6:.0f} MB）")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"无法读取文件：{exc.strerror or exc}") from exc
    if not data.strip():
        raise LoadError("文件为空")
    paged = _read_paged(path, ocr, progress)
    text, encoding = (paged.text, path.suffix.lower().lstrip(".")) if paged else read_text(path, data)
    cleaned, articles = clean_text(text, fallback_title=path.stem)
    if not articles:
        raise LoadError("文件中没有可用的正文段落")
    return Document(
        doc_id=content_hash(data),
        path=str(path),
        name=path.name,
        text=cleaned,
        articles=articles,
        encoding=encoding,
        pages=paged.pages if paged else 0,
        lines=place_lines(text, paged.lines, cleaned) if paged else (),
    )


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under ``paths`` (recursively, sorted), hidden ones left out."""
    for root in paths:
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(root).parts
                if p.is_file() and not any(part.startswith(".") for part in rel):
                    yield p
        else:
            yield root
