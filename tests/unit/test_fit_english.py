"""The English fit's bookkeeping (python -m qa fit-english); the fit itself runs on the real index."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from core.errors import ConfigError
from learn.fit_english import fit_report, render_markdown, run


def _rows(half: str, answerable: list[float], unanswerable: list[float]) -> list[dict]:
    return [
        {"id": f"en-{half}-{i:03d}", "answerable": a, "score": s}
        for i, (a, s) in enumerate([(True, s) for s in answerable] + [(False, s) for s in unanswerable])
    ]


def test_the_threshold_is_fitted_on_the_fit_half_and_measured_on_both() -> None:
    fit = _rows("fit", [0.80, 0.82, 0.84, 0.86], [0.70, 0.72, 0.74, 0.76])
    test = _rows("test", [0.79, 0.83], [0.75, 0.85])
    report = fit_report(fit + test, previous=0.9)
    assert 0.76 < report["threshold"] <= 0.80  # between the refusals and the answerable scores of en-fit
    new, old = report["halves"]["fit"]["new"], report["halves"]["fit"]["previous"]
    assert new["answerable_answered"] == 1.0 and new["unanswerable_refused"] == 1.0
    assert old["answerable_answered"] == 0.0 and old["unanswerable_refused"] == 1.0
    assert report["halves"]["test"]["new"] == {
        "questions": 4,
        "auc": 0.5,
        "answerable_answered": 0.5,
        "unanswerable_refused": 0.5,
    }
    assert "| test | 4 |" in render_markdown(report)


def test_without_its_index_the_command_says_how_to_build_it(tmp_path: Path) -> None:
    args = argparse.Namespace(
        index=tmp_path / "missing", model=None, questions=Path("q.jsonl"), out=tmp_path / "o.json"
    )
    with pytest.raises(ConfigError, match="--build-index"):
        run(args)
