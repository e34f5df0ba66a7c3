"""Sub-commands for evaluation (registered by ``qa.__main__``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_eval_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Evaluation commands are added here (see the evaluation issue)."""
