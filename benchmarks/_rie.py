"""Build with ``sam build`` and run the built functions under Lambda's Runtime Interface Emulator.

Used by the cold-start benchmark and by the packaging tests (one implementation for both). The
emulator is the binary that ships inside aws-sam-cli (``samcli/local/rapid/aws-lambda-rie-x86_64``,
what ``sam local invoke`` runs in its container); the function's bootstrap is
``python3.12 -m awslambdaric app.handler`` as in Lambda's Python runtime. The import path is Lambda's:
the function's code, then each layer's ``python/`` (``/opt/python``), then the runtime client.
The emulator logs the init phase as Lambda reports it: ``INIT REPORT(durationMs: ...)``.

Written by hand because nothing public drives the emulator outside a container: ``sam local`` needs
Docker, and the emulator's own docs only show ``docker run``.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

RUNTIME = "python3.12"
_INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: ([0-9.]+)\)")
_INVOKE_DONE = re.compile(r"INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([0-9.]+)ms\)")


def find_python(runtime: str = RUNTIME) -> str | None:
    """A working interpreter for ``runtime`` (``python3.12``): on PATH, else the newest pyenv 3.12.x.

    Each candidate is run once: a pyenv shim for a version that is not selected is on PATH but fails.
    """
    version = runtime.removeprefix("python")
    candidates = [shutil.which(runtime)]
    for root in filter(None, [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]):
        found = glob.glob(f"{root}/versions/{version}.*/bin/{runtime}")
        candidates += sorted(found, key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parts[-3])],
                             reverse=True)
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=30, check=False)
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate
    return None


def emulator_binary() -> Path | None:
    """The emulator shipped in the installed aws-sam-cli, or None."""
    spec = importlib.util.find_spec("samcli")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "local" / "rapid" / "aws-lambda-rie-x86_64"
    return path if path.is_file() else None


def sam_build(template: Path, build_dir: Path, python: str, *, cache_dir: Path | None = None,
              timeout: float = 600) -> Path:
    """``sam build -t template -b build_dir`` run from another directory; returns the build dir."""
    sam = Path(sys.executable).parent / "sam"  # aws-sam-cli installed beside this interpreter
    exe = str(sam) if sam.is_file() else shutil.which("sam") or "sam"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0",
           "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    args = [exe, "build", "--template-file", str(template), "--build-dir", str(build_dir)]
    if cache_dir is not None:
        args += ["--cache-dir", str(cache_dir)]
    done = subprocess.run(args, cwd=build_dir.parent, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        output = done.stdout[-2000:] + done.stderr[-2000:]
        raise RuntimeError(f"sam build failed ({done.returncode}):\n{output}")
    return build_dir


def runtime_client(python: str, cache_dir: Path) -> Path:
    """A folder holding ``awslambdaric`` for ``python`` (installed once, then reused)."""
    target = cache_dir / f"awslambdaric-{Path(python).name}"
    if not (target / "awslambdaric").is_dir():
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", str(staging), "awslambdaric"],
                       check=True, capture_output=True, timeout=300)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulated:
    """One function under the emulator: ``invoke(event)`` answers, ``init_ms()`` reads the init report.

    The emulator starts the runtime (and so the cold start) on the first invocation. Use as a context
    manager: the emulator process (and the runtime under it) is stopped on exit.
    """

    def __init__(self, code_dir: Path, *, layers: Sequence[Path], python: str, ric_dir: Path,
                 emulator: Path, env: Mapping[str, str], handler: str = "app.handler",
                 log_path: Path, write_bytecode: bool = False) -> None:
        self.port = _free_port()
        self.log_path = log_path
        path = [str(code_dir), *(str(layer / "python") for layer in layers), str(ric_dir)]
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "PYTHONPATH": os.pathsep.join(path),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            **env,
        }
        if not write_bytecode:
            # Lambda's code and layers are read-only: every cold start compiles what it imports.
            environ["PYTHONDONTWRITEBYTECODE"] = "1"
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in close())
        self._process = subprocess.Popen(
            [str(emulator), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{_free_port()}",
             python, "-m", "awslambdaric", handler],
            cwd=code_dir, env=environ, stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> Emulated:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def invoke(self, event: Mapping[str, Any], *, timeout: float = 60) -> Any:
        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        body = json.dumps(event).encode()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, data=body, timeout=timeout) as answer:
                    return json.loads(answer.read())
            except (ConnectionError, OSError) as exc:  # the emulator is still starting
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"emulator not answering: {exc}; log:\n{self.log()[-2000:]}") from None
                time.sleep(0.02)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text("utf-8", "replace")

    def init_ms(self, *, timeout: float = 5) -> float:
        """The init phase of the cold start, as the emulator reports it."""
        return self._logged(_INIT_REPORT, timeout)

    def first_invoke_ms(self, *, timeout: float = 5) -> float:
        """How long the first invocation ran (after init), as the emulator reports it."""
        return self._logged(_INVOKE_DONE, timeout)

    def _logged(self, pattern: re.Pattern[str], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            found = pattern.search(self.log())
            if found:
                return float(found.group(1))
            if time.monotonic() > deadline:
                raise RuntimeError(f"{pattern.pattern!r} not in the emulator log:\n{self.log()[-2000:]}")
            time.sleep(0.02)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


@contextlib.contextmanager
def emulated(build_dir: Path, function: str, layer: str, **kwargs: Any) -> Iterator[Emulated]:
    """``Emulated`` for ``build_dir/function`` with ``build_dir/layer`` as its one layer."""
    with Emulated(build_dir / function, layers=[build_dir / layer], **kwargs) as running:
        yield running
