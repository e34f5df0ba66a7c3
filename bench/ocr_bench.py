"""OCR throughput: pages per second of scanned pages printed from the seed (one column, two columns,
one on its side, as in ``tests/integration/test_scans.py``), read through ``load_document``, and their
character accuracy against the printed text."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_90d63b1abeeeb38e.txt"


def measure_ocr(rounds: int = 1) -> dict[str, Any]:
    """Pages/s over ``rounds`` passes of three pages (the engine's first load timed apart)."""
    from ingest.load import load_document
    from ingest.ocr import Ocr
    from tests.support.scans import char_accuracy, print_page, save, seed_paragraphs

    title, paragraphs = seed_paragraphs(SEED)
    ocr = Ocr()
    with tempfile.TemporaryDirectory(prefix="yiju-ocr-bench-") as tmp:
        one, two = print_page(title, paragraphs, 1), print_page(title, paragraphs, 2)
        pages = [
            ("one column, PNG", save(one, Path(tmp) / "one.png"), one),
            ("two columns, image-only PDF", save(two, Path(tmp) / "two.pdf"), two),
            ("one column on its side, PNG", save(one, Path(tmp) / "side.png", rotate=90), one),
        ]
        started = time.perf_counter()
        ocr._get()
        load_s = time.perf_counter() - started
        rows, total = [], 0.0
        for _ in range(rounds):
            for name, path, printed in pages:
                t = time.perf_counter()
                doc = load_document(path, ocr=ocr)
                seconds = time.perf_counter() - t
                total += seconds
                accuracy = char_accuracy(printed.title + "".join(printed.paragraphs), doc.text)
                rows.append({"page": name, "seconds": round(seconds, 2), "char_accuracy": round(accuracy, 4)})
    n = len(rows)
    return {
        "pages": n,
        "seconds": round(total, 2),
        "pages_per_s": round(n / total, 3) if total else 0.0,
        "engine_load_s": round(load_s, 2),
        "min_char_accuracy": min(r["char_accuracy"] for r in rows),
        "rows": rows,
    }


def ocr_table(results: dict[str, Any]) -> list[str]:
    ocr = results.get("ocr")
    if not ocr:
        return []
    lines = ["| page | seconds | character accuracy |", "|---|---:|---:|"]
    lines += [f"| {r['page']} | {r['seconds']} | {r['char_accuracy'] * 100:.2f} % |" for r in ocr["rows"]]
    lines.append(
        f"\n{ocr['pages']} pages in {ocr['seconds']} s: **{ocr['pages_per_s']} pages/s** "
        f"(engine load {ocr['engine_load_s']} s, not counted)."
    )
    return lines
