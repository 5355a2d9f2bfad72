"""scripts/demo and scripts/test make their .venv with scripts/_venv.sh: a Python 3.10+ or a clear refusal."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
# Stands in for an interpreter older than 3.10 (the machine may have none): it answers --version as
# one does and fails the version check the helper runs.
OLD_PYTHON = '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.9.18"; exit 0; fi\nexit 1\n'


def _project(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPTS / "_venv.sh", tmp_path / "scripts" / "_venv.sh")
    old = tmp_path / "old-python"
    old.write_text(OLD_PYTHON)
    old.chmod(0o755)
    return tmp_path


def _venv(project: Path, python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", "set -euo pipefail; source scripts/_venv.sh; .venv/bin/python -V"],
                          cwd=project, env={"PATH": "/usr/bin:/bin", "PYTHON": python},
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_python_older_than_3_10_is_refused_with_the_fix_and_no_venv_is_made(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = _venv(project, str(project / "old-python"))
    assert result.returncode == 2
    assert "needs Python 3.10+" in result.stderr
    assert "is Python 3.9.18" in result.stderr
    assert "PYTHON=python3.12" in result.stderr
    assert not (project / ".venv").exists()


def test_a_missing_python_is_named_as_not_found(tmp_path: Path) -> None:
    result = _venv(_project(tmp_path), "no-such-python3")
    assert result.returncode == 2
    assert "no-such-python3 is not found" in result.stderr
    assert "command not found" not in result.stderr


def test_a_venv_left_by_an_older_python_is_made_again_with_the_named_one(tmp_path: Path) -> None:
    # Before, a first run with python3.9 left a .venv that every later run reused and failed in pip.
    project = _project(tmp_path)
    (project / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(project / "old-python", project / ".venv" / "bin" / "python")
    result = _venv(project, sys.executable)
    assert result.returncode == 0, result.stderr
    assert "recreating .venv: it holds Python 3.9.18" in result.stderr
    assert result.stdout.startswith(f"Python {sys.version_info.major}.{sys.version_info.minor}.")


def test_a_venv_of_a_supported_python_is_kept(tmp_path: Path) -> None:
    project = _project(tmp_path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    (project / ".venv" / "kept").write_text("")
    result = _venv(project, str(project / "old-python"))  # not asked for: the venv is already good
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (project / ".venv" / "kept").exists()


def test_a_venv_whose_python_no_longer_exists_is_made_again(tmp_path: Path) -> None:
    # The interpreter it was made from was removed (an upgrade, pyenv uninstall): bin/python dangles, and
    # python -m venv keeps a dangling link as it is, so before every later run failed with "No such file".
    project = _project(tmp_path)
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").symlink_to(tmp_path / "removed" / "python3.9")
    result = _venv(project, sys.executable)
    assert result.returncode == 0, result.stderr
    assert "recreating .venv: it holds no Python that runs" in result.stderr
    assert result.stdout.startswith(f"Python {sys.version_info.major}.{sys.version_info.minor}.")


def test_a_venv_linked_elsewhere_with_a_python_that_no_longer_runs_is_replaced_and_its_target_kept(
        tmp_path: Path) -> None:
    project = _project(tmp_path)
    shared = tmp_path / "shared-venv"
    (shared / "bin").mkdir(parents=True)
    (shared / "bin" / "python").symlink_to(tmp_path / "removed" / "python3.9")
    (project / ".venv").symlink_to(shared)
    result = _venv(project, sys.executable)
    assert result.returncode == 0, result.stderr
    assert not (project / ".venv").is_symlink()
    assert (shared / "bin").is_dir()  # only the link was removed, not what it points to


# Stands in for Debian's python3 without python3-venv: venv makes bin/python, then fails in ensurepip.
NO_ENSUREPIP = ('#!/bin/sh\nif [ "$1" = "-m" ]; then\n'
                f'  mkdir -p "$3/bin" && ln -s {sys.executable} "$3/bin/python"\n'
                '  echo "The virtual environment was not created successfully because ensurepip is not'
                ' available" >&2\n'
                f'  exit 1\nfi\nexec {sys.executable} "$@"\n')


def test_a_venv_that_failed_to_be_made_is_not_left_behind(tmp_path: Path) -> None:
    # Before, the half-made .venv (a bin/python, no pip) was kept, and every later run failed in pip
    # with "No module named pip" instead of the ensurepip hint.
    project = _project(tmp_path)
    python = project / "no-ensurepip"
    python.write_text(NO_ENSUREPIP)
    python.chmod(0o755)
    for _ in range(2):  # the next run tries again, with the same hint
        result = _venv(project, str(python))
        assert result.returncode == 1
        assert "ensurepip is not available" in result.stderr
        assert not (project / ".venv").exists()
