"""Slides and spreadsheets, built here with python-pptx and openpyxl (and a GBK CSV), ingested with the
real model and FAISS, then searched: a slide's fact comes first with its slide number as page, a row
comes back with its column headers; bad office files are reported by name and the rest is indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from ingest.index import load_index
from ingest.load import load_document
from ingest.pipeline import ingest
from qa.retrieve import HybridRetriever

pytestmark = pytest.mark.integration


def _deck(path: Path) -> Path:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "项目概况"
    first.placeholders[1].text = "青禾计划于2024年在三个城市启动。\n项目由市科技局牵头实施。"
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "补贴发放进度"
    box = second.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1))
    box.text_frame.text = "首批创业补贴于2025年3月发放，共计1.2亿元。"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(3.5), Inches(6), Inches(1)).table
    for col, (head, value) in enumerate([("批次", "第二批"), ("发放时间", "2025年9月")]):
        table.cell(0, col).text, table.cell(1, col).text = head, value
    second.notes_slide.notes_text_frame.text = "金额以财政局公告为准。"
    third = deck.slides.add_slide(deck.slide_layouts[1])
    third.shapes.title.text = "下一步工作"
    third.placeholders[1].text = "2026年计划将青禾计划推广到全省十一个地市。"
    deck.save(str(path))
    return path


def _sheet(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "某市2025年小微企业补贴标准表"
    sheet.append(["地区", "补贴标准", "申报截止"])
    for row in [
        ("杭州", "每人3000元", "6月30日"),
        (),
        ("宁波", "每人2500元", "7月15日"),
        ("温州", "每人2000元", "8月1日"),
    ]:
        sheet.append(list(row))
    book.create_sheet("空白页")
    book.save(str(path))
    return path


def _bad_files(folder: Path) -> None:
    import openpyxl

    (folder / "corrupt.pptx").write_bytes(b"PK\x03\x04 not really a deck")
    (folder / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    book = openpyxl.Workbook()
    book.active.title = "空表"
    book.save(str(folder / "empty.xlsx"))


def test_slide_rows_and_csv_are_read(tmp_path: Path) -> None:
    deck = load_document(_deck(tmp_path / "deck.pptx"))
    assert deck.pages == 3 and {ln.page for ln in deck.lines} == {1, 2, 3}
    assert "批次：第二批；发放时间：2025年9月。" in deck.text and "金额以财政局公告为准。" in deck.text
    assert deck.articles[0].title == "项目概况" and "补贴发放进度" in deck.articles[0].sections
    (tmp_path / "城市人口.csv").write_bytes("城市,常住人口\n温州,968万\n,\n台州,668万\n".encode("gbk"))
    table = load_document(tmp_path / "城市人口.csv")
    assert table.encoding == "gb18030" and table.articles[0].title == "城市人口"
    assert "城市：温州；常住人口：968万。" in table.text and "城市：台州；常住人口：668万。" in table.text


def test_office_files_are_searchable_and_bad_ones_are_reported(  # type: ignore[no-untyped-def]
    model_settings: Settings, embedder, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _deck(docs / "青禾计划汇报.pptx")
    _sheet(docs / "补贴标准.xlsx")
    (docs / "人口.csv").write_bytes("\ufeff城市,常住人口\n温州,968万\n".encode())
    _bad_files(docs)
    settings = model_settings.replace(data_dir=tmp_path, index_dir=tmp_path / "index")
    report = ingest([docs], settings, embedder)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"corrupt.pptx", "locked.xlsx", "empty.xlsx"}, reasons
    assert (
        "损坏" in reasons["corrupt.pptx"] and "密码" in reasons["locked.xlsx"] and "没有数据" in reasons["empty.xlsx"]
    )
    assert report.documents == 3
    retriever = HybridRetriever(load_index(settings.resolved_index_dir), embedder)
    for question, needle, page in [
        ("首批创业补贴什么时候发放", "2025年3月", 2),
        ("青禾计划2026年推广到哪里", "十一个地市", 3),
    ]:
        top = retriever.search(question, k=5)[0].passage
        assert needle in top.text and top.page == page, (question, top.page, top.text)
        assert top.doc_name == "青禾计划汇报.pptx"
    top = retriever.search("宁波小微企业补贴标准是多少", k=5)[0].passage
    assert top.text == "地区：宁波；补贴标准：每人2500元；申报截止：7月15日。", top.text
    assert top.title == "某市2025年小微企业补贴标准表" and top.page is None


def test_formulas_are_read_as_their_saved_values(tmp_path: Path) -> None:
    import zipfile

    import openpyxl

    written = tmp_path / "written.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["地区", "人数", "补贴总额"])
    book.active.append(["杭州", 120, "=B2*3000"])
    book.save(str(written))
    saved = tmp_path / "saved.xlsx"  # as Excel saves it: the formula with its computed value
    with zipfile.ZipFile(written) as src, zipfile.ZipFile(saved, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<f>B2*3000</f><v></v>", b"<f>B2*3000</f><v>360000</v>")
            dst.writestr(item, data)
    text = load_document(saved).text
    assert "地区：杭州；人数：120；补贴总额：360000。" in text and "B2" not in text
