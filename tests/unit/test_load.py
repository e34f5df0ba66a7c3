"""Loading files of every supported kind, and clear reasons for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import LoadError
from ingest.load import load_document

TEXT = "开封市祥符区引进项目16个，投资总额214.5亿元。\n\n这些项目主要集中在高端装备制造领域。"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_chinese_text_encodings(tmp_path: Path, encoding: str) -> None:
    doc = load_document(_write(tmp_path, "a.txt", TEXT.encode(encoding)))
    assert "214.5亿元" in doc.text
    assert len(doc.articles[0].paragraphs) == 2


def test_big5_traditional(tmp_path: Path) -> None:
    text = "臺灣的中小企業數量超過一百五十萬家，是經濟發展的重要力量。\n\n政府持續推動數位轉型與創新。"
    doc = load_document(_write(tmp_path, "tw.txt", text.encode("big5")))
    assert "中小企業" in doc.text


def test_doc_id_is_the_content_hash(tmp_path: Path) -> None:
    a = load_document(_write(tmp_path, "a.txt", TEXT.encode()))
    b = load_document(_write(tmp_path, "b.md", TEXT.encode()))
    assert a.doc_id == b.doc_id and len(a.doc_id) == 32


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "文件为空"),
        ("blank.txt", b"  \n\n ", "文件为空"),
        ("binary.txt", bytes(range(256)) * 40, "二进制"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "PDF"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "DOCX"),
        ("image.png", b"\x89PNG\r\n", "无法读取图片"),
        ("archive.zip", b"PK\x03\x04 a zip", "不支持的文件类型"),
    ],
)
def test_bad_files_raise_a_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match=reason):
        load_document(_write(tmp_path, name, data))


def test_size_limit(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="文件过大"):
        load_document(_write(tmp_path, "big.txt", TEXT.encode() * 1000), max_bytes=10_000)


def test_docx(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("祥符区项目建设", level=1)
    document.add_paragraph("祥符区引进项目16个，投资总额214.5亿元。")
    path = tmp_path / "a.docx"
    document.save(str(path))
    doc = load_document(path)
    assert doc.articles[0].title == "祥符区项目建设"
    assert "214.5亿元" in doc.text


def test_pdf_text_layer(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path / "a.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("STSong-Light", 12)
    c.drawString(72, 760, "祥符区引进项目16个，投资总额214.5亿元。")
    c.save()
    doc = load_document(path)
    assert "214.5亿元" in doc.text


def test_html_drops_scripts(tmp_path: Path) -> None:
    html = (
        "<html><head><title>园区新闻</title><script>alert('x')</script></head>"
        "<body><h1>园区新闻</h1><p>祥符区引进项目16个，投资总额214.5亿元。</p></body></html>"
    )
    doc = load_document(_write(tmp_path, "a.html", html.encode()))
    assert "214.5亿元" in doc.text and "alert" not in doc.text
