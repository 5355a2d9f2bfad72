"""Run a function in Lambda's own Python runtime under the Runtime Interface Emulator, without Docker.

``sam local invoke`` starts a container whose entry point is the Lambda Runtime Interface Emulator (RIE)
with the runtime's bootstrap (``python -m awslambdaric <handler>``). Both run directly on Linux: the
``aws-sam-cli`` package ships the static RIE binaries (``samcli/local/rapid/aws-lambda-rie-<arch>``) and
``awslambdaric`` comes from PyPI. Each :class:`EmulatorRunner` is one warm "container": one RIE process
(its own pair of loopback ports, so several run side by side), the function's code folder as working
directory and ``LAMBDA_TASK_ROOT``, its layers' ``python/lib/pythonX.Y/site-packages`` and ``python/``
folders on ``PYTHONPATH`` (where Lambda mounts ``/opt/python``), and the environment Lambda sets (name,
memory, timeout, region, handler).

The emulator enforces ``Timeout``, prints ``START``/``END``/``REPORT`` and passes the function's output
through. Its ``REPORT ... Init Duration`` is not the real init time (it stays near 0.03 ms); the real
one, which it logs as ``INIT REPORT(durationMs: ...)``, replaces it in the ``REPORT`` line we show
(that output is read by :mod:`~serverless_jwt.dev._emulator_output`).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import importlib.util
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from serverless_jwt.dev._emulator_output import EmulatorOutput
from serverless_jwt.dev._function_environment import function_environment
from serverless_jwt.dev._memory_watch import MemoryWatch
from serverless_jwt.dev._spawn import popen
from serverless_jwt.dev.invocation import (
    FunctionError,
    FunctionTimeoutError,
    RuntimeFailure,
    check_event_size,
    event_bytes,
)
from serverless_jwt.dev.template import Function, newest_mtime

__all__ = ["EmulatorRunner", "emulator_binary"]

_INVOKE_PATH = "/2015-03-31/functions/function/invocations"
_ERROR_KEYS = {"errorMessage", "errorType", "stackTrace", "cause", "requestId"}
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def emulator_binary() -> tuple[Path | None, str]:
    """``(path, "")`` of the RIE for this machine, or ``(None, why it cannot run here)``."""
    if not sys.platform.startswith("linux"):
        return None, f"the Lambda Runtime Interface Emulator runs on Linux only (this is {sys.platform})"
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower())
    if arch is None:
        return None, f"no Runtime Interface Emulator for {platform.machine()}"
    spec = importlib.util.find_spec("samcli")
    if spec is None or not spec.submodule_search_locations:
        return None, "aws-sam-cli is not installed (pip install 'serverless-jwt[local]')"
    binary = Path(next(iter(spec.submodule_search_locations))) / "local" / "rapid" / f"aws-lambda-rie-{arch}"
    if not binary.is_file():
        return None, f"aws-sam-cli has no {binary.name}"
    if not os.access(binary, os.X_OK):
        with contextlib.suppress(OSError):
            binary.chmod(0o755)
    return binary, ""


_STARTING = threading.Lock()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EmulatorRunner(EmulatorOutput):
    """One function's warm runtime under the Runtime Interface Emulator.

    Parameters
    ----------
    function:
        From :class:`~serverless_jwt.dev.template.Template`.
    python:
        The interpreter of the runtime's environment (from
        :func:`~serverless_jwt.dev.environments.ensure_environment`); it must have ``awslambdaric``.
    environment:
        Variables over the template's (e.g. the dev issuer's); key-source variables replace as a group.
    log_stream:
        Where the function's log lines and ``START``/``END``/``REPORT`` go (default: stderr).
    watch:
        Restart the runtime before an invocation when a file under :attr:`Function.watched_dirs` changed.

    Raises
    ------
    RuntimeFailure
        From :meth:`start` / :meth:`invoke` when the emulator cannot start or gives no answer.

    Examples
    --------
    >>> with EmulatorRunner(template.function("MeFunction"), python=env.python) as runner:  # doctest: +SKIP
    ...     runner.invoke({"headers": {}})["statusCode"]
    401
    """

    mode = "emulator"

    def __init__(self, function: Function, *, python: Path, environment: Mapping[str, str] | None = None,
                 env_vars: Mapping[str, Any] | None = None, log_stream: TextIO | None = None,
                 watch: bool = False, binary: Path | None = None) -> None:
        self.function = function
        self.python = python
        self.environment = function_environment(function, environment, env_vars=env_vars)
        self.log_stream = log_stream
        self.watch = watch
        self.binary = binary
        self.last_request_id = ""
        self._lock = threading.RLock()  # the process: start, close
        self._invoking = threading.Lock()  # one invocation at a time, as one Lambda execution environment
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._url = ""
        self._reports = 0
        self._reported = threading.Condition()
        self._init_ms: float | None = None
        # From rapid's "INIT RTDONE(status: ...)": whether the runtime's last init failed. A 5xx
        # answer is an init failure only then; after a good init it is the call's (an exit, an answer
        # too large).
        self._init_failed = False
        self._tail: collections.deque[str] = collections.deque(maxlen=30)
        self._memory: MemoryWatch | None = None  # the invocation's, while it runs
        self._baseline = 0.0
        self._checked_at = 0.0

    # -- process ---------------------------------------------------------------------------------

    def start(self) -> EmulatorRunner:
        """Start the emulator (once); the runtime itself initialises on the first invocation, as in Lambda."""
        with self._lock:
            if self._proc is not None:
                return self
            binary = self.binary or emulator_binary()[0]
            if binary is None:
                raise RuntimeFailure(emulator_binary()[1])
            if not self.function.code_dir.is_dir():
                raise RuntimeFailure(f"{self.function.name}: CodeUri is not a local folder: "
                                     f"{self.function.code_dir}")
            self._baseline = self._newest()
            # One start at a time in this process: the ports are free when chosen, and each emulator
            # holds its pair before the next start chooses (concurrent cold starts picked the same).
            with _STARTING:
                self._spawn(binary)
            return self

    def _spawn(self, binary: Path) -> None:
        api_port, runtime_port = _free_port(), _free_port()
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update(self.environment)
        # Lambda's path from /opt: python/lib/pythonX.Y/site-packages, then python/ (of all layers).
        # Layers are extracted into /opt in order, a file of a later one replacing an earlier one's
        # (as sam local copies them): the last layer comes first here.
        runtime = self.function.runtime or "python{}.{}".format(*sys.version_info[:2])
        opt = [p for layer in reversed(self.function.layers) for p in layer.python_dirs]
        paths = [str(self.function.code_dir)]
        paths += [str(s) for p in opt if (s := p / "lib" / runtime / "site-packages").is_dir()]
        paths += [str(p) for p in opt]
        env.update({"PYTHONPATH": os.pathsep.join(paths), "LAMBDA_TASK_ROOT": str(self.function.code_dir),
                    "PYTHONUNBUFFERED": "1", "TZ": ":UTC",
                    # Lambda's /var/task and /opt, and sam local's mounts, are read-only: no bytecode is
                    # cached beside the code, so every cold start compiles it (and the user's folders
                    # stay free of __pycache__, which a later unbuilt package would upload).
                    "PYTHONDONTWRITEBYTECODE": "1",
                    "AWS_LAMBDA_FUNCTION_TIMEOUT": str(max(1, round(self.function.timeout_seconds))),
                    "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.function.runtime or 'python'}"})
        argv = [str(binary), "--log-level", "info",
                "--runtime-interface-emulator-address", f"127.0.0.1:{api_port}",
                "--runtime-api-address", f"127.0.0.1:{runtime_port}",
                str(self.python), "-m", "awslambdaric", self.function.handler]
        try:
            proc = popen(  # our binary, the environment's python, the handler name; dies with us
                argv, cwd=self.function.code_dir, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise RuntimeFailure(f"cannot start the emulator: {exc.strerror or 'failed'}") from None
        self._proc, self._url = proc, f"http://127.0.0.1:{api_port}{_INVOKE_PATH}"
        assert proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True,
                                        name=f"rie-{self.function.name}")
        self._reader.start()
        atexit.register(self.close)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.close()
                raise RuntimeFailure(f"{self.function.name}: the emulator exited at start:\n"
                                     + "\n".join(self._tail))
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", api_port), 0.2):
                return
            time.sleep(0.02)
        self.close()
        raise RuntimeFailure(f"{self.function.name}: the emulator did not listen within 10 s")

    load = start  # the in-process runner's name for "get ready"

    def close(self) -> None:
        """Stop the emulator and the runtime process it started (their whole process group)."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            atexit.unregister(self.close)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=3)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # a runtime child that outlived the emulator
            if self._reader is not None:
                self._reader.join(timeout=3)
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> EmulatorRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- invocation ------------------------------------------------------------------------------

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        """Invoke with ``event``; returns the decoded result or raises an
        :class:`~serverless_jwt.dev.invocation.InvocationError`. The emulator chooses the request id
        (``request_id`` is accepted for the in-process runner's sake); see :attr:`last_request_id`."""
        data = event_bytes(event)
        check_event_size(self.function.name, data)
        with self._invoking:
            self._restart_if_changed()
            if self._proc is not None and self._proc.poll() is not None:
                self._write(f"{self.function.name}: the emulator had stopped; starting it again")
                self.close()
            self.start()
            with self._reported:
                seen = self._reports
            request = urllib.request.Request(self._url, data=data, method="POST")  # noqa: S310 - http loopback
            assert self._proc is not None
            try:
                with MemoryWatch(self._proc.pid, self.function.memory_mb) as memory:
                    self._memory = memory  # read by the REPORT line, which comes before the answer
                    with _NO_PROXY.open(request, timeout=self.function.timeout_seconds + 30) as response:
                        status, body = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            except (urllib.error.URLError, OSError) as exc:
                raise RuntimeFailure(f"{self.function.name}: no answer from the runtime "
                                     f"({type(exc).__name__})") from None
            with self._reported:  # let START/logs/END/REPORT reach the log before the result is shown
                self._reported.wait_for(lambda: self._reports > seen, timeout=2)
            if memory.exceeded:  # the runtime was killed, as Lambda's cgroup kills it
                limit = self.function.memory_mb
                self._write(f"{self.function.name}: memory passed its MemorySize ({limit} MB): "
                            "the runtime was stopped, as Lambda stops it (Runtime.OutOfMemory)")
            return self._decode(status, body, out_of_memory=memory.exceeded)

    def _decode(self, status: int, body: bytes, *, out_of_memory: bool = False) -> Any:
        text = body.decode("utf-8", "replace")
        if text.startswith("Task timed out after"):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            self._write(f"{stamp}Z {self.last_request_id} {text.strip()}")
            raise FunctionTimeoutError(self.function.timeout_seconds, self.last_request_id)
        try:
            result = json.loads(text)
        except ValueError:
            raise RuntimeFailure(f"{self.function.name}: the runtime answered HTTP {status} with a "
                                 "body that is not JSON") from None
        if isinstance(result, dict) and {"errorType", "errorMessage"} <= result.keys() <= _ERROR_KEYS:
            raise FunctionError(result, init=status >= 500 and self._init_failed, out_of_memory=out_of_memory)
        if status >= 500:
            raise RuntimeFailure(f"{self.function.name}: the runtime failed (HTTP {status})")
        return result

    def _restart_if_changed(self) -> None:
        now = time.monotonic()
        if not self.watch or self._proc is None or now - self._checked_at < 0.5:
            return
        self._checked_at = now
        if self._newest() > self._baseline:
            where = ", ".join(str(d) for d in self.function.watched_dirs)
            self._write(f"{self.function.name}: code changed under {where}; starting a fresh runtime")
            self.close()

    def _newest(self) -> float:
        return max((newest_mtime(d) for d in self.function.watched_dirs), default=0.0)
