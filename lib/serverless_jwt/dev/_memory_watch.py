"""``MemorySize`` enforced on the emulator's runtime, as Lambda's (and ``sam local``'s Docker) limit does.

Lambda runs a function in a cgroup of ``MemorySize``: a runtime that grows past it is killed
(``Runtime.ExitError``, "signal: killed"; the ``REPORT`` says ``Runtime.OutOfMemory``). ``sam local
invoke`` gives its container the same limit and then fails with "Container invocation failed due to
maximum memory usage". Without a container, :class:`MemoryWatch` samples the resident memory of the
emulator's child processes (the runtime) while an invocation runs, and kills them once it passes the
limit (pages they share counted once, as the cgroup counts them); the emulator then answers the
``Runtime.ExitError`` Lambda answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

__all__ = ["MemoryWatch", "peak_mb"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PERIOD_SECONDS = 0.01
_PEAK_EVERY = 10  # rounds between reads of the peak (dearer than the resident size): every 0.1 s


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError):
                found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = _children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += _children(child)
    return found


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _pss_bytes(pid: int) -> int:
    # The process's proportional share of its pages: a page shared by n processes counts 1/n in each, so
    # the sum over a tree counts it once, as Lambda's cgroup does. RSS counts it in every process: a
    # function that forks workers (multiprocessing) after loading its libraries would read as n times
    # its size. Dearer to read than statm: only read to confirm a sum of RSS past the limit.
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _rss_bytes(pid)  # a kernel without smaps_rollup (before 4.14): RSS, the upper bound


def peak_mb(pid: int) -> int | None:
    """The peak resident memory of the processes under ``pid`` (their ``VmHWM``), in MB rounded up.

    What Lambda's ``REPORT`` shows as ``Max Memory Used`` (the emulator writes the ``MemorySize`` there
    whatever was used); ``None`` where ``/proc`` does not tell.
    """
    total_kb = 0
    for child in _descendants(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return -(-total_kb // 1024) if total_kb else None


class MemoryWatch:
    """While entered, kill the processes under ``pid`` once their resident memory passes ``limit_mb``.

    ``exceeded`` tells afterwards whether it did, ``peak_mb`` the last peak it read (see
    :func:`peak_mb`). Where ``/proc`` cannot list a process's children,
    it watches nothing (``enforced`` is ``False``).

    Examples
    --------
    >>> with MemoryWatch(emulator_pid, 128) as watch:  # doctest: +SKIP
    ...     post_the_invocation()
    >>> watch.exceeded  # doctest: +SKIP
    False
    """

    def __init__(self, pid: int, limit_mb: int) -> None:
        self.pid = pid
        self.limit_bytes = limit_mb * 1024 * 1024
        self.exceeded = False
        # The last peak_mb() read while the runtime lived: the REPORT of an invocation cut at its Timeout
        # comes once the emulator has killed the runtime, whose own peak can then no longer be read.
        self.peak_mb: int | None = None
        self.enforced = Path(f"/proc/{pid}/task/{pid}/children").is_file()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MemoryWatch:
        if self.enforced:
            self._thread = threading.Thread(target=self._watch, daemon=True, name=f"memory-{self.pid}")
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        rounds = 0
        while not self._stop.wait(_PERIOD_SECONDS):
            pids = _descendants(self.pid)
            if rounds % _PEAK_EVERY == 0:
                self.peak_mb = peak_mb(self.pid) or self.peak_mb
            rounds += 1
            if sum(_rss_bytes(p) for p in pids) > self.limit_bytes \
                    and sum(_pss_bytes(p) for p in pids) > self.limit_bytes:
                self.exceeded = True  # set first: the answer may come as soon as the runtime dies
                for p in pids:
                    with contextlib.suppress(OSError):
                        os.kill(p, signal.SIGKILL)
                return
