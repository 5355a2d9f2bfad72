"""A JWKS fetch across a Lambda freeze: the function's process stopped (SIGSTOP) mid-fetch and thawed
(SIGCONT) past the fetch deadline, against a real loopback issuer, with real signed tokens.

The verifier runs in a child process driven over a pipe, one command a line: the whole process is
stopped, as Lambda freezes the whole execution environment between invocations.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import serverless_jwt
from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP/SIGCONT")

_TIMEOUT_SECONDS = 1.0
_FROZEN_SECONDS = 2.5  # past the deadline and the slack a paused fetch is recognised by (1 s)

# An asynchronous handler's verifier (a stale key set is refreshed in a background thread, the thread a
# freeze catches mid-fetch), answering one JSON line per command.
_CHILD = """
import asyncio, json, sys, threading
from serverless_jwt import AsyncVerifier, Verifier
from serverless_jwt.errors import AuthError

verifier = Verifier(issuer=sys.argv[1], audience=sys.argv[2], timeout_seconds=float(sys.argv[3]),
                    jwks_max_age_seconds=0.3, max_stale_seconds=3600, verified_cache_size=0)
front, loop = AsyncVerifier(verifier), asyncio.new_event_loop()
print("ready", flush=True)
for line in sys.stdin:
    command, _, token = line.strip().partition(" ")
    if command == "state":
        entry = verifier._keys._entry
        out = {"fetching": entry.fetch_lock.locked(), "failures": entry.failures,
               "fresh": verifier._keys.fresh_generation() is not None,
               "threads": [t.name for t in threading.enumerate() if t is not threading.main_thread()]}
    else:
        try:
            out = {"sub": loop.run_until_complete(front.verify(token))["sub"]}
        except AuthError as exc:
            out = {"status": exc.status}
    print(json.dumps(out), flush=True)
"""


class _Function:
    """The child process: ``ask`` sends one command and reads its answer."""

    def __init__(self, issuer: DevIssuer) -> None:
        lib = str(Path(serverless_jwt.__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (lib, os.environ.get("PYTHONPATH")))))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, issuer.issuer, issuer.audience, str(_TIMEOUT_SECONDS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self._line())
        return answer

    def settled(self) -> dict[str, Any]:
        """The state once no fetch runs and no fetch thread is left (or as it is after 10 s)."""
        deadline = time.monotonic() + 10
        while True:
            state = self.ask("state")
            if (not state["fetching"] and not state["threads"]) or time.monotonic() > deadline:
                return state
            time.sleep(0.02)


@pytest.fixture
def function(issuer: DevIssuer) -> Iterator[_Function]:
    child = _Function(issuer)
    try:
        yield child
    finally:
        os.kill(child.proc.pid, signal.SIGCONT)
        child.proc.kill()
        child.proc.wait()


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_refresh_frozen_mid_fetch_is_retried_at_thaw_not_counted_as_an_issuer_failure(
        issuer: DevIssuer, function: _Function) -> None:
    token = issuer.mint(sub="alice")
    assert function.ask(f"verify {token}") == {"sub": "alice"}  # the cold fetch
    time.sleep(0.4)  # the keys are now stale (max age 0.3 s), still servable
    issuer.fault, issuer.slow_seconds, issuer.fault_paths = "slow", 60, {JWKS_PATH}
    assert function.ask(f"verify {token}") == {"sub": "alice"}  # cached keys; a refresh starts behind
    _wait_for(lambda: issuer.requests[JWKS_PATH] == 2)  # the refresh is in flight: freeze now
    os.kill(function.proc.pid, signal.SIGSTOP)
    port = issuer.issuer.rsplit(":", 1)[1]
    # While frozen, the issuer restarts (the frozen fetch's peer is gone) and answers promptly again.
    issuer.stop()
    issuer.port, issuer.fault = int(port), None
    issuer.start()
    time.sleep(_FROZEN_SECONDS)
    os.kill(function.proc.pid, signal.SIGCONT)

    assert function.ask(f"verify {token}") == {"sub": "alice"}  # the cached keys answer at once
    state = function.settled()
    assert not state["fetching"]  # the fetch lock is free: nothing waits on the dead connection
    assert state["threads"] == []
    # The paused attempt was tried again at thaw and brought the keys: no failure counted (no back-off,
    # no "fetch failed" warning), the keys fresh again, one JWKS request more at the issuer.
    assert state["failures"] == 0
    assert state["fresh"]
    assert issuer.requests[JWKS_PATH] == 3


# A synchronous verifier whose request runs the fetch itself (a process stalled mid-request looks the
# same as a freeze: CPU starvation, a thread holding the GIL), beside a more patient verifier of the same
# issuer waiting on that fetch. "pair" starts both and answers once both have.
_SYNC_CHILD = """
import json, sys, threading, time
from serverless_jwt import Verifier
from serverless_jwt.errors import AuthError

fetcher = Verifier(issuer=sys.argv[1], audience=sys.argv[2], timeout_seconds=float(sys.argv[3]),
                   verified_cache_size=0)
waiter = Verifier(issuer=sys.argv[1], audience=sys.argv[2], timeout_seconds=60, verified_cache_size=0)
print("ready", flush=True)
for line in sys.stdin:
    command, _, token = line.strip().partition(" ")
    entry = fetcher._keys._entry
    if command == "state":
        print(json.dumps({"failures": entry.failures, "attempts": entry.attempts}), flush=True)
        continue
    answers = {}

    def run(name, verifier):
        try:
            answers[name] = verifier.verify(token)["sub"]
        except AuthError as exc:
            answers[name] = exc.status

    first = threading.Thread(target=run, args=("fetcher", fetcher))
    first.start()
    while not entry.fetch_lock.locked():
        time.sleep(0.001)
    second = threading.Thread(target=run, args=("waiter", waiter))
    second.start()
    first.join()
    second.join()
    print(json.dumps(answers), flush=True)
"""


def test_a_request_paused_through_its_own_fetch_tries_once_more_never_twice_and_its_waiter_never_fetches(
        issuer: DevIssuer) -> None:
    # The paused-fetch retry also runs inside a live request (that request can wait the pause plus one
    # more deadline: README). It is one retry: an attempt paused again is a failure, not a third fetch; a
    # request waiting on the fetch lock meanwhile answers the outcome (503) without a fetch of its own.
    issuer.fault, issuer.slow_seconds, issuer.fault_paths = "slow", 60, {JWKS_PATH}
    lib = str(Path(serverless_jwt.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (lib, os.environ.get("PYTHONPATH")))))
    proc = subprocess.Popen(
        [sys.executable, "-c", _SYNC_CHILD, issuer.issuer, issuer.audience, str(_TIMEOUT_SECONDS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.stdin.write(f"pair {issuer.mint(sub='alice')}\n")
        proc.stdin.flush()
        for requests in (1, 2):  # the first attempt, then its retry: each paused past its deadline
            _wait_for(lambda n=requests: issuer.requests[JWKS_PATH] == n)
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(_FROZEN_SECONDS)
            os.kill(proc.pid, signal.SIGCONT)
        assert json.loads(proc.stdout.readline()) == {"fetcher": 503, "waiter": 503}
        proc.stdin.write("state\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"failures": 1, "attempts": 1}
        assert issuer.requests[JWKS_PATH] == 2
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


def test_a_refresh_frozen_while_it_looks_the_key_set_up_again_finds_where_it_moved_at_thaw(
        issuer: DevIssuer, function: _Function) -> None:
    # The key set's address stopped answering, so the next attempt reads discovery again; a freeze
    # catches that look-up. The retry at thaw took the paused look-up for a failed one and went straight
    # back to the dead address: one more failure, the keys' new address not read (and again each time a
    # freeze catches the look-up: with background refreshes, nearly always).
    from serverless_jwt.dev.issuer import DISCOVERY_PATH

    with DevIssuer() as home:
        home.jwks = issuer.jwks  # type: ignore[method-assign]  # the issuer's keys, published elsewhere
        token = issuer.mint(sub="alice")
        assert function.ask(f"verify {token}") == {"sub": "alice"}  # the cold fetch, discovery included
        issuer.fault, issuer.slow_seconds, issuer.fault_paths = "slow", 60, {DISCOVERY_PATH, JWKS_PATH}
        time.sleep(0.4)  # stale (max age 0.3 s), still servable
        assert function.ask(f"verify {token}") == {"sub": "alice"}  # a refresh starts behind: it hangs
        _wait_for(lambda: function.ask("state")["failures"] == 1)  # it failed: discovery is read next
        deadline = time.monotonic() + 10
        while issuer.requests[DISCOVERY_PATH] < 2 and time.monotonic() < deadline:
            # Once the back-off after that failure is over, a request starts the next refresh, which
            # looks discovery up: the look-up hangs, freeze then.
            assert function.ask(f"verify {token}") == {"sub": "alice"}
            time.sleep(0.02)
        os.kill(function.proc.pid, signal.SIGSTOP)
        # While frozen, the key set moves: discovery names its new address, the old one answers 503.
        port = issuer.issuer.rsplit(":", 1)[1]
        issuer.stop()
        issuer.port, issuer.fault, issuer.fault_paths = int(port), "503", {JWKS_PATH}
        issuer.discovery_overrides["jwks_uri"] = home.jwks_uri
        issuer.start()
        time.sleep(_FROZEN_SECONDS)
        os.kill(function.proc.pid, signal.SIGCONT)

        state = function.settled()
        assert state["failures"] == 0, state  # the paused attempt was no failure: its retry found the keys
        assert state["fresh"]
        assert home.requests[JWKS_PATH] == 1  # at their new address
        assert issuer.requests[DISCOVERY_PATH] == 3
        assert function.ask(f"verify {token}") == {"sub": "alice"}
