"""Scanned pages, read by the real OCR models: pages printed from the seed's paragraphs (one column,
two columns, one on its side; PNG and image-only PDF), then ingested and searched."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.errors import LoadError
from core.settings import Settings
from ingest.load import load_document
from ingest.ocr import Ocr
from ingest.pipeline import ingest
from qa.retrieve import HybridRetriever
from tests.conftest import SEED_FILE
from tests.support.scans import Printed, char_accuracy, print_page, save, seed_paragraphs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ocr() -> Ocr:
    return Ocr()


@pytest.fixture(scope="module")
def seed() -> tuple[str, list[str]]:
    return seed_paragraphs(SEED_FILE)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory, seed: tuple[str, list[str]]) -> dict[str, tuple[Path, Printed]]:
    folder = tmp_path_factory.mktemp("scans")
    title, paragraphs = seed
    one, two = print_page(title, paragraphs, 1), print_page(title, paragraphs, 2)
    return {
        "one-column.png": (save(one, folder / "one-column.png"), one),
        "two-column.pdf": (save(two, folder / "two-column.pdf"), two),
        "sideways.png": (save(one, folder / "sideways.png", rotate=90), one),
    }


@pytest.mark.parametrize("name", ["one-column.png", "two-column.pdf", "sideways.png"])
def test_ocr_reads_the_printed_text(scans, ocr: Ocr, name: str) -> None:  # type: ignore[no-untyped-def]
    path, printed = scans[name]
    doc = load_document(path, ocr=ocr)
    accuracy = char_accuracy(printed.title + "".join(printed.paragraphs), doc.text)
    assert accuracy >= 0.98, (name, accuracy, doc.text[:200])
    assert doc.pages == 1 and doc.lines and all(ln.page == 1 and ln.ocr for ln in doc.lines)


def test_two_columns_come_out_in_reading_order(scans, ocr: Ocr) -> None:  # type: ignore[no-untyped-def]
    path, printed = scans["two-column.pdf"]
    doc = load_document(path, ocr=ocr)
    got = [doc.text[s:e] for s, e in doc.articles[0].paragraphs]
    assert len(printed.paragraphs) >= 4 and len(got) == len(printed.paragraphs)
    for expected, read in zip(printed.paragraphs, got, strict=True):
        assert char_accuracy(expected, read) >= 0.95, (expected[:20], read[:20])
    right = [ln for ln in doc.lines if ln.box[0] > 0.5]
    left = [ln for ln in doc.lines if ln.box[2] < 0.5]
    assert left and right and max(ln.end for ln in left) < min(ln.start for ln in right)


def _scanned_pdf(path: Path, seed: tuple[str, list[str]]) -> Path:
    """Two pages: the first paragraphs in one column, later ones in two columns."""
    title, paragraphs = seed
    first = print_page(title, paragraphs[:3], 1)
    second = print_page(title, paragraphs[3:], 2)
    pages = [first.image.convert("RGB"), second.image.convert("RGB")]
    pages[0].save(path, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    return path


def _bad_inputs(folder: Path, scanned: Path) -> None:
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    Image.new("L", (800, 600), 255).save(folder / "blank.png")
    Image.new("L", (8000, 6000), 255).save(folder / "huge.png")
    writer = PdfWriter()
    for page in PdfReader(scanned).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    (folder / "locked.pdf").write_bytes(buffer.getvalue())
    data = scanned.read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 3])


def test_scanned_pdf_is_searchable_with_pages_and_bad_files_are_reported(  # type: ignore[no-untyped-def]
    model_settings: Settings, embedder, seed, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    scanned = _scanned_pdf(docs / "scan.pdf", seed)
    _bad_inputs(docs, scanned)
    stages: list[tuple[str, int, int]] = []
    settings = model_settings.replace(data_dir=tmp_path, index_dir=tmp_path / "index")
    report = ingest([docs], settings, embedder, progress=lambda *a: stages.append(a))
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"blank.png", "huge.png", "locked.pdf", "truncated.pdf"}, reasons
    assert "没有识别出文字" in reasons["blank.png"] and "过大" in reasons["huge.png"]
    assert "密码" in reasons["locked.pdf"] and "损坏或被截断" in reasons["truncated.pdf"]
    assert report.documents == 1 and ("ocr", 2, 2) in stages
    from ingest.index import load_index

    retriever = HybridRetriever(load_index(settings.resolved_index_dir), embedder)
    for question, needle, page in [
        ("中小微企业有多少户", "5200万户", 1),
        ("国务院办公厅何时印发专利转化运用专项行动方案", "2023年10月", 2),
    ]:
        top = retriever.search(question, k=5)[0].passage
        assert needle in top.text and top.page == page and top.ocr, (question, top.page, top.text[:40])
        assert top.boxes and all(0 <= v <= 1 for box in top.boxes for v in box)


def test_a_text_layer_page_is_read_without_ocr(tmp_path: Path) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path / "layer.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("STSong-Light", 12)
    c.drawString(72, 760, "数据显示，我国中小微企业数量已超过5200万户。")
    c.showPage()
    c.setFont("STSong-Light", 12)
    c.drawString(72, 760, "全国登记在册的个体工商户已达1.22亿户。")
    c.save()

    class NoOcr(Ocr):
        def read_page(self, image):  # type: ignore[no-untyped-def]
            raise AssertionError("a page with a text layer was sent to OCR")

    doc = load_document(path, ocr=NoOcr())
    assert "5200万户" in doc.text and "1.22亿户" in doc.text
    assert [ln.page for ln in doc.lines] == [1, 2] and not any(ln.ocr for ln in doc.lines)
    first = doc.lines[0]
    assert doc.text[first.start : first.end].startswith("数据显示") and first.box[1] < 0.2


def test_an_image_with_no_text_is_a_clear_error(tmp_path: Path, ocr: Ocr) -> None:
    from PIL import Image

    Image.new("RGB", (640, 480), "white").save(tmp_path / "empty.jpg")
    with pytest.raises(LoadError, match="没有识别出文字"):
        load_document(tmp_path / "empty.jpg", ocr=ocr)
