"""Lambda's scale-out for one function: requests that arrive together run together.

Lambda runs one invocation at a time in an execution environment and, when a request arrives while
every environment of the function is busy, starts another one (a cold start). ``sam local start-api``
likewise gives each request its own container. :class:`RunnerPool` does the same with emulator
runners: the most recently used idle one (warm), else a new one, up to :data:`MAX_CONCURRENCY` per
function, beyond which a request waits for one to free up. Without it, requests to one function queued
behind each other: behind a provider that hangs, the tenth waited ten key-fetch deadlines, and a
function that calls its own API through the local gateway waited on itself forever.

Written here: the emulator is one process per environment, and nothing else manages a set of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from serverless_jwt.dev.emulator import EmulatorRunner
from serverless_jwt.dev.invocation import RuntimeFailure

__all__ = ["MAX_CONCURRENCY", "RunnerPool"]

MAX_CONCURRENCY = 10  # per function: environments (each an emulator and a runtime process) at once


class RunnerPool:
    """Execution environments of one function, started as concurrent requests need them.

    Parameters
    ----------
    make:
        Makes one :class:`~serverless_jwt.dev.emulator.EmulatorRunner` for the function.
    limit:
        At most this many at once (default :data:`MAX_CONCURRENCY`).
    """

    mode = "emulator"

    def __init__(self, make: Callable[[], EmulatorRunner], *, limit: int = MAX_CONCURRENCY) -> None:
        self._make = make
        self._limit = max(1, limit)
        self._first = make()
        self._all: list[EmulatorRunner] = [self._first]
        self._idle: list[EmulatorRunner] = [self._first]
        self._busy: list[EmulatorRunner] = []
        self._closes = 0  # a request waiting across a close() is answered, not run after it
        self._changed = threading.Condition()

    @property
    def function(self) -> Any:
        return self._first.function

    @property
    def environment(self) -> dict[str, str]:
        return self._first.environment

    @property
    def size(self) -> int:
        """How many environments exist now (busy or idle)."""
        with self._changed:
            return len(self._all)

    def start(self) -> RunnerPool:
        """Start the first environment's emulator (the others start when a request needs them)."""
        self._first.start()
        return self

    load = start

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        """As :meth:`EmulatorRunner.invoke`, in an idle environment or a new one."""
        runner = self._checkout()
        try:
            return runner.invoke(event, request_id=request_id)
        finally:
            with self._changed:
                self._busy.remove(runner)
                if runner in self._all and runner not in self._idle:  # close() may have reset the pool
                    self._idle.append(runner)
                    self._changed.notify()

    def _checkout(self) -> EmulatorRunner:
        with self._changed:
            closes = self._closes
            while True:
                if self._closes != closes:
                    raise RuntimeFailure(f"{self._first.function.name}: its runtimes were stopped")
                if self._idle:
                    runner = self._idle.pop()  # the most recently used: warm, as Lambda prefers
                elif len(self._all) < self._limit:
                    runner = self._make()
                    self._all.append(runner)
                else:
                    self._changed.wait()
                    continue
                self._busy.append(runner)
                return runner

    def close(self) -> None:
        """Stop every environment; the pool can start again (with one) on the next invocation."""
        with self._changed:
            runners, self._all = self._all, [self._first]
            # The first comes back to the idle list when its invocation in flight (if any) ends.
            self._idle = [] if self._first in self._busy else [self._first]
            self._closes += 1
            self._changed.notify_all()
        for runner in runners:
            runner.close()

    def __enter__(self) -> RunnerPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
