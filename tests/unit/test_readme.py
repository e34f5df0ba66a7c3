"""The README cannot go stale: every setting and every CLI command is documented."""

from __future__ import annotations

import re

from core.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`(YIJU_[A-Z_]+)`", README))
    expected = {f"YIJU_{name.upper()}" for name in Settings.model_fields}
    assert expected <= documented, sorted(expected - documented)
    assert documented - {"YIJU_AUTH_USER", "YIJU_AUTH_PASSWORD"} <= expected | {"YIJU_SEED_DIR"}


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "make test" in ci


def test_every_cli_subcommand_is_documented() -> None:
    from qa.__main__ import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:  # type: ignore[union-attr]
        assert f"python -m qa {name}" in README, name
