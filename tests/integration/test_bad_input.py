"""Bad questions and bad files get clear messages; nothing crashes, nothing is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import InvalidQuestionError
from core.types import REFUSAL_TEXT
from ingest.index import load_index
from ingest.pipeline import ingest
from tests.conftest import ROOT, SEED_FILE

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("question", ["", "   \n\t ", "\x00\x01\x02", "x" * 20_000])
def test_invalid_questions_raise_a_clear_message(assistant, question: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidQuestionError, match="问题"):
        assistant.ask(question)


@pytest.mark.parametrize(
    "question",
    [
        "中小微企业\x07有多少户？\x1b[31m",
        "😀😀 中小微企业有多少户？🚀",
        "<script>alert('x')</script>中小微企业有多少户？",
        "'; DROP TABLE passages; -- 中小微企业有多少户",
        "中小微企業有多少戶？",  # traditional characters
        "ＳＭＥ中小微企业数量 how many?",
    ],
)
def test_odd_but_valid_questions_are_answered_or_refused(assistant, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(question)
    assert answer.refused or answer.citations
    if not answer.refused:
        assert "5200万" in answer.text
    else:
        assert answer.text == REFUSAL_TEXT


def test_traditional_question_matches_simplified_text(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask("我國中小微企業數量有多少戶？")
    assert not answer.refused and "5200万" in answer.text


def test_cli_rejects_empty_question_with_exit_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "   ", "--index", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "错误" in done.stderr


def test_odd_file_names_and_bad_files_in_one_run(model_settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    good = "某科技公司2024年在郑州新建了两条生产线，年产能达到十万台。"
    names = ["with space.txt", "中文文件名.txt", "ctl\x01name.txt", "-dash.md"]
    for name in names:
        (docs / name).write_text(good + name, "utf-8")
    (docs / "zero.txt").write_bytes(b"")
    (docs / "bin.txt").write_bytes(b"\x00\xff" * 5000)
    (docs / "trunc.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<")
    (docs / "trunc.docx").write_bytes(b"PK\x03\x04\x14\x00")
    (docs / "trunc.pptx").write_bytes(b"PK\x03\x04\x14\x00")
    (docs / "trunc.xlsx").write_bytes(b"PK\x03\x04\x14\x00")
    (docs / "big.txt").write_bytes(("很长的文本。" * 10).encode() * 200_000)  # ~36 MB > limit
    settings = model_settings.replace(data_dir=tmp_path / "data", index_dir=tmp_path / "data" / "index", max_file_mb=20)
    report = ingest([docs], settings, embedder)
    assert report.documents == len(names)
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(skipped) == {"zero.txt", "bin.txt", "trunc.pdf", "trunc.docx", "trunc.pptx", "trunc.xlsx", "big.txt"}
    assert "无法解析 PPTX" in skipped["trunc.pptx"] and "无法解析 XLSX" in skipped["trunc.xlsx"]
    assert "文件过大" in skipped["big.txt"]
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {p for p in docs.rglob("*")}
    assert all((tmp_path / "data") in p.parents for p in written)
    assert len(load_index(settings.resolved_index_dir).manifest.documents) == len(names)
    assert SEED_FILE.exists()
