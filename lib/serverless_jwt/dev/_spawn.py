"""Start child processes that die with this one, even when it is killed with SIGKILL.

``start-api`` keeps one Runtime Interface Emulator per function; a ``kill -9`` of the CLI (a CI timeout,
an IDE's stop button) must not leave them running. Linux's ``PR_SET_PDEATHSIG`` has the kernel signal
the child when its parent dies, but "parent" means the *thread* that forked it, and emulators are also
(re)started from request threads that end. So every child is forked from one long-lived thread (a
one-worker executor, alive until the interpreter exits). No library covers this (``subprocess`` offers
only ``preexec_fn``; psutil watches, it does not arrange); elsewhere than Linux children start
normally, and ``close()``/atexit still stop them on any ordinary exit.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["popen"]

_PR_SET_PDEATHSIG = 1
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serverless-jwt-spawner")
_prctl: Any = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        _prctl = None


def popen(argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, **options)``, the child killed (SIGKILL) if this process dies first."""
    if _prctl is None:
        return subprocess.Popen(argv, **options)  # noqa: S603 - the caller's argv, never a shell
    parent = os.getpid()

    def die_with_parent() -> None:  # runs in the child between fork and exec
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, preexec_fn=die_with_parent, **options)  # noqa: S603

    return _SPAWNER.submit(start).result()
