"""Uploads are stored under safe generated names; the original name is for display only."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import LoadError
from ingest.uploads import display_name, remove_stored, safe_name, store_upload


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("公司简介.txt", "公司简介.txt"),
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\windows\\年报 2023.PDF", "年报 2023.pdf"),
        ("/abs/path/.hidden.docx", "hidden.docx"),
        ("a\x00b\x1b[31mc\u202e.html", "ab[31mc.html"),
        ("<script>x</script>.txt", "script.txt"),
        ("报告<草稿>:v2?.txt", "报告_草稿_v2.txt"),
        ("..txt", "upload.txt"),
        ("ＡＢＣ全角.ＴＸＴ", "ABC全角.txt"),
        ("名" * 300 + ".md", "名" * 80 + ".md"),
    ],
)
def test_safe_names_keep_readable_characters_only(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


@pytest.mark.parametrize("raw", ["run.exe", "archive.tar.gz", "no_extension", "movie.mp4", ""])
def test_unsupported_types_are_refused_in_chinese(raw: str) -> None:
    with pytest.raises(LoadError, match="不支持的文件类型"):
        safe_name(raw)


def test_scanned_pages_are_accepted() -> None:  # images are OCR'd since scanned documents are read
    assert safe_name("扫描件.PNG") == "扫描件.png" and safe_name("通知.jpg") == "通知.jpg"


def test_display_name_drops_paths_and_control_characters() -> None:
    assert display_name("C:\\Users\\张三\\报告\x07.docx") == "报告.docx"
    assert display_name("") == "未命名文件"


def test_stored_files_live_in_a_content_hash_folder(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("甲公司注册资本为100万元。", encoding="utf-8")
    second.write_text("乙公司注册资本为200万元。", encoding="utf-8")

    a = store_upload(first, "../../同名.txt", uploads, max_mb=1)
    b = store_upload(second, "同名.txt", uploads, max_mb=1)
    again = store_upload(first, "同名.txt", uploads, max_mb=1)

    assert a.path != b.path and a.path.name == b.path.name == "同名.txt"
    assert again.path == a.path and a.original_name == "同名.txt"
    assert uploads.resolve() in a.path.parents and a.path.read_text("utf-8") == "甲公司注册资本为100万元。"
    assert not list(uploads.rglob(".part-*"))


def test_size_limit_is_enforced_with_a_clear_message(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 3_000_000)
    with pytest.raises(LoadError, match=r"文件过大（3\.0 MB），单个文件上限为 2 MB"):
        store_upload(big, "big.txt", tmp_path / "uploads", max_mb=2)
    assert not (tmp_path / "uploads").exists()


def test_only_files_inside_the_uploads_folder_are_removed(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    source = tmp_path / "keep.txt"
    source.write_text("内容", encoding="utf-8")
    stored = store_upload(source, "keep.txt", uploads, max_mb=1)

    assert remove_stored(source, uploads) is False and source.exists()
    assert remove_stored(stored.path, uploads) is True
    assert not stored.path.exists() and not stored.path.parent.exists() and uploads.exists()
