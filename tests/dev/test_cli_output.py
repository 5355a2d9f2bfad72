"""The CLI's standard streams closed, full or gone: one line and an exit code, never a traceback."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from typing import Any

import pytest

from serverless_jwt.dev import cli
from serverless_jwt.dev._cli_output import Output, OutputClosed, OutputFailed

_RUN_MAIN = "import sys; from serverless_jwt.dev.cli import main; sys.exit(main(sys.argv[1:]))"


class _Full(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_write_errors_of_the_output_are_told_apart_from_other_oserrors() -> None:
    with pytest.raises(OutputFailed) as failed:
        Output(_Full()).write("x")
    assert failed.value.errno == errno.ENOSPC
    with pytest.raises(OutputClosed):
        Output(None).write("x")
    buffer = io.StringIO()
    out = Output(buffer)
    out.write("kept")
    assert (buffer.getvalue(), out.getvalue()) == ("kept", "kept")  # the rest is the stream's


def test_a_commands_own_oserror_is_one_line_and_not_called_an_output_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def times_out(args: Any) -> int:
        raise TimeoutError("timed out")

    monkeypatch.setattr(cli, "_run", times_out)
    assert cli.main(["token"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "serverless-jwt: error: timed out"


def test_with_stderr_closed_the_notes_never_land_in_stdout(tmp_path: Any) -> None:
    # Python sends print(file=sys.stderr) to stdout when stderr is None: TOKEN=$(... 2>&-) got the notes.
    env = {**os.environ, "JWT_SECRET": "s" * 40}
    done = subprocess.run([sys.executable, "-c", _RUN_MAIN, "--state-dir", str(tmp_path), "token", "--hs256"],
                          capture_output=True, text=True, timeout=60, check=False, env=env,
                          preexec_fn=lambda: os.close(2))
    assert done.returncode == 0
    assert done.stdout.count(".") == 2  # the token alone
    assert "#" not in done.stdout


def test_a_usage_error_with_stderr_closed_still_exits_2(tmp_path: Any) -> None:
    done = subprocess.run([sys.executable, "-c", _RUN_MAIN, "token", "--bogus"], capture_output=True,
                          text=True, timeout=60, check=False, preexec_fn=lambda: os.close(2))
    assert done.returncode == 2
    assert done.stdout == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_stderr_drops_the_notes_and_the_command_goes_on(tmp_path: Any) -> None:
    env = {**os.environ, "JWT_SECRET": "s" * 40}
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-c", _RUN_MAIN, "--state-dir", str(tmp_path), "token", "--hs256"],
            stdout=subprocess.PIPE, stderr=full, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 0
    assert done.stdout.count(".") == 2
