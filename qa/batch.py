"""Batch answering: JSONL in (``id``, ``question``), answer records out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.errors import InvalidQuestionError
from qa.assistant import Assistant


def run_batch(assistant: Assistant, source: Path, out: Path | None) -> int:
    """Answer every line; a bad line is reported on stderr and the rest go on."""
    errors = 0
    sink = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        with source.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    record = assistant.ask(item["question"]).to_record(str(item.get("id", lineno)))
                except (ValueError, KeyError, TypeError, InvalidQuestionError) as exc:
                    errors += 1
                    print(f"第 {lineno} 行无效（{type(exc).__name__}: {exc}），已跳过。", file=sys.stderr)
                    continue
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
    finally:
        if out:
            sink.close()
    return 1 if errors else 0
