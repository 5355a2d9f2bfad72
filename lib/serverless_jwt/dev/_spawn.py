"""Start child processes that die with this one, even when it is killed with SIGKILL.

``start-api`` keeps one Runtime Interface Emulator per function; a ``kill -9`` of the CLI (a CI timeout,
an IDE's stop button) must not leave them running. Linux's ``PR_SET_PDEATHSIG`` has the kernel signal
the child when its parent dies, but "parent" means the *thread* that forked it, and emulators are also
(re)started from request threads that end. So every child is forked from one long-lived daemon thread
(not an executor's worker: those are stopped at interpreter shutdown, while other threads may still
start emulators; CPython 3.12.0 to 3.12.2 refuse any new thread or ``preexec_fn`` from the moment the
main thread returns, python/cpython#113964, so there such a late start fails). No library covers
this (``subprocess`` offers only ``preexec_fn``; psutil watches, it does not arrange); elsewhere than
Linux children start normally, and ``close()``/atexit still stop them on any ordinary exit.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["popen"]

_PR_SET_PDEATHSIG = 1
_Proc = subprocess.Popen[bytes]
_requests: queue.SimpleQueue[tuple[Callable[[], _Proc], Future[_Proc]]] = queue.SimpleQueue()
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()
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

    done: Future[subprocess.Popen[bytes]] = Future()
    _requests.put((start, done))
    _ensure_spawner()
    return done.result()


def _ensure_spawner() -> None:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_spawn_forever, name="serverless-jwt-spawner", daemon=True)
            _spawner.start()


def _spawn_forever() -> None:
    while True:
        start, done = _requests.get()
        try:
            done.set_result(start())
        except BaseException as exc:
            done.set_exception(exc)
