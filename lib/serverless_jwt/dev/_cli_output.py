"""The CLI's standard streams when they are closed, full or gone: a clear line and exit code, no traceback.

- stdout closed before the start (``>&-``): a command with output to give exits 141 with one line on
  stderr; the servers (``issuer``, ``start-api``) run on without their banner, closed or full.
- stdout failing (``> /dev/full``): exit 1, ``cannot write the output: No space left on device``.
- stderr full: its notes are dropped and the command goes on.
- stdout's reader gone (``| head``): exit 141, quietly, as Unix tools do (``cli.main``).
- stderr or stdin closed: read as ``/dev/null``. Otherwise Python sends ``print(file=sys.stderr)`` to
  stdout when stderr is ``None``, so ``TOKEN=$(serverless-jwt token 2>&-)`` would capture the notes.

:class:`Output` stands in for ``sys.stdout`` while a command runs, so that a write error there is told
apart from an ``OSError`` of the command's own (a timed-out request, say). Written by hand: the
standard library has no notion of "the output could not be written" apart from the error itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import Any, TextIO

__all__ = ["SERVERS", "Output", "OutputClosed", "OutputFailed", "discard_output", "open_streams",
           "serve_without_stdout"]

SERVERS = frozenset({"issuer", "start-api"})  # they serve; their banner is a courtesy


class OutputClosed(BrokenPipeError):
    """stdout was closed before the command started (``>&-``)."""


class OutputFailed(OSError):
    """Writing the command's output failed (a full disk, an I/O error)."""


class Output:
    """``sys.stdout`` while a command runs: its write errors become :class:`OutputFailed` /
    :class:`OutputClosed`; everything else (``fileno``, ``isatty``, ``encoding`` ...) is the stream's."""

    def __init__(self, stream: TextIO | None, *, courtesy: bool = False) -> None:
        self.stream = stream
        # Courtesy output (stderr's notes, a server's banner): what cannot be written is dropped.
        self.courtesy = courtesy

    def write(self, text: str) -> int:
        if self.stream is None:
            raise OutputClosed(errno.EPIPE, "standard output is closed")
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            if self.courtesy:
                return len(text)
            raise OutputFailed(exc.errno, exc.strerror) from None

    def flush(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            if not self.courtesy:
                raise OutputFailed(exc.errno, exc.strerror) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def open_streams() -> tuple[Any, Any, Any]:
    """Put :class:`Output` in front of stdout and ``/dev/null`` behind a closed stderr or stdin; returns
    the streams as they were, for the caller to put back."""
    saved = (sys.stdout, sys.stderr, sys.stdin)
    # stderr carries notes and errors: a full one drops them (a closed pipe still ends the command).
    errors = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = Output(errors, courtesy=True)
    if sys.stdin is None:
        sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout = Output(sys.stdout)
    return saved


def serve_without_stdout(command: str) -> None:
    """A server runs on when its stdout is closed or full: its banner is lost, as ``>/dev/null`` would
    lose it, and it still serves."""
    out = sys.stdout
    if command in SERVERS and isinstance(out, Output):
        out.courtesy = True
        if out.stream is None:
            out.stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def discard_output() -> None:
    """Point stdout and stderr at ``/dev/null``: Python flushes both again at exit (the signal docs'
    recipe for a broken pipe), and what could not be written must not fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(devnull, stream.fileno())
