"""Functions under Lambda's Runtime Interface Emulator: context, environment, output, errors, lifecycle."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverless_jwt.dev.emulator import EmulatorRunner
from serverless_jwt.dev.environments import Environment
from serverless_jwt.dev.intrinsics import region
from serverless_jwt.dev.invocation import FunctionError, FunctionTimeoutError, RuntimeFailure
from serverless_jwt.dev.template import Layer, Template

from .conftest import SAM_APP
from .conftest import alive as _alive
from .conftest import emulator_runner as _runner


@pytest.fixture(scope="module")
def log() -> io.StringIO:
    return io.StringIO()


@pytest.fixture(scope="module")
def echo(sam_app: Template, sam_app_env: Environment, log: io.StringIO) -> Iterator[EmulatorRunner]:
    with _runner("EchoFunction", sam_app_env, log) as runner:
        yield runner



def test_context_and_environment_come_from_the_template(echo: EmulatorRunner) -> None:
    result = echo.invoke({"version": "2.0"})
    assert result["function_name"] == "EchoFunction"
    assert result["memory_limit_in_mb"] == 256  # the function's MemorySize over Globals' 192
    assert result["invoked_function_arn"].endswith(":function:EchoFunction")
    assert result["aws_request_id"] == echo.last_request_id
    assert 0 < result["remaining_ms"] <= 3000  # Timeout: 3 from Globals
    assert result["env"]["GREETING"] == "hello"
    assert result["env"]["BANNER"] == f"hello from {region()}\nsecond line\n"  # AWS::Region
    assert result["env"]["SELF_ARN"].endswith(":function:EchoFunction")
    assert result["env"]["PLAIN"] == "a plain scalar written over two lines"
    assert result["tinydep"] == "tiny"  # its own requirements.txt, installed in the runtime's environment
    assert result["helper"] == "helper-layer"  # the layer's python/ folder, as /opt/python
    assert result["srcmod"] == "source-layer"  # a BuildMethod layer's own folder, unbuilt
    assert result["layerdep"] == "from-layer-requirements"  # an unbuilt layer's requirements.txt
    assert result["pid"] != os.getpid()
    assert result["version"] == "2.0"


def test_parameter_overrides_reach_the_function(sam_app_env: Environment) -> None:
    function = Template(SAM_APP, parameter_overrides={"Greeting": "hi"}).function("EchoFunction")
    with EmulatorRunner(function, python=sam_app_env.python, log_stream=io.StringIO()) as runner:
        env = runner.invoke({})["env"]
    assert env["GREETING"] == "hi"
    assert env["BANNER"].startswith("hi from ")


def test_a_handler_exception_is_a_function_error(echo: EmulatorRunner) -> None:
    with pytest.raises(FunctionError) as caught:
        echo.invoke({"fail": True})
    assert caught.value.error_type == "ValueError"
    assert caught.value.error_message == "asked to fail"
    assert not caught.value.init
    assert echo.invoke({})["function_name"] == "EchoFunction"  # still warm and serving


def test_a_runtime_exiting_during_the_call_is_the_calls_failure_not_an_init_error(
        echo: EmulatorRunner) -> None:
    echo.invoke({})  # initialised
    with pytest.raises(FunctionError) as caught:
        echo.invoke({"exit": 3})
    assert caught.value.error_type == "Runtime.ExitError"
    assert not caught.value.init  # `invoke` said "failed to initialise" for it
    assert echo.invoke({})["function_name"] == "EchoFunction"  # a fresh runtime serves again


def test_an_event_over_lambdas_6_mb_request_limit_is_refused_before_the_function_runs(
        echo: EmulatorRunner, log: io.StringIO) -> None:
    # Lambda's Invoke refuses it (RequestEntityTooLargeException); the emulator cut it at 6291556 bytes
    # and ran the function with the rest: Runtime.UnmarshalError, "Unterminated string".
    started = log.getvalue().count("START RequestId:")
    with pytest.raises(RuntimeFailure) as caught:
        echo.invoke({"body": "A" * 6_300_000})
    assert caught.value.payload["errorType"] == "RequestEntityTooLargeException"
    assert caught.value.payload["errorMessage"] == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
    assert log.getvalue().count("START RequestId:") == started  # the function never ran
    assert echo.invoke({"body": "A" * 6_291_000})["function_name"] == "EchoFunction"  # within: runs
    # Measured as sent, in UTF-8: 3.3 MB of text that \u escapes would take to 6.6 MB is within the limit.
    assert echo.invoke({"body": "\u4e2d" * 1_100_000})["function_name"] == "EchoFunction"


def test_memory_past_memory_size_kills_the_runtime_as_lambda_does(echo: EmulatorRunner,
                                                                    log: io.StringIO) -> None:
    # Lambda (and sam local's container) limits the runtime to MemorySize; it ran on with any amount.
    assert echo.invoke({"allocate_mb": 16}) == {"allocated_mb": 16}  # within its 256 MB
    with pytest.raises(FunctionError) as caught:
        echo.invoke({"allocate_mb": 600, "hold_seconds": 2})  # within its 3 s Timeout
    assert caught.value.out_of_memory
    assert not caught.value.init
    assert caught.value.payload["errorType"] == "Runtime.ExitError"
    assert caught.value.payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert "EchoFunction: memory passed its MemorySize (256 MB)" in log.getvalue()
    assert echo.invoke({})["function_name"] == "EchoFunction"  # a fresh runtime serves again


def test_timeout_is_enforced_and_reported_then_the_runtime_starts_again(
        sam_app: Template, sam_app_env: Environment) -> None:
    log = io.StringIO()
    with _runner("SlowFunction", sam_app_env, log) as runner:
        started = time.monotonic()
        with pytest.raises(FunctionTimeoutError) as caught:
            runner.invoke({"seconds": 30})
        assert time.monotonic() - started < 15
        assert caught.value.payload["errorType"] == "Sandbox.Timedout"
        assert caught.value.payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
        assert runner.invoke({"seconds": 0}) == {"slept": True}
    assert "Task timed out after 1.00 seconds" in log.getvalue()


def test_an_invoke_timed_out_in_a_cold_key_fetch_leaves_the_next_invoke_a_cold_start_that_fetches(
        emulator: Path) -> None:
    # The runtime is stopped mid-fetch (the issuer slow, the function's Timeout shorter than the fetch
    # deadline): Lambda then resets the environment, and so does the emulator. Nothing of that fetch (its
    # lock, its half-read answer) is left for the next invoke: a cold start, which fetches and answers.
    from serverless_jwt.dev.environments import ensure_environment
    from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer

    from .conftest import CACHE, ROOT, requirements_of

    template = Template(ROOT / "template.yaml")
    function = dataclasses.replace(template.function("MeFunction"), timeout_seconds=1)
    env = ensure_environment(function.runtime, requirements_of(template, function.runtime), cache_dir=CACHE,
                             base_dir=template.dir)
    log = io.StringIO()
    with DevIssuer() as issuer:
        token = issuer.mint(sub="alice")
        event = {"version": "2.0", "rawPath": "/me", "headers": {"authorization": f"Bearer {token}"},
                 "requestContext": {"http": {"method": "GET", "path": "/me"}}}
        issuer.fault, issuer.slow_seconds, issuer.fault_paths = "slow", 5, {JWKS_PATH}
        settings = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience, "JWT_TIMEOUT_SECONDS": "5"}
        with EmulatorRunner(function, python=env.python, environment=settings, log_stream=log) as runner:
            with pytest.raises(FunctionTimeoutError):
                runner.invoke(event)
            issuer.fault = None
            result = runner.invoke(event)
        assert result["statusCode"] == 200
        assert json.loads(result["body"])["claims"]["sub"] == "alice"
        assert issuer.requests[JWKS_PATH] == 2  # the cut fetch, then the next invoke's own
    assert '"cold_start":true' in log.getvalue().rsplit("START RequestId", 1)[1]


def test_an_import_failure_is_reported_as_an_init_error(sam_app: Template, sam_app_env: Environment) -> None:
    log = io.StringIO()
    with _runner("BrokenFunction", sam_app_env, log) as runner, pytest.raises(FunctionError) as caught:
        runner.invoke({})
    assert caught.value.init
    assert caught.value.error_type == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in caught.value.error_message
    assert "module_that_does_not_exist" in log.getvalue()


def test_close_stops_the_emulator_and_the_runtime(sam_app: Template, sam_app_env: Environment) -> None:
    runner = EmulatorRunner(sam_app.function("EchoFunction"), python=sam_app_env.python,
                            log_stream=io.StringIO())
    runtime_pid = runner.invoke({})["pid"]
    emulator_pid = runner._proc.pid if runner._proc else 0
    assert _alive(runtime_pid)
    assert _alive(emulator_pid)
    runner.close()
    deadline = time.monotonic() + 5
    while (_alive(runtime_pid) or _alive(emulator_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(runtime_pid)
    assert not _alive(emulator_pid)


def test_close_does_not_wait_for_an_invocation_in_flight(sam_app: Template, sam_app_env: Environment) -> None:
    # start-api's Ctrl-C closes the runners while a request may still be running in its handler.
    slow = dataclasses.replace(sam_app.function("SlowFunction"), timeout_seconds=60)
    runner = EmulatorRunner(slow, python=sam_app_env.python, log_stream=io.StringIO())
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            runner.invoke({"seconds": 30})
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    log = runner.log_stream
    assert isinstance(log, io.StringIO)
    deadline = time.monotonic() + 30
    while "slow: sleeping" not in log.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    runner.close()
    caller.join(timeout=10)
    assert time.monotonic() - started < 10  # not the 30 s the handler would still sleep
    assert not caller.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeFailure)  # the request gets API Gateway's failure answer


_KILLED_OWNER = """
import io, json, os, signal, sys, threading
from pathlib import Path
from serverless_jwt.dev.emulator import EmulatorRunner
from serverless_jwt.dev.template import Layer, Template

function = Template(sys.argv[1]).function("EchoFunction")
holder = {}

def start():  # from a thread that then ends, as start-api restarts a runtime from a request thread
    runner = EmulatorRunner(function, python=Path(sys.argv[2]), log_stream=io.StringIO())
    holder["pids"] = [runner.invoke({})["pid"], runner._proc.pid]

thread = threading.Thread(target=start)
thread.start()
thread.join()
print(json.dumps(holder["pids"]), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no close(): only the kernel can clean up now
"""


_LATE_INVOKE = """
import io, sys, threading, time
from pathlib import Path
from serverless_jwt.dev.emulator import EmulatorRunner
from serverless_jwt.dev.template import Layer, Template

runner = EmulatorRunner(Template(sys.argv[1]).function("EchoFunction"), python=Path(sys.argv[2]),
                        log_stream=io.StringIO())

def late():
    time.sleep(1)  # the main thread has returned: interpreter shutdown has begun
    runner.close()  # a fresh emulator must still start (and be started from the long-lived thread)
    print("late", sorted(runner.invoke({"version": "2.0"}))[:1], flush=True)

runner.start()
threading.Thread(target=late).start()
"""


@pytest.mark.skipif((3, 12) <= sys.version_info[:3] < (3, 12, 3),
                    reason="CPython 3.12.0 to 3.12.2 refuse new threads and preexec_fn as soon as the main "
                           "thread has returned (python/cpython#113964, fixed in 3.12.3 and 3.13)")
def test_an_emulator_can_start_while_the_interpreter_shuts_down(sam_app_env: Environment) -> None:
    done = subprocess.run([sys.executable, "-c", _LATE_INVOKE, str(SAM_APP), str(sam_app_env.python)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "late [" in done.stdout


def test_a_killed_owner_takes_its_emulators_and_runtimes_with_it(sam_app_env: Environment) -> None:
    done = subprocess.run([sys.executable, "-c", _KILLED_OWNER, str(SAM_APP), str(sam_app_env.python)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = json.loads(done.stdout)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if _alive(pid)] == []


def test_a_code_change_starts_a_fresh_runtime(tmp_path: Path, sam_app: Template,
                                              sam_app_env: Environment) -> None:
    original = sam_app.function("EchoFunction")
    code = tmp_path / "echo"
    shutil.copytree(original.code_dir, code)
    function = dataclasses.replace(original, code_dir=code, source_dir=code)
    log = io.StringIO()
    with EmulatorRunner(function, python=sam_app_env.python, log_stream=log, watch=True) as runner:
        first = runner.invoke({})["pid"]
        assert runner.invoke({})["pid"] == first  # warm
        source = code / "app.py"
        edited = source.read_text().replace('"version": event.get("version")', '"version": "edited"')
        source.write_text(edited)
        os.utime(source, (time.time() + 5, time.time() + 5))
        time.sleep(0.6)  # changes are looked for at most twice a second
        again = runner.invoke({})
    assert again["version"] == "edited"
    assert again["pid"] != first
    assert f"code changed under {code}" in log.getvalue()


def test_layer_packages_are_found_where_lambda_looks_under_opt_python(tmp_path: Path,
                                                                     sam_app: Template,
                                                                     sam_app_env: Environment) -> None:
    # Lambda's path: /opt/python/lib/python3.12/site-packages, then /opt/python (AWS "Layer paths").
    code, content = tmp_path / "code", tmp_path / "layer"
    site = content / "python" / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    code.mkdir()
    (site / "in_site.py").write_text("WHERE = 'site-packages'\n")
    (content / "python" / "in_python.py").write_text("WHERE = 'python'\n")
    (site / "both.py").write_text("WHERE = 'site-packages'\n")
    (content / "python" / "both.py").write_text("WHERE = 'python'\n")
    (code / "app.py").write_text(
        "import both, in_python, in_site\n"
        "def handler(event, context):\n"
        "    return [in_site.WHERE, in_python.WHERE, both.WHERE]\n")
    function = dataclasses.replace(sam_app.function("EchoFunction"), code_dir=code, source_dir=code,
                                   handler="app.handler", layers=(Layer("L", content, None, None),))
    with EmulatorRunner(function, python=sam_app_env.python, log_stream=io.StringIO()) as runner:
        assert runner.invoke({}) == ["site-packages", "python", "site-packages"]


def test_a_later_layers_module_replaces_an_earlier_layers_as_lambda_extracts_them_in_order(
        tmp_path: Path, sam_app: Template, sam_app_env: Environment) -> None:
    # Lambda (and sam local's image) extract layers into /opt in list order: the last one's file wins.
    code = tmp_path / "code"
    code.mkdir()
    layers = []
    for name in ("first", "second"):
        (tmp_path / name / "python").mkdir(parents=True)
        (tmp_path / name / "python" / "which.py").write_text(f"WHERE = {name!r}\n")
        layers.append(Layer(name, tmp_path / name, None, None))
    (code / "app.py").write_text("import which\ndef handler(event, context):\n    return which.WHERE\n")
    function = dataclasses.replace(sam_app.function("EchoFunction"), code_dir=code, source_dir=code,
                                   handler="app.handler", layers=tuple(layers))
    with EmulatorRunner(function, python=sam_app_env.python, log_stream=io.StringIO()) as runner:
        assert runner.invoke({}) == "second"


def test_a_dead_emulator_is_started_again_on_the_next_invocation(sam_app_env: Environment) -> None:
    log = io.StringIO()
    with _runner("EchoFunction", sam_app_env, log) as runner:
        first = runner.invoke({})["pid"]
        assert runner._proc is not None
        os.killpg(runner._proc.pid, signal.SIGKILL)
        runner._proc.wait(timeout=5)
        assert runner.invoke({})["pid"] != first
    assert "the emulator had stopped; starting it again" in log.getvalue()


def test_no_bytecode_is_cached_beside_the_function_or_its_layers_as_under_lambda(
        tmp_path: Path, sam_app_env: Environment) -> None:
    # Lambda's /var/task and /opt are read-only: each cold start compiles, and no __pycache__ appears.
    app = tmp_path / "app"
    shutil.copytree(SAM_APP.parent, app, ignore=shutil.ignore_patterns("__pycache__"))
    runner = EmulatorRunner(Template(app / "template.yaml").function("EchoFunction"),
                            python=sam_app_env.python, log_stream=io.StringIO())
    try:
        assert runner.invoke({})["helper"] == "helper-layer"  # the function and a layer's module imported
    finally:
        runner.close()
    assert sorted(str(p.relative_to(app)) for p in app.rglob("__pycache__")) == []
