"""The emulator's output as sam local invoke shows it: the function's lines, START/END/REPORT with the
real init duration and memory used."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest

from serverless_jwt.dev.emulator import EmulatorRunner
from serverless_jwt.dev.environments import Environment
from serverless_jwt.dev.invocation import FunctionTimeoutError
from serverless_jwt.dev.template import Template

from .conftest import emulator_runner as _runner


def test_output_reads_like_sam_local_invoke_with_the_real_init_duration(
        sam_app: Template, sam_app_env: Environment) -> None:
    log = io.StringIO()
    with _runner("EchoFunction", sam_app_env, log) as runner:
        runner.invoke({})
        runner.invoke({})
    lines = log.getvalue().splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("START RequestId: ")]
    reports = [line for line in lines if line.startswith("REPORT RequestId: ")]
    assert len(starts) == 2
    assert len(reports) == 2
    first = lines[starts[0]:starts[1]]
    assert "echo: imported" in first
    assert "echo: invoked" in first
    assert any(line.startswith("END RequestId: ") for line in first)
    init = re.search(r"Init Duration: ([0-9.]+) ms", reports[0])
    assert init is not None
    assert float(init[1]) > 5  # the emulator's own figure stays near 0.03 ms
    assert "Init Duration" not in reports[1]  # warm
    assert not any("(rapid)" in line for line in lines)


def test_report_shows_the_memory_the_runtime_used_not_its_memory_size(
        sam_app: Template, sam_app_env: Environment) -> None:
    # The emulator writes `Max Memory Used: 256 MB` (EchoFunction's MemorySize) whatever was used.
    log = io.StringIO()
    with _runner("EchoFunction", sam_app_env, log) as runner:
        runner.invoke({})
    report = next(line for line in log.getvalue().splitlines() if line.startswith("REPORT RequestId: "))
    used = re.search(r"\tMax Memory Used: ([0-9]+) MB", report)
    assert used is not None, report
    assert 5 < int(used[1]) < 256, report
    assert "\tMemory Size: 256 MB" in report


def test_a_timed_out_invocations_report_shows_the_memory_it_used_not_its_memory_size(
        sam_app: Template, sam_app_env: Environment) -> None:
    # The emulator kills the runtime at the Timeout, then writes REPORT with the MemorySize as "Max Memory
    # Used" (192 MB of 192: it read as a function out of memory); Lambda's REPORT has what it used.
    log = io.StringIO()
    with _runner("SlowFunction", sam_app_env, log) as runner, pytest.raises(FunctionTimeoutError):
        runner.invoke({"seconds": 30})
    (report,) = [line for line in log.getvalue().splitlines() if line.startswith("REPORT RequestId:")]
    assert "Memory Size: 192 MB" in report
    used = int(report.split("Max Memory Used: ")[1].split()[0])
    assert 0 < used < 192


def _log_of_one_call(tmp_path: Path, sam_app: Template, sam_app_env: Environment, source: str) -> list[str]:
    """The log lines of one call to an ``app.handler`` of ``source`` (which answers "ok") in the emulator."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(source)
    function = dataclasses.replace(sam_app.function("EchoFunction"), code_dir=code, source_dir=code,
                                   handler="app.handler")
    log = io.StringIO()
    with EmulatorRunner(function, python=sam_app_env.python, log_stream=log) as runner:
        assert runner.invoke({}) == "ok"
    return log.getvalue().splitlines()


def test_output_written_without_a_final_newline_is_logged_as_its_own_line(
        tmp_path: Path, sam_app: Template, sam_app_env: Environment) -> None:
    # sys.stdout.write("...") runs into the emulator's next line of its own: it is the function's line.
    lines = _log_of_one_call(tmp_path, sam_app, sam_app_env,
        "import sys\n"
        "def handler(event, context):\n"
        "    sys.stdout.write('written to stdout')\n"
        "    sys.stderr.write('written to stderr')\n"
        "    return 'ok'\n")
    assert "written to stdout" in "\n".join(lines)
    assert "written to stderr" in "\n".join(lines)
    assert not any("(rapid)" in line for line in lines)
    assert [line.split()[0] for line in lines if "RequestId: " in line] == ["START", "END", "REPORT"]


def test_end_and_report_words_of_another_request_in_a_functions_line_stay_in_that_line(
        tmp_path: Path, sam_app: Template, sam_app_env: Environment) -> None:
    # A function forwarding CloudWatch log events prints "... REPORT RequestId: <other id> ...": not the
    # emulator's line, so not split out of the function's own line (nor counted as this call's REPORT).
    other = "REPORT RequestId: 0badc0de-0000-4000-8000-000000000000\tDuration: 1.00 ms"
    lines = _log_of_one_call(tmp_path, sam_app, sam_app_env,
        "def handler(event, context):\n"
        f"    print('forwarded: {other}')\n"
        "    return 'ok'\n")
    assert f"forwarded: {other}" in lines
    assert [line.split()[0] for line in lines if line.startswith(("START", "END", "REPORT"))] == [
        "START", "END", "REPORT"]
