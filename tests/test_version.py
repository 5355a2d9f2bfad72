"""One version, written in pyproject.toml, read at run time (metadata, else the checkout, else unknown)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import serverless_jwt
from serverless_jwt._version import UNKNOWN, version

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "serverless_jwt"


def _declared() -> str:
    found = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert found is not None
    return found.group(1)


def test_the_package_reports_the_declared_version() -> None:
    assert serverless_jwt.__version__ == _declared()
    assert version() == _declared()


def test_the_version_is_written_only_in_pyproject() -> None:
    hits = [p for p in PACKAGE.rglob("*.py") if re.search(r"""__version__\s*=\s*["']""", p.read_text())]
    assert hits == []


def test_plain_source_copied_into_a_layer_still_answers(tmp_path: Path) -> None:
    # A layer's python/ folder with the package copied in: no dist-info beside it, no pyproject above it.
    layer = tmp_path / "opt" / "python"
    shutil.copytree(PACKAGE, layer / "serverless_jwt", ignore=shutil.ignore_patterns("__pycache__"))
    assert version(layer / "serverless_jwt") == UNKNOWN
    code = "import serverless_jwt, sys; print(serverless_jwt.__version__, serverless_jwt.__file__)"
    probe = f"import sys; sys.path.insert(0, {str(layer)!r}); {code}"
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True,
                          cwd=tmp_path)
    reported, location = done.stdout.split()
    assert location.startswith(str(layer))
    assert reported == UNKNOWN  # an installed serverless-jwt elsewhere must not lend its version


def test_a_source_checkout_without_metadata_reads_its_pyproject(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(PACKAGE, checkout / "lib" / "serverless_jwt",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "serverless-jwt"\n'
        'authors = [{name = "x"}]\nversion = "9.8.7"\n\n[tool.other]\nversion = "0.0.1"\n'
    )
    assert version(checkout / "lib" / "serverless_jwt") == "9.8.7"


def test_importing_the_package_does_not_read_metadata() -> None:
    code = "import serverless_jwt, sys; print('importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_package_vendored_under_another_projects_pyproject_does_not_take_its_version(
        tmp_path: Path) -> None:
    # <project>/src/serverless_jwt: the pyproject.toml two levels up is the host project's, not ours.
    project = tmp_path / "my-service"
    shutil.copytree(PACKAGE, project / "src" / "serverless_jwt", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "pyproject.toml").write_text('[project]\nname = "my-service"\nversion = "7.7.7"\n')
    assert version(project / "src" / "serverless_jwt") == UNKNOWN


def test_a_checkout_reports_its_pyproject_version_over_an_egg_info_a_build_left(tmp_path: Path) -> None:
    # `python -m build` (README: Install) writes lib/serverless_jwt.egg-info; after a version bump in
    # pyproject.toml, that metadata is stale and must not answer for the checkout on PYTHONPATH.
    checkout = tmp_path / "checkout"
    lib = checkout / "lib"
    shutil.copytree(PACKAGE, lib / "serverless_jwt", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "pyproject.toml").write_text('[project]\nname = "serverless-jwt"\nversion = "9.8.7"\n')
    egg_info = lib / "serverless_jwt.egg-info"
    egg_info.mkdir()
    (egg_info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: serverless-jwt\nVersion: 0.0.1\n")
    (egg_info / "top_level.txt").write_text("serverless_jwt\n")
    probe = (f"import sys; sys.path.insert(0, {str(lib)!r}); import importlib.metadata as m, serverless_jwt; "
             "print(m.version('serverless-jwt'), serverless_jwt.__version__)")
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True,
                          cwd=tmp_path)
    assert done.stdout.split() == ["0.0.1", "9.8.7"]  # the stale metadata is there, and not believed
