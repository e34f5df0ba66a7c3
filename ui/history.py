"""Saved conversations and per-answer feedback in one SQLite file (``Settings.history_path``).

A conversation belongs to an owner: ``user:<name>`` when login is on, else
``browser:<id>`` (a random id kept in the browser's storage). Each finished
turn is stored as it was shown: the question, the answer record (never
settings, so never an API key), the chat bubble and its 引用来源 section, so
a reload or a restart shows exactly what the user saw.

Feedback is one row per (conversation, turn, owner); rating again replaces
the rating (and the comment when a new one is given). Rows stay when their
conversation is deleted, for review. Every call opens its own connection,
so the store is safe to share between Gradio's worker threads.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Rating = Literal["up", "down"]
MAX_TITLE_CHARS = 40
MAX_COMMENT_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
EXPORT_FIELDS = (
    "id",
    "time",
    "rating",
    "comment",
    "owner",
    "conversation_id",
    "turn",
    "question",
    "answer",
    "refused",
    "mode",
    "model",
    "latency_ms",
    "notice",
    "citations",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (owner, updated);
CREATE TABLE IF NOT EXISTS turns (
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  n INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (conversation_id, n));
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, owner TEXT NOT NULL, conversation_id TEXT NOT NULL,
  turn INTEGER NOT NULL, rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), comment TEXT NOT NULL,
  question TEXT NOT NULL, answer TEXT NOT NULL, refused INTEGER NOT NULL, mode TEXT NOT NULL, model TEXT NOT NULL,
  latency_ms REAL, notice TEXT NOT NULL, citations TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_turn ON feedback (conversation_id, turn, owner);
"""


@dataclass(frozen=True)
class Conversation:
    id: str
    owner: str
    title: str
    created: float
    updated: float


def clean(text: Any, limit: int) -> str:
    """``text`` without control characters and outer blanks, at most ``limit`` characters."""
    return _CONTROL.sub("", text if isinstance(text, str) else "").strip()[:limit]


def title_for(question: str) -> str:
    """A conversation's first title: the start of its first question, on one line."""
    one_line = " ".join(clean(question, 10 * MAX_TITLE_CHARS).split())
    return one_line if len(one_line) <= MAX_TITLE_CHARS else one_line[: MAX_TITLE_CHARS - 1] + "…"


class HistoryStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one writer at a time within the process (SQLite locks across processes)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        try:
            with db:  # commits, or rolls back on an exception
                yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._connect() as db:
            yield db

    # -- meta ---------------------------------------------------------------------------
    def secret(self, name: str) -> str:
        """A random secret made on first use and kept in the database (e.g. for the browser storage)."""
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (f"secret:{name}",)).fetchone()
            if row is not None:
                return str(row["value"])
            value = secrets.token_urlsafe(32)
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"secret:{name}", value))
            return value

    # -- conversations --------------------------------------------------------------------
    def create(self, owner: str, title: str) -> Conversation:
        now = time.time()
        conv = Conversation(uuid.uuid4().hex, owner, title_for(title) or "新对话", now, now)
        with self._write() as db:
            db.execute(
                "INSERT INTO conversations (id, owner, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                (conv.id, conv.owner, conv.title, conv.created, conv.updated),
            )
        return conv

    def conversations(self, owner: str) -> list[Conversation]:
        """The owner's conversations, the most recently used first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM conversations WHERE owner = ? ORDER BY updated DESC, created DESC", (owner,)
            ).fetchall()
        return [Conversation(r["id"], r["owner"], r["title"], r["created"], r["updated"]) for r in rows]

    def get(self, owner: str, conversation_id: str) -> Conversation | None:
        return next((c for c in self.conversations(owner) if c.id == conversation_id), None)

    def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        title = title_for(title)
        if not title:
            return False
        with self._write() as db:
            done = db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title, conversation_id, owner)
            )
            return done.rowcount == 1

    def delete(self, owner: str, conversation_id: str) -> bool:
        with self._write() as db:
            done = db.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner))
            return done.rowcount == 1

    def save_turn(self, owner: str, conversation_id: str, n: int, data: Mapping[str, Any]) -> bool:
        """Store turn ``n`` (1-based) of the owner's conversation; False if it is not theirs (or was deleted)."""
        with self._write() as db:
            touched = db.execute(
                "UPDATE conversations SET updated = ? WHERE id = ? AND owner = ?", (time.time(), conversation_id, owner)
            )
            if touched.rowcount != 1:
                return False
            db.execute(
                "INSERT OR REPLACE INTO turns (conversation_id, n, data) VALUES (?, ?, ?)",
                (conversation_id, n, json.dumps(dict(data), ensure_ascii=False)),
            )
            return True

    def turns(self, owner: str, conversation_id: str) -> list[dict[str, Any]]:
        """The stored turns in order (empty for a conversation that is not the owner's)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT t.data FROM turns t JOIN conversations c ON c.id = t.conversation_id "
                "WHERE c.id = ? AND c.owner = ? ORDER BY t.n",
                (conversation_id, owner),
            ).fetchall()
        return [json.loads(r["data"]) for r in rows]

    # -- feedback -------------------------------------------------------------------------
    def add_feedback(
        self,
        rating: Rating,
        record: Mapping[str, Any],
        comment: Any = "",
        *,
        owner: str = "",
        conversation_id: str = "",
        turn: int = 0,
    ) -> dict[str, Any]:
        """Store a rating of the answer ``record`` (``Answer.to_record()``); returns the stored row."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        comment = clean(comment, MAX_COMMENT_CHARS)
        row = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "owner": owner,
            "conversation_id": conversation_id,
            "turn": int(turn),
            "rating": rating,
            "comment": comment,
            "question": str(record.get("question", "")),
            "answer": str(record.get("answer", "")),
            "refused": int(bool(record.get("refused"))),
            "mode": str(record.get("mode", "")),
            "model": str(record.get("model", "")),
            "latency_ms": record.get("latency_ms"),
            "notice": str(record.get("notice", "")),
            "citations": json.dumps(record.get("citations", []), ensure_ascii=False),
            "record": json.dumps(dict(record), ensure_ascii=False),
        }
        with self._write() as db:
            existing = None
            if conversation_id:
                existing = db.execute(
                    "SELECT id, comment FROM feedback WHERE conversation_id = ? AND turn = ? AND owner = ?",
                    (conversation_id, row["turn"], owner),
                ).fetchone()
            if existing is not None:
                row["comment"] = comment or existing["comment"]  # a rating alone keeps the earlier comment
                db.execute(
                    "UPDATE feedback SET time = ?, rating = ?, comment = ? WHERE id = ?",
                    (row["time"], rating, row["comment"], existing["id"]),
                )
                row["id"] = existing["id"]
            else:
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                row["id"] = db.execute(
                    f"INSERT INTO feedback ({columns}) VALUES ({marks})", tuple(row.values())
                ).lastrowid
        return self._public(row)

    def feedback(self, rating: Rating | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Stored feedback, newest first; only one rating when ``rating`` is given."""
        sql, args = "SELECT * FROM feedback", []
        if rating is not None:
            sql += " WHERE rating = ?"
            args.append(rating)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._connect() as db:
            rows = db.execute(sql, args).fetchall()
        return [self._public(dict(r)) for r in rows]

    @staticmethod
    def _public(row: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: row[k] for k in EXPORT_FIELDS}
        out["refused"] = bool(out["refused"])
        out["citations"] = json.loads(out["citations"]) if isinstance(out["citations"], str) else out["citations"]
        return out


def to_jsonl(rows: Sequence[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(dict(r), ensure_ascii=False) + "\n" for r in rows)


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is prefixed with ``'``."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with a BOM (so spreadsheet programs read the Chinese as UTF-8); citations as ``[n] 文件 第k段：引文``."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cited = "；".join(
            f"[{c.get('n')}] {c.get('doc', '')} 第{c.get('paragraph', '')}段：{c.get('quote', '')}"
            for c in row.get("citations") or ()
        )
        writer.writerow({k: _cell(v) for k, v in {**row, "citations": cited}.items()})
    return out.getvalue()
