"""Rows of a table as text: headers repeated, empty cells and rows left out, cells shown as in the sheet."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import LoadError
from ingest.office import MAX_COLUMNS, MAX_ROWS, _bounded, cell_text, row_text, table_text


def test_a_row_repeats_its_headers() -> None:
    assert row_text(["地区", "补贴标准"], ["杭州", "每人3000元"]) == "地区：杭州；补贴标准：每人3000元。"


def test_empty_cells_are_left_out_and_unnamed_columns_are_numbered() -> None:
    assert row_text(["地区", "", "备注"], ["杭州", "", "首批"]) == "地区：杭州；备注：首批。"
    assert row_text(["地区"], ["杭州", "3000"]) == "地区：杭州；第2列：3000。"
    assert row_text(["地区"], ["", ""]) == ""


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        (3000.0, "3000"),
        (2.5, "2.5"),
        (120, "120"),
        (True, "是"),
        (dt.datetime(2025, 3, 1), "2025-03-01"),
        (dt.datetime(2025, 3, 1, 9, 30), "2025-03-01T09:30:00"),
        ("  每人\n3000元 ", "每人 3000元"),
    ],
)
def test_cells_are_shown_as_in_the_sheet(value: object, shown: str) -> None:
    assert cell_text(value) == shown


def test_a_table_is_its_title_then_a_paragraph_per_non_empty_row() -> None:
    rows = [["", ""], ["地区", "补贴标准"], ["杭州", "每人3000元"], ["", ""], ["宁波", "每人2500元"]]
    assert table_text("补贴标准表", rows) == (
        "# 补贴标准表\n\n地区：杭州；补贴标准：每人3000元。\n\n地区：宁波；补贴标准：每人2500元。"
    )
    assert table_text("空表", [["", ""], []]) == ""


def test_long_and_wide_tables_are_refused_with_the_limit() -> None:
    with pytest.raises(LoadError, match=f"超过 {MAX_ROWS} 行"):
        list(_bounded(([str(i)] for i in range(MAX_ROWS + 1)), "长表"))
    with pytest.raises(LoadError, match=f"超过 {MAX_COLUMNS} 列"):
        list(_bounded([["x"] * (MAX_COLUMNS + 1)], "宽表"))
    assert list(_bounded([["a", *[""] * MAX_COLUMNS]], "表")) == [["a", *[""] * (MAX_COLUMNS - 1)]]
