"""The README's backend snippets run as written (each in a fresh interpreter)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
SECTIONS = ("## FastAPI, Flask, Django and any ASGI/WSGI backend", "## Using the verifier from any backend")


def _snippets() -> list[str]:
    found: list[str] = []
    for title in SECTIONS:
        start = README.index(title)
        end = README.find("\n## ", start + len(title))
        # A block marked <!-- not-run: ... --> (as tests/test_readme.py reads it) is shown, not run.
        found += [code for mark, code in re.findall(r"(<!-- not-run:[^>]*-->\n)?```python\n(.*?)```",
                                                     README[start:end], flags=re.S) if not mark]
    return found


@pytest.mark.parametrize("code", _snippets())
def test_backend_snippet_runs(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0, result.stderr
