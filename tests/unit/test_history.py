"""The SQLite store of conversations and feedback (``ui.history``) on a real file in tmp_path."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from ui.history import HistoryStore, title_for, to_csv, to_jsonl

RECORD = {
    "question": "我国中小微企业有多少户？",
    "answer": "我国中小微企业数量已超过5200万户。[1]",
    "refused": False,
    "mode": "llm",
    "model": "test-model",
    "latency_ms": 812.3,
    "notice": "",
    "citations": [
        {
            "n": 1,
            "doc": "000_90d63b1abeeeb38e.txt",
            "title": "中小企业",
            "paragraph": 2,
            "page": None,
            "text": "目前我国中小微企业已超过5200万户。",
            "quote": "已超过5200万户",
            "spans": [[8, 17]],
        }
    ],
    "retrieved": [],
}


def test_conversations_belong_to_their_owner_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "data" / "yiju.db"
    store = HistoryStore(path)
    mine = store.create("browser:a", "第一个对话")
    theirs = store.create("user:staff", "别人的对话")
    assert store.save_turn("browser:a", mine.id, 1, {"question": "问一", "bubble": "<div>答一</div>"})
    assert store.save_turn("browser:a", mine.id, 2, {"question": "问二", "bubble": "<div>答二</div>"})
    assert not store.save_turn("browser:b", mine.id, 3, {"question": "冒充"})  # not theirs

    reopened = HistoryStore(path)  # as after a restart of the app
    assert [c.title for c in reopened.conversations("browser:a")] == ["第一个对话"]
    assert [t["question"] for t in reopened.turns("browser:a", mine.id)] == ["问一", "问二"]
    assert reopened.turns("browser:b", mine.id) == []
    assert [c.id for c in reopened.conversations("user:staff")] == [theirs.id]


def test_saving_a_turn_again_replaces_it_and_moves_the_conversation_up(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    older = store.create("o", "旧")
    newer = store.create("o", "新")
    store.save_turn("o", older.id, 1, {"question": "草稿"})
    store.save_turn("o", older.id, 1, {"question": "定稿"})
    assert [t["question"] for t in store.turns("o", older.id)] == ["定稿"]
    assert [c.id for c in store.conversations("o")] == [older.id, newer.id]


def test_rename_and_delete_only_for_the_owner(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    conv = store.create("o", "原名")
    store.save_turn("o", conv.id, 1, {"question": "问"})
    assert not store.rename("x", conv.id, "偷改")
    assert not store.rename("o", conv.id, " \x07 ")  # blank after cleaning
    assert store.rename("o", conv.id, "  新名\x00称  " + "长" * 100)
    assert store.get("o", conv.id).title == "新名称 " + "长" * 35 + "…"  # type: ignore[union-attr]
    assert not store.delete("x", conv.id)
    assert store.delete("o", conv.id)
    assert store.conversations("o") == [] and store.turns("o", conv.id) == []
    with sqlite3.connect(tmp_path / "h.db") as db:  # its turns went with it
        assert db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0


def test_titles_are_one_short_line() -> None:
    assert title_for("  我国\n中小微企业\t有多少户？ ") == "我国 中小微企业 有多少户？"
    long = title_for("问" * 100)
    assert len(long) == 40 and long.endswith("…")


def test_feedback_is_stored_for_the_rated_turn_and_a_second_click_replaces_it(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    second = {**RECORD, "question": "第二问", "answer": "第二答"}
    store.add_feedback("up", RECORD, "准确", owner="o", conversation_id="c1", turn=1)
    store.add_feedback("up", second, "", owner="o", conversation_id="c1", turn=2)
    row = store.add_feedback("down", RECORD, "", owner="o", conversation_id="c1", turn=1)  # changed their mind

    assert row["rating"] == "down" and row["comment"] == "准确"  # a rating alone keeps the comment
    rows = store.feedback()
    assert len(rows) == 2
    by_turn = {r["turn"]: r for r in rows}
    assert by_turn[1]["question"] == RECORD["question"] and by_turn[1]["rating"] == "down"
    assert by_turn[1]["citations"][0]["quote"] == "已超过5200万户" and by_turn[1]["mode"] == "llm"
    assert by_turn[2]["question"] == "第二问" and by_turn[2]["rating"] == "up"
    assert [r["turn"] for r in store.feedback("down")] == [1]
    assert [r["turn"] for r in store.feedback("up")] == [2]
    with pytest.raises(ValueError):
        store.add_feedback("meh", RECORD)  # type: ignore[arg-type]


def test_feedback_from_many_threads_is_all_kept(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")

    def rate(i: int) -> None:
        for j in range(20):
            store.add_feedback("up", RECORD, f"评论{i}-{j}\x00", owner=f"o{i}", conversation_id=f"c{i}", turn=j + 1)

    threads = [threading.Thread(target=rate, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = store.feedback()
    assert len(rows) == 120 and len({r["comment"] for r in rows}) == 120
    assert all("\x00" not in r["comment"] for r in rows)


def test_exports_as_jsonl_and_csv(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    store.add_feedback(
        "down", {**RECORD, "answer": '=HYPERLINK("x")'}, "引用不对", owner="o", conversation_id="c", turn=1
    )
    rows = store.feedback()

    lines = to_jsonl(rows).splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["comment"] == "引用不对"
    assert json.loads(lines[0])["citations"][0]["n"] == 1

    text = to_csv(rows)
    assert text.startswith("\ufeff")
    parsed = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert parsed[0]["rating"] == "down" and parsed[0]["question"] == RECORD["question"]
    assert parsed[0]["answer"].startswith("'=")  # not run as a formula by a spreadsheet
    assert "[1] 000_90d63b1abeeeb38e.txt 第2段：已超过5200万户" in parsed[0]["citations"]


def test_the_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    first = HistoryStore(tmp_path / "h.db").secret("browser")
    assert len(first) >= 32 and HistoryStore(tmp_path / "h.db").secret("browser") == first
