"""The answering path stands apart from evaluation, training and benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCT = ("app", "qa.assistant", "qa.build", "qa.learned", "qa.llm", "qa.batch", "ui.services", "ui.blocks")
APART = ("eval", "learn", "bench")


def test_the_app_and_the_answering_modules_import_no_evaluation_training_or_benchmark_code() -> None:
    script = (
        "import importlib, sys\n"
        f"for name in {PRODUCT!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted({{m for m in sys.modules if m.split('.')[0] in {APART!r}}}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_answering_package_holds_no_evaluation_or_fitting_modules() -> None:
    names = {p.stem for p in (ROOT / "qa").glob("*.py")}
    assert not names & {"datasets", "evaluate", "evaluate_cli", "report", "fit_gate", "fit_english"}
    assert (ROOT / "eval" / "scoring.py").is_file() and (ROOT / "learn" / "fit_gate.py").is_file()
