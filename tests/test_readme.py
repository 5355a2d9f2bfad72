"""Every Python snippet of README.md runs as written.

README markers, an HTML comment on the line right before a fenced block:

* ``<!-- file: NAME -->``: the block is also a file of the reader's project (``app.py``,
  ``pyproject.toml``), written into a fresh project directory for the snippets that import it;
* ``<!-- not-run: reason -->``: shown, not run (for what needs a cloud account or a long-running
  server); few are allowed, and this test counts them.

A ``python`` block that defines ``test_*`` functions is a reader's test file: it runs with ``pytest`` in a
subprocess inside that project directory, so the plugin loads from its entry point exactly as it does for
a user (no ``pythonpath`` but the README's own). Every other ``python`` block is executed in a fresh
namespace with the dev issuer's ``JWT_*`` environment (``jwt_env``), as a user's module would be imported.
A block importing a package that is not installed here is skipped and says which.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MAX_NOT_RUN = 3
_FENCE = re.compile(r"^( *)```(\w*)\s*$")  # a block inside a list item is indented
_MARK = re.compile(r"^<!--\s*(file|not-run):\s*(.+?)\s*-->$")


@dataclass(frozen=True)
class Snippet:
    line: int
    language: str
    code: str
    file: str | None = None
    not_run: str | None = None

    @property
    def is_test_file(self) -> bool:
        return self.language == "python" and re.search(r"^def test_", self.code, re.MULTILINE) is not None


def snippets(text: str) -> list[Snippet]:
    found: list[Snippet] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start, indent, language = i, len(fence.group(1)), fence.group(2)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = _MARK.match(before)
        kind, value = (mark.group(1), mark.group(2)) if mark else (None, None)
        body = [line[indent:] if line[:indent].isspace() else line for line in lines[start + 1:end]]
        found.append(Snippet(start + 1, language, "\n".join(body) + "\n",
                             file=value if kind == "file" else None,
                             not_run=value if kind == "not-run" else None))
        i = end + 1
    return found


SNIPPETS = snippets(README.read_text(encoding="utf-8"))
PYTHON = [s for s in SNIPPETS if s.language == "python" and s.not_run is None]


def _missing_modules(code: str) -> list[str]:
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    project = {Path(s.file).stem for s in SNIPPETS if s.file}
    return sorted(n for n in names - project if importlib.util.find_spec(n) is None)


def test_the_readme_has_python_snippets_and_few_are_not_run() -> None:
    assert len(PYTHON) >= 3
    assert any(s.is_test_file for s in PYTHON)
    not_run = [s for s in SNIPPETS if s.not_run is not None]
    assert len(not_run) <= MAX_NOT_RUN, [f"README.md:{s.line}: {s.not_run}" for s in not_run]
    for snippet in SNIPPETS:
        if snippet.language == "python":
            ast.parse(snippet.code, filename=f"README.md:{snippet.line}")  # every block at least parses


@pytest.mark.parametrize("snippet", [s for s in PYTHON if not s.is_test_file], ids=lambda s: f"line{s.line}")
def test_python_snippet_runs_as_written(snippet: Snippet, jwt_env: object) -> None:
    missing = _missing_modules(snippet.code)
    if missing:
        pytest.skip(f"README.md:{snippet.line} needs {', '.join(missing)}, not installed here")
    namespace: dict[str, object] = {"__name__": f"readme_line_{snippet.line}"}
    exec(compile(snippet.code, f"README.md:{snippet.line}", "exec"), namespace)  # noqa: S102 - our own README


@pytest.mark.parametrize("snippet", [s for s in PYTHON if s.is_test_file], ids=lambda s: f"line{s.line}")
def test_test_snippet_passes_with_plain_pytest_in_a_fresh_project(snippet: Snippet, tmp_path: Path) -> None:
    missing = _missing_modules(snippet.code)
    if missing:
        pytest.skip(f"README.md:{snippet.line} needs {', '.join(missing)}, not installed here")
    for project_file in (s for s in SNIPPETS if s.file):
        (tmp_path / project_file.file).write_text(project_file.code, encoding="utf-8")  # type: ignore[operator]
    (tmp_path / f"test_readme_line_{snippet.line}.py").write_text(snippet.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "PYTEST_", "PYTHONPATH"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False)
    expected = len(re.findall(r"^def test_", snippet.code, re.MULTILINE))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed is not None, result.stdout[-2000:]
    assert int(passed.group(1)) >= expected, result.stdout[-2000:]


def test_every_environment_variable_is_documented_in_the_readme() -> None:
    from serverless_jwt._env import ENV_VARIABLES

    text = README.read_text(encoding="utf-8")
    assert [name for name in ENV_VARIABLES if f"`{name}`" not in text] == []


def test_every_shell_block_running_sam_says_where_sam_comes_from() -> None:
    # sam is in .venv/bin (the local extra), never on a newcomer's PATH: a block that runs it, or an
    # earlier block of its section (the same shell session), activates the venv or names .venv/bin/sam.
    command = re.compile(r"(?:^|&&|\|\||;|\$\()\s*sam\s", re.MULTILINE)
    lines = README.read_text(encoding="utf-8").splitlines()
    headings = [i + 1 for i, line in enumerate(lines) if line.startswith("#")]
    shell = [s for s in SNIPPETS if s.language in ("bash", "sh")]

    def found(snippet: Snippet) -> bool:
        start = max((h for h in headings if h < snippet.line), default=0)
        session = [s.code for s in shell if start < s.line <= snippet.line]
        return any("source .venv/bin/activate" in code or ".venv/bin/sam" in code for code in session)

    blocks = [s for s in shell if command.search(s.code)]
    assert blocks
    assert [f"README.md:{s.line}" for s in blocks if not found(s)] == []


def test_building_a_wheel_names_where_the_build_module_comes_from() -> None:
    # `python -m build` with a fresh machine's python3 is "No module named build".
    text = README.read_text(encoding="utf-8")
    bare = [m.start() for m in re.finditer(r"(?<![\w/])python -m build", text)
            if "pip install build" not in text[max(0, m.start() - 80):m.start()]]
    assert bare == []
