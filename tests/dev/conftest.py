"""Shared, slow-to-build pieces of the local-loop tests: the runtime environments, built once per session.

Environments live in the repository's git-ignored ``.serverless-jwt/runtimes`` (as for a user), so a
second run, and the second pytest-xdist worker (it waits on the builder's file lock), reuse them.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from serverless_jwt.dev.emulator import EmulatorRunner, emulator_binary
from serverless_jwt.dev.environments import Environment, ensure_environment
from serverless_jwt.dev.template import Template

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".serverless-jwt"
SAM_APP = ROOT / "tests" / "fixtures" / "sam_app" / "template.yaml"


def json_unreadable_depth() -> int:
    """A depth of nested arrays that this Python's json cannot read (RecursionError): about 1,000 levels
    before 3.12, under 2,000 on 3.12, under 10,000 on 3.13, where its C recursion limit was raised."""
    for depth in (2_000, 10_000, 100_000, 1_000_000):
        try:
            json.loads("[" * depth + "]" * depth)
        except RecursionError:
            return depth
    raise AssertionError("this Python's json reads a million nested arrays")


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def emulator_runner(function: str, env: Environment, log: io.StringIO, **kwargs: bool) -> EmulatorRunner:
    """An EmulatorRunner for ``function`` of the sample SAM app, logging to ``log``."""
    return EmulatorRunner(Template(SAM_APP).function(function), python=env.python, log_stream=log, **kwargs)


def write_template(tmp_path: Path, text: str) -> Path:
    """``text`` written as ``tmp_path / "template.yaml"``; its path."""
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def requirements_of(template: Template, runtime: str | None) -> list[Path]:
    return sorted({r for f in template.functions.values() if f.runtime == runtime for r in f.requirements})


@pytest.fixture(autouse=True)
def _shared_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVERLESS_JWT_CACHE_DIR", str(CACHE))


@pytest.fixture(scope="session")
def emulator() -> Path:
    binary, why = emulator_binary()
    if binary is None and not sys.platform.startswith("linux"):
        pytest.skip(why)
    assert binary is not None, why  # on Linux the emulator path must run (aws-sam-cli is a dev dependency)
    return binary


@pytest.fixture(scope="session")
def sam_app() -> Template:
    return Template(SAM_APP)


@pytest.fixture(scope="session")
def sam_app_env(emulator: Path, sam_app: Template) -> Environment:
    return ensure_environment("python3.12", requirements_of(sam_app, "python3.12"), cache_dir=CACHE,
                              base_dir=sam_app.dir)
