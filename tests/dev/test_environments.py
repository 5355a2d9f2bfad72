"""The per-runtime environments: which interpreter, built once, reused, rebuilt when requirements change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serverless_jwt.dev import environments
from serverless_jwt.dev.environments import Environment, ensure_environment, find_interpreter

from .conftest import CACHE, SAM_APP


def test_the_runtimes_interpreter_is_used_when_the_machine_has_it() -> None:
    python, version, notice = find_interpreter("python3.12")
    if notice is not None:  # no python3.12 here: the fallback says so
        assert python == sys.executable
        assert "python3.12 is not installed here" in notice
        return
    assert version == "3.12"
    out = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "(3, 12)"


@pytest.mark.parametrize("runtime", ["python3.99", "nodejs20.x", None])
def test_without_the_runtimes_interpreter_the_current_one_runs_with_a_notice(runtime: str | None) -> None:
    python, version, notice = find_interpreter(runtime)
    assert python == sys.executable
    assert version == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert notice


def test_the_newest_pyenv_patch_release_is_chosen_by_version_not_by_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for patch in ("9", "10", "2"):  # as text, 3.98.9 sorts after 3.98.10
        bin_dir = tmp_path / "versions" / f"3.98.{patch}" / "bin"
        bin_dir.mkdir(parents=True)
        fake = bin_dir / "python3.98"
        fake.write_text("#!/bin/sh\necho 3.98\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    python, version, notice = find_interpreter("python3.98")
    assert (python, version, notice) == (str(tmp_path / "versions/3.98.10/bin/python3.98"), "3.98", None)


def test_an_environment_is_reused_until_its_requirements_change(tmp_path: Path) -> None:
    package = SAM_APP.parent / "packages" / "tinydep"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{package}\n")
    built: list[str] = []
    first = ensure_environment("python3.12", [requirements], cache_dir=tmp_path / "cache", base_dir=tmp_path,
                               log=built.append)
    assert len(built) == 2  # "building ..." then "... ready"
    assert _runs(first, "import awslambdaric, tinydep; print(tinydep.VALUE)") == "tiny"
    requirements.write_text(f"# a comment changes nothing\n{package}  # nor does this one\n")
    again = ensure_environment("python3.12", [requirements], cache_dir=tmp_path / "cache", base_dir=tmp_path,
                               log=built.append)
    assert again == first
    assert len(built) == 2
    requirements.write_text("")  # a real change: tinydep is no longer wanted
    changed = ensure_environment("python3.12", [requirements], cache_dir=tmp_path / "cache",
                                 base_dir=tmp_path, log=built.append)
    assert len(built) == 4
    assert changed.python != first.python
    assert _runs(changed, "import importlib.util; print(importlib.util.find_spec('tinydep'))") == "None"


def test_the_aws_sdk_is_there_unlisted_as_in_lambdas_python_runtimes(tmp_path: Path) -> None:
    # Lambda's Python runtimes (and sam local's image of them) ship boto3 after the function's own code
    # and layers: a function importing it without listing it works deployed and under sam local, and
    # failed here with "No module named 'boto3'" (so did a JWT_SECRET given as a Secrets Manager ARN).
    env = ensure_environment("python3.12", [], cache_dir=tmp_path / "cache", base_dir=tmp_path)
    assert _runs(env, "import boto3, botocore; print(boto3.__name__, botocore.__name__)") == "boto3 botocore"


def test_a_requirement_pip_cannot_install_is_a_clear_error(tmp_path: Path) -> None:
    from serverless_jwt.errors import ConfigurationError

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{tmp_path / 'no-such-package-folder'}\n")
    with pytest.raises(ConfigurationError, match=r"cannot install the requirements \(exit \d+\)"):
        ensure_environment("python3.12", [requirements], cache_dir=tmp_path / "cache", base_dir=tmp_path)


def test_a_runtime_older_than_this_pips_pythons_gets_an_environment_with_its_own_pip(tmp_path: Path) -> None:
    # pip 25.3 and later install only for Python 3.10+: a python3.9 function (SAM CLI's own test
    # templates use it) needs the pip that its interpreter brings.
    if find_interpreter("python3.9")[2] is not None:
        pytest.skip("no python3.9 on this machine")
    env = ensure_environment("python3.9", [], cache_dir=tmp_path / "cache", base_dir=tmp_path)
    assert env.version == "3.9"
    assert _runs(env, "import sys, awslambdaric; print(sys.version_info[:2])") == "(3, 9)"


def test_a_python38_runtime_gets_the_last_awslambdaric_that_supports_it(tmp_path: Path) -> None:
    # awslambdaric>=3.0 requires Python 3.9: a python3.8 function (a Runtime sam local still runs)
    # failed with pip's "Could not find a version that satisfies the requirement".
    if find_interpreter("python3.8")[2] is not None:
        pytest.skip("no python3.8 on this machine")
    env = ensure_environment("python3.8", [], cache_dir=tmp_path / "cache", base_dir=tmp_path)
    assert env.version == "3.8"
    assert _runs(env, "import sys, awslambdaric; print(sys.version_info[:2])") == "(3, 8)"


def _runs(env: Environment, code: str) -> str:
    return subprocess.run([str(env.python), "-c", code], capture_output=True, text=True, check=True,
                          cwd=CACHE.parent).stdout.strip()


def test_a_local_wheel_is_installed_as_it_is_and_a_local_folder_editable(tmp_path: Path) -> None:
    # The README's install from a built wheel: a requirements.txt naming it, extras included. pip
    # refuses `-e` for a file ("is not a valid editable requirement"), so `invoke` could not start.
    from serverless_jwt.dev.environments import _combined_requirements

    (tmp_path / "dist").mkdir()
    wheel = tmp_path / "dist" / "serverless_jwt-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    (tmp_path / "lib").mkdir()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"./dist/{wheel.name}[powertools]\n{wheel}\n./lib\n-e ./lib[aws]\n")
    assert _combined_requirements([requirements], tmp_path) == [
        f"{wheel}[powertools]", str(wheel), f"-e {tmp_path / 'lib'}", f"-e {tmp_path / 'lib'}[aws]"]


def test_a_local_wheel_rebuilt_at_the_same_path_rebuilds_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `pip wheel .` writes the same name until the version changes: reused, the environment kept the
    # old wheel while the requirement file stayed the same (a folder is editable; a wheel is copied).
    from serverless_jwt.dev import environments

    def run(argv: list[str], what: str, cwd: Path | None = None) -> None:  # no venv, no pip: the choice only
        if what == "create the virtual environment":
            python = Path(argv[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.touch()

    monkeypatch.setattr(environments, "_run", run)
    wheel = tmp_path / "dist" / "tinydep-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"first build")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"./dist/{wheel.name}[extra]\n")
    built: list[str] = []
    for _ in range(2):
        ensure_environment("python3.12", [requirements], cache_dir=tmp_path / "cache", base_dir=tmp_path,
                           log=built.append)
    assert len(built) == 2  # built once, then reused
    wheel.write_bytes(b"second build")
    ensure_environment("python3.12", [requirements], cache_dir=tmp_path / "cache", base_dir=tmp_path,
                       log=built.append)
    assert len(built) == 4


def test_a_package_on_the_shells_pythonpath_is_still_installed_into_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `PYTHONPATH=src serverless-jwt invoke ...` (or a checkout whose lib/ holds a build's egg-info):
    # pip saw the same name and version there, called it "already satisfied" and left it out, and the
    # function, which runs without PYTHONPATH as in Lambda, failed with Runtime.ImportModuleError.
    import zipfile

    wheel = tmp_path / "tinywheel-1.0-py3-none-any.whl"
    info = "tinywheel-1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("tinywheel/__init__.py", "VALUE = 'from the wheel'\n")
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tinywheel\nVersion: 1.0\n")
        zf.writestr(f"{info}/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    shadow = tmp_path / "src"
    (shadow / info).mkdir(parents=True)
    (shadow / info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinywheel\nVersion: 1.0\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"./{wheel.name}\n")
    env = ensure_environment("python3.12", [requirements], cache_dir=tmp_path / "cache", base_dir=tmp_path)
    monkeypatch.delenv("PYTHONPATH")
    assert _runs(env, "import tinywheel; print(tinywheel.VALUE)") == "from the wheel"


@pytest.mark.parametrize(("requires", "version", "installs"), [
    (">=3.10", "3.9", False), (">=3.10", "3.12", True), (None, "3.9", True), (">=3.8,!=3.9.0", "3.9", True)])
def test_pip_is_asked_whether_it_installs_for_a_python_by_its_requires_python(
        monkeypatch: pytest.MonkeyPatch, requires: str | None, version: str, installs: bool) -> None:
    import email
    import importlib.metadata

    from serverless_jwt.dev import environments

    fields = "Metadata-Version: 2.1\nName: pip\n" + (f"Requires-Python: {requires}\n" if requires else "")
    # The metadata object importlib.metadata itself returns; a missing field must not be an error.
    found = importlib.metadata._adapters.Message(email.message_from_string(fields))  # type: ignore[attr-defined]
    monkeypatch.setattr(importlib.metadata, "metadata", lambda name: found)
    assert environments._pip_installs_for(version) is installs


def _fake_environments(runtimes: Path, ages: dict[str, float], now: float) -> None:
    for name, age in ages.items():
        folder = runtimes / f"python3.12-{name}"
        folder.mkdir(parents=True)
        os.utime(folder, (now - age, now - age))


def test_pruning_keeps_the_most_recently_used_environments_and_any_used_within_the_hour(
        tmp_path: Path) -> None:
    runtimes, now = tmp_path / "runtimes", 1_000_000.0
    _fake_environments(runtimes, {"new": 0, "a": 60, "b": 120, "c": 180, "inuse": 1800,
                                  "old1": 7200, "old2": 9000}, now)
    environments._prune(runtimes / "python3.12-new", now=now)
    left = sorted(p.name.removeprefix("python3.12-") for p in runtimes.iterdir())
    # The newest four stay; past them, one used 30 minutes ago may still be running: only the two
    # unused for hours go.
    assert left == ["a", "b", "c", "inuse", "new"]


def test_reusing_an_environment_marks_it_used_so_pruning_spares_it(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("")
    cache = tmp_path / "cache"
    first = ensure_environment("python3.12", [requirements], cache_dir=cache, base_dir=tmp_path)
    folder = first.python.parent.parent
    os.utime(folder, (1_000, 1_000))  # built long ago
    again = ensure_environment("python3.12", [requirements], cache_dir=cache, base_dir=tmp_path)
    assert again == first
    assert folder.stat().st_mtime > 1_000  # used now: the most recently used, whenever it was built
