"""The emulator's output as ``sam local invoke`` shows it: the function's lines, START/END/REPORT.

:class:`EmulatorOutput` is a base class of :class:`~serverless_jwt.dev.emulator.EmulatorRunner`: its
methods read what the emulator and the runtime write (one pipe for both), line by line. The emulator's
own ``(rapid)`` lines stay out of the log (the last few are kept for a failed start; a ``[PANIC]`` is
shown), and give the real init duration and whether init failed; output a function wrote without a
final newline is split from the emulator's next line; ``REPORT`` gets the real ``Init Duration`` and
the memory the runtime used, and tells the invocation that its log lines are all written.
"""

from __future__ import annotations

import collections
import contextlib
import re
import subprocess
import sys
import threading
from typing import IO, TextIO

from serverless_jwt.dev._memory_watch import MemoryWatch, peak_mb

__all__ = ["EmulatorOutput"]

_INIT_REPORT = re.compile(r"INIT REPORT\((?:[^)]*?)durationMs: ([0-9.]+)")
# The emulator's own lines: output a function wrote without a final newline runs into the next one.
_EMULATOR_LINE = re.compile(r"\d\d [A-Z][a-z]{2} \d{4} [\d:,]{12} \[[A-Z]+\] \(rapid\) "
                            r"|(?:END|REPORT) RequestId: [0-9a-f]{8}-")


class EmulatorOutput:
    """The output side of :class:`~serverless_jwt.dev.emulator.EmulatorRunner`, whose state it reads
    and sets (initialised by the runner)."""

    last_request_id: str
    log_stream: TextIO | None
    _proc: subprocess.Popen[bytes] | None
    _reports: int
    _reported: threading.Condition
    _init_ms: float | None
    _init_failed: bool
    _tail: collections.deque[str]
    _memory: MemoryWatch | None

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            start = 1
            while (glued := _EMULATOR_LINE.search(line, start)) is not None:  # `print(x, end="")`: own line
                if not self._emulators_own(line[glued.start():]):
                    start = glued.end()  # the function's own text (a forwarded log line): left whole
                    continue
                self._line(line[:glued.start()])
                line, start = line[glued.start():], 1
            self._line(line)

    def _emulators_own(self, rest: str) -> bool:
        # END/REPORT of another id (a function forwarding CloudWatch log events) is the function's text.
        return not rest.startswith(("END ", "REPORT ")) or rest.split()[2] == self.last_request_id

    def _line(self, line: str) -> None:
        if " (rapid) " in line:
            self._tail.append(line)
            found = _INIT_REPORT.search(line)
            if found and self._init_ms is None:
                self._init_ms = float(found[1])
            if "INIT RTDONE(status: " in line:
                self._init_failed = "INIT RTDONE(status: success)" not in line
            if "[PANIC]" in line:
                self._write(line)
            return
        if line.startswith("START RequestId: "):
            self.last_request_id = line.split()[2]
        if line.startswith("REPORT RequestId: "):
            self._write(self._report_line(line))
            with self._reported:
                self._reports += 1
                self._reported.notify_all()
            return
        self._write(line)

    def _report_line(self, line: str) -> str:
        fields = [f for f in line.split("\t") if f and not f.startswith("Init Duration:")]
        if self._init_ms is not None:
            fields.insert(1, f"Init Duration: {self._init_ms:.2f} ms")  # the real one, from INIT REPORT
            self._init_ms = None
        peak = peak_mb(self._proc.pid) if self._proc is not None else None  # the emulator writes MemorySize
        if peak is None and self._memory is not None:  # the runtime is gone (killed at its Timeout)
            peak = self._memory.peak_mb
        if peak is not None:
            fields = [f"Max Memory Used: {peak} MB" if f.startswith("Max Memory Used:") else f
                      for f in fields]
        return "\t".join(fields)

    def _write(self, line: str) -> None:
        stream = self.log_stream or sys.stderr
        with contextlib.suppress(ValueError, OSError):
            print(line, file=stream, flush=True)
