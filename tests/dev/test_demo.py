"""demo: what it tells the user to run next works from where they are."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from serverless_jwt.dev import demo


def test_next_step_names_the_venv_command_when_it_is_not_on_path(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / ".venv" / "bin" / "serverless-jwt"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert demo._command() == str(Path(".venv/bin/serverless-jwt"))
    monkeypatch.setenv("PATH", str(script.parent))
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert demo._command() == "serverless-jwt"
