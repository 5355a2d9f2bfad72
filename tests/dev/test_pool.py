"""Concurrent invocations of one function each get an execution environment, as Lambda scales out."""

from __future__ import annotations

import functools
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from serverless_jwt.dev._pool import RunnerPool
from serverless_jwt.dev.emulator import EmulatorRunner
from serverless_jwt.dev.environments import Environment
from serverless_jwt.dev.invocation import RuntimeFailure
from serverless_jwt.dev.template import Template

from .conftest import SAM_APP
from .conftest import alive as _alive


def _pool(env: Environment, limit: int) -> RunnerPool:
    make = functools.partial(EmulatorRunner, Template(SAM_APP).function("EchoFunction"), python=env.python,
                             log_stream=io.StringIO())
    return RunnerPool(make, limit=limit)


def _together(pool: RunnerPool, folder: Path, calls: int, expect: int) -> list[dict[str, Any]]:
    # Each call leaves its process id in `folder`, then waits (up to 2.5 s) until `expect` are there.
    event = {"rendezvous": str(folder), "expect": expect}
    with ThreadPoolExecutor(calls) as threads:
        return list(threads.map(lambda _: pool.invoke(dict(event)), range(calls)))


def test_requests_that_arrive_together_run_together_each_in_its_own_environment(
        sam_app_env: Environment, tmp_path: Path) -> None:
    with _pool(sam_app_env, limit=10) as pool:
        (tmp_path / "a").mkdir()
        results = _together(pool, tmp_path / "a", 3, expect=3)
        assert [r["seen"] for r in results] == [3, 3, 3]  # queued one behind another, the first sees 1
        assert len({r["pid"] for r in results}) == 3
        assert pool.size == 3
        # Warm environments are used again: one after another, nothing new starts.
        (tmp_path / "b").mkdir()
        again = [pool.invoke({"rendezvous": str(tmp_path / "b"), "expect": 1}) for _ in range(3)]
        assert {r["pid"] for r in again} <= {r["pid"] for r in results}
        assert pool.size == 3


def test_past_the_limit_a_request_waits_for_a_free_environment(
        sam_app_env: Environment, tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    with _pool(sam_app_env, limit=2) as pool:
        results = _together(pool, tmp_path / "c", 3, expect=2)
        assert pool.size == 2
        assert len({r["pid"] for r in results}) == 2  # the third ran in one of the two, after it


def test_close_stops_every_environment_and_the_pool_starts_again(
        sam_app_env: Environment, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    pool = _pool(sam_app_env, limit=3).start()
    try:
        first = _together(pool, tmp_path / "d", 2, expect=2)
        pool.close()
        assert pool.size == 1
        (tmp_path / "e").mkdir()
        after = pool.invoke({"rendezvous": str(tmp_path / "e"), "expect": 1})
        assert after["pid"] not in {r["pid"] for r in first}  # a fresh runtime
    finally:
        pool.close()
    assert not _alive(after["pid"])



class _Held:
    """A stand-in runtime whose invocation lasts until it is released (or closed)."""

    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.function = type("F", (), {"name": "Held"})()
        self.release = threading.Event()

    def start(self) -> _Held:
        return self

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        self.release.wait(10)
        return event

    def close(self) -> None:
        self.release.set()


def test_a_request_waiting_for_a_runtime_when_the_pool_closes_is_answered_not_run_after_it() -> None:
    _Held.made = 0
    pool = RunnerPool(_Held, limit=1)  # type: ignore[arg-type]
    outcomes: dict[str, Any] = {}

    def call(name: str) -> None:
        try:
            outcomes[name] = pool.invoke({"n": name})
        except Exception as exc:
            outcomes[name] = exc

    first = threading.Thread(target=call, args=("first",))
    first.start()
    while not pool._busy:  # the first holds the only runtime
        time.sleep(0.005)
    waiting = threading.Thread(target=call, args=("waiting",))
    waiting.start()
    while not pool._changed._waiters:  # type: ignore[attr-defined]  # the second waits for it
        time.sleep(0.005)
    pool.close()
    first.join(10)
    waiting.join(10)
    assert outcomes["first"] == {"n": "first"}
    assert isinstance(outcomes["waiting"], RuntimeFailure)
    assert _Held.made == 1  # nothing was started after the close
    assert pool.invoke({"n": "later"}) == {"n": "later"}  # and the pool serves again, with the first
    assert pool.size == 1
