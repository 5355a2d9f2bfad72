"""One cached Python environment per Lambda runtime, for functions run under the emulator.

This is the job ``sam build`` does for a container: the interpreter matching the template's ``Runtime``
(``python3.12`` on PATH or under pyenv; otherwise the current one, with a notice) gets a virtual
environment holding ``awslambdaric`` (the runtime's bootstrap), ``boto3`` (Lambda's Python runtimes ship
it) and every ``requirements.txt`` of the template's functions and unbuilt layers of that runtime. It lives in
``<project state>/runtimes/<runtime>-<digest of its inputs>/``: ``.serverless-jwt`` in the template's
folder (the one above ``.aws-sam/build`` for a built template; git-ignored), or outside the project when
``sam build`` would copy that (:mod:`~serverless_jwt.dev._state_dir`); the ``SERVERLESS_JWT_CACHE_DIR``
variable moves it and is rebuilt only when its inputs change (interpreter,
requirement files); the newest four per runtime are kept. Requirement lines that name
a local folder (``.``, ``../lib``) are installed *editable*, so edits to a local package show up without a
rebuild; a local wheel or sdist is installed as it is, and rebuilt at the same path it rebuilds the
environment. Concurrent builders (parallel test workers, two
terminals) wait on a file lock.

Written here rather than borrowed: ``sam build`` installs into each function's artifact and expects the
interpreter to be on PATH; aws-lambda-builders does the same per function. We want one shared,
reusable environment per runtime for the warm local loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from serverless_jwt.dev._private_dir import make_private_dir
from serverless_jwt.errors import ConfigurationError

__all__ = ["AWSLAMBDARIC", "AWS_SDK", "Environment", "ensure_environment", "find_interpreter"]

# awslambdaric 3.x needs Python 3.9+; a python3.8 function (sam local still runs it) gets 2.2, its last
# release with wheels for 3.8 (the runtime interface is the same).
AWSLAMBDARIC = 'awslambdaric>=3.0; python_version >= "3.9"\nawslambdaric>=2.2,<3; python_version < "3.9"'
# The AWS SDK, which every Lambda Python runtime ships (sam local's images too) after the function's code
# and layers: a function may import it without listing it (a requirement of its own, an older boto3,
# wins in the joint install, as its copy in the code shadows the runtime's in Lambda).
AWS_SDK = "boto3"
_STAMP = ".serverless-jwt-env.json"
_KEEP = 4  # environments kept per runtime
# An environment used this recently is never pruned, however many newer ones exist: another command (a
# start-api in another terminal, a second test worker) may be running its interpreter right now.
_IN_USE_SECONDS = 3600
_VERSION = re.compile(r"^python(\d+)\.(\d+)$")


@dataclass(frozen=True, slots=True)
class Environment:
    """A ready environment: its ``python``, the version it runs, ``notice`` when not the runtime's."""

    python: Path
    version: str
    notice: str | None


def _version_of(python: str) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - an interpreter found on PATH or under pyenv
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


@cache
def find_interpreter(runtime: str | None) -> tuple[str, str, str | None]:
    """``(python, "3.12", notice)`` for a ``Runtime`` such as ``python3.12``.

    Looks for ``python3.12`` on PATH, then under pyenv's versions; falls back to this interpreter with
    a one-line notice (also when the runtime is not a Python one or is missing).
    """
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    match = _VERSION.match(runtime or "")
    if match is None:
        return sys.executable, here, f"Runtime {runtime or '(none)'} is not pythonX.Y; using Python {here}"
    want = f"{match[1]}.{match[2]}"
    if want == here:
        return sys.executable, here, None
    candidates = [shutil.which(f"python{want}")]
    # Newest first by version number: as text, 3.12.9 would sort after 3.12.10.
    pyenv = sorted(_pyenv_root().glob(f"versions/{want}.*/bin/python{want}"), reverse=True,
                   key=lambda p: [int(n) if n.isdigit() else -1 for n in p.parts[-3].split(".")])
    candidates += [str(p) for p in pyenv]
    for candidate in candidates:
        if candidate and _version_of(candidate) == want:
            return candidate, want, None
    return sys.executable, here, (f"{runtime} is not installed here (PATH, pyenv): running with Python "
                                  f"{here} instead; install python{want} to match Lambda")


def _combined_requirements(files: Sequence[Path], base: Path) -> list[str]:
    lines: list[str] = []
    for file in files:
        for raw in file.read_text(encoding="utf-8").splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("-r ", "-c ")):
                lines.append(f"{line[:2]} {(file.parent / line[3:].strip()).resolve()}")
            elif line.removeprefix("-e ").strip().startswith((".", "/", "file:")):
                target = line.removeprefix("-e ").strip().removeprefix("file:")
                path, bracket, extras = target.partition("[")
                # Relative to where `sam build` runs: the template's folder.
                resolved = (base / path).resolve()
                # A folder is installed editable; a built wheel or sdist cannot be (pip refuses `-e`).
                editable = "-e " if resolved.is_dir() else ""
                lines.append(f"{editable}{resolved}{bracket}{extras}")
            else:
                lines.append(line)
    return list(dict.fromkeys(lines))


def _local_files(requirements: Sequence[str]) -> dict[str, str]:
    """The content hash of each local wheel or sdist named: one rebuilt at the same path (same version)
    is a new input, so the environment is rebuilt (a local folder is editable: edits show up anyway)."""
    found: dict[str, str] = {}
    for line in requirements:
        path = Path(line.partition("[")[0])
        if not line.startswith("-") and path.is_absolute() and path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_environment(runtime: str | None, requirements: Sequence[Path], *, cache_dir: Path, base_dir: Path,
                       log: Callable[[str], None] = lambda _: None) -> Environment:
    """Build (or reuse) the environment for ``runtime`` holding awslambdaric and ``requirements``.

    Parameters
    ----------
    runtime:
        The template's ``Runtime`` (``python3.12``).
    requirements:
        ``requirements.txt`` files of every function and unbuilt layer of this runtime.
    cache_dir:
        Where environments live (``<cache_dir>/runtimes/<runtime>``).
    base_dir:
        The template's folder: relative local paths in requirement files start there.
    log:
        Receives a line when a (re)build starts and ends.

    Raises
    ------
    ConfigurationError
        When pip cannot install the requirements (its last lines are included).
    """
    python, version, notice = find_interpreter(runtime)
    name = f"python{version}"
    cache_dir = cache_dir.resolve()
    wanted: dict[str, Any] = {"python": python, "version": version, "bootstrap": AWSLAMBDARIC,
                              "sdk": AWS_SDK, "requirements": _combined_requirements(requirements, base_dir)}
    files = _local_files(wanted["requirements"])
    if files:  # only then: the environments of requirements without a local file keep their digest
        wanted["local_files"] = files
    digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()
    env_dir = cache_dir / "runtimes" / f"{name}-{digest[:12]}"
    env_python = env_dir / "bin" / "python"
    make_private_dir(cache_dir)
    with _locked(cache_dir / "runtimes" / f".{name}.lock"):
        try:
            built = json.loads((env_dir / _STAMP).read_text(encoding="utf-8")).get("digest")
        except (OSError, ValueError, AttributeError):
            built = None
        if built == digest and env_python.exists():
            with contextlib.suppress(OSError):
                os.utime(env_dir)  # last used now: pruning goes by use, not by when it was built
            return Environment(env_python, version, notice)
        log(f"building the {name} environment in {env_dir} (awslambdaric, boto3 + "
            f"{len(requirements)} requirements file(s)); reused until they change")
        shutil.rmtree(env_dir, ignore_errors=True)
        # This interpreter's pip installs into the new environment (no ensurepip there: faster); where
        # this interpreter has no pip (some pipx installs), or a pip that no longer installs for the
        # runtime's Python (pip 25.3 needs 3.10: a python3.9 function), the environment gets its own.
        own_pip = importlib.util.find_spec("pip") is None or not _pip_installs_for(version)
        _run([python, "-m", "venv", *([] if own_pip else ["--without-pip"]), str(env_dir)],
             "create the virtual environment")
        req_file = env_dir / "requirements.txt"
        req_file.write_text("\n".join([AWSLAMBDARIC, AWS_SDK, *wanted["requirements"]]) + "\n",
                            encoding="utf-8")
        pip = [str(env_python), "-m", "pip"] if own_pip else [sys.executable, "-m", "pip", "--python",
                                                               str(env_python)]
        _run([*pip, "install", "--quiet", "--disable-pip-version-check", "-r", str(req_file)],
             "install the requirements", cwd=base_dir)
        (env_dir / _STAMP).write_text(json.dumps({"digest": digest, **wanted}, indent=2), encoding="utf-8")
        log(f"{name} environment ready")
        _prune(env_dir)
    return Environment(env_python, version, notice)


def _pip_installs_for(version: str) -> bool:
    """Whether this interpreter's pip supports Python ``version`` ("3.9"), by its ``Requires-Python``."""
    try:
        # get_all: a missing field is None here on every Python (item access warns, then raises).
        spec = (importlib.metadata.metadata("pip").get_all("Requires-Python") or [""])[0]
    except importlib.metadata.PackageNotFoundError:
        return False
    lowest = re.search(r">=\s*(\d+)\.(\d+)", spec)
    wanted = re.fullmatch(r"(\d+)\.(\d+)", version)
    if lowest is None or wanted is None:
        return True
    return (int(wanted[1]), int(wanted[2])) >= (int(lowest[1]), int(lowest[2]))


def _prune(kept: Path, now: float | None = None) -> None:
    """Keep the few most recently used environments of a runtime (a switch between branches reuses
    them), and every one used within the last hour (it may be running)."""
    prefix = kept.name.rsplit("-", 1)[0] + "-"
    used: list[tuple[float, Path]] = []
    for path in kept.parent.glob(prefix + "*"):
        with contextlib.suppress(OSError):  # removed meanwhile by another pruner
            if path.is_dir() and path != kept:
                used.append((path.stat().st_mtime, path))
    recent = (time.time() if now is None else now) - _IN_USE_SECONDS
    for last_used, old in sorted(used, reverse=True)[_KEEP - 1:]:
        if last_used < recent:
            shutil.rmtree(old, ignore_errors=True)


def _run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    # Without the shell's PYTHONPATH, as Lambda runs the function: a package pip finds on it counts as
    # installed and is left out of the environment (and the cached environment stays without it).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        done = subprocess.run(  # noqa: S603 - interpreters and pip with our arguments
            argv, capture_output=True, text=True, cwd=cwd, env=env, check=False)
    except OSError as exc:
        raise ConfigurationError(f"cannot {what}: {exc.strerror or 'failed to start'}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise ConfigurationError(f"cannot {what} (exit {done.returncode}):\n{tail}")
