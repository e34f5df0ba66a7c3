"""Append-only 👍/👎 feedback: one JSON line per rating, with the question,
the answer and its citations, so a reviewer can see what the user saw.

Only the answer record goes in — never settings — so no API key can end up
in the file.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Literal

from core.types import Answer

Rating = Literal["up", "down"]
MAX_COMMENT_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def feedback_record(rating: Rating, answer: Answer, comment: str = "") -> dict[str, Any]:
    record = answer.to_record()
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rating": rating,
        "comment": _CONTROL.sub("", comment or "").strip()[:MAX_COMMENT_CHARS],
        "question": record["question"],
        "answer": record["answer"],
        "refused": record["refused"],
        "mode": record["mode"],
        "model": record["model"],
        "latency_ms": record["latency_ms"],
        "notice": record["notice"],
        "standalone_question": record["standalone_question"],
        "citations": record["citations"],
        "retrieved": [r["passage_id"] for r in record["retrieved"]],
    }


class FeedbackStore:
    """A JSONL file that is only ever appended to; safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(self, rating: Rating, answer: Answer, comment: str = "") -> dict[str, Any]:
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        record = feedback_record(rating, answer, comment)
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write() on an O_APPEND descriptor: lines from other processes never interleave.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return record

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
