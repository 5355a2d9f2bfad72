"""AsyncVerifier: ``await verify(token)`` for asyncio servers (FastAPI, Starlette, any ASGI app).

Same answers and the same key-cache guarantees as :meth:`Verifier.verify` (it *is* that code): one
key fetch at a time per issuer, stale keys served while the issuer is down, one total deadline per
fetch, ``KeysUnavailableError`` (503) when no key can be had. What changes is where waiting happens:

* a warm request (keys cached) is verified inline on the event loop: no thread hop;
* a cold one (no keys yet, an unknown ``kid`` the cool-down lets us refetch, a stored secret to load)
  waits for a fetch that runs in a worker thread, so the loop keeps serving other requests;
  concurrent cold requests await the same fetch (single flight per key source);
* stale keys are served at once while one background thread refreshes them.

Why not an async HTTP client (httpx, aiohttp): the key cache is shared with synchronous callers in the
same process and its fetch rules (deadline, size cap, no redirects) live in one place, ``_http.py``.
Running that one fetch in a thread keeps a single implementation and a single cache.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from serverless_jwt._nonblocking import _SCHEDULER, WouldBlock
from serverless_jwt.errors import ConfigurationError, KeysUnavailableError, UnknownKeyError

__all__ = ["AsyncVerifier"]

_INFLIGHT: dict[Hashable, concurrent.futures.Future[Any]] = {}
_INFLIGHT_LOCK = threading.Lock()


def _start(key: Hashable, step: Callable[[], object]) -> concurrent.futures.Future[Any]:
    return _flight(key, step)[0]


def _flight(key: Hashable, step: Callable[[], object]) -> tuple[concurrent.futures.Future[Any], bool]:
    # Single flight: whoever comes while a step for this key source runs shares its future (and is
    # told it did not start it: that step may be another verifier's, with a longer deadline).
    with _INFLIGHT_LOCK:
        future = _INFLIGHT.get(key)
        started = future is None or future.done()
        if started:
            future = _INFLIGHT[key] = _in_own_thread(step)
    assert future is not None
    if started:
        # Outside the lock: a step that already finished runs this callback here and now, and
        # _finish takes the same (non-reentrant) lock.
        future.add_done_callback(lambda done: _finish(key, done))
    return future, started


def _in_own_thread(step: Callable[[], object]) -> concurrent.futures.Future[Any]:
    # A thread per fetch, not a shared pool: single flight allows one per key source, and a pool's
    # queue would make a healthy issuer's fetch wait behind hung ones (each up to its deadline). Daemon:
    # a fetch is bounded by its own deadline, and never holds up the interpreter's exit.
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        # The step runs as a synchronous caller: a thread that inherits its starter's context (Python
        # 3.14's free-threaded default) would see the request's scheduler, hand the step back to it and
        # fetch nothing (a background refresh is started while that scheduler is set).
        _SCHEDULER.set(None)
        try:
            result = step()
        except BaseException as exc:  # handed to the awaiting request, as an executor would
            future.set_exception(exc)
        else:
            future.set_result(result)

    try:
        threading.Thread(target=run, name="serverless-jwt-keys", daemon=True).start()
    except RuntimeError:
        # Out of threads ("can't start new thread": a container's pids limit, Lambda's 1,024): no key
        # can be had now, as if the step had found none. The request awaiting it answers 503 (the next
        # one may try again at once), not a RuntimeError; a background refresh waits for a later request.
        future.set_exception(KeysUnavailableError(retry_after_seconds=1))
    return future


def _finish(key: Hashable, done: concurrent.futures.Future[Any]) -> None:
    with _INFLIGHT_LOCK:
        if _INFLIGHT.get(key) is done:
            del _INFLIGHT[key]


def _schedule(key: Hashable, step: Callable[[], object]) -> None:
    _start(key, step)


def _runs_inline(verifier: Any) -> bool:
    # Our verifiers reach the network only through key sources that honour the scheduler.
    from serverless_jwt.issuers import MultiIssuerVerifier
    from serverless_jwt.verifier import Verifier

    return type(verifier).verify in (Verifier.verify, MultiIssuerVerifier.verify)


class AsyncVerifier:
    """Awaitable verification with a :class:`~serverless_jwt.verifier.Verifier` (or any verifier).

    Parameters
    ----------
    verifier:
        A ``Verifier`` or ``MultiIssuerVerifier`` (verified on the loop, fetching in a worker thread),
        or any object with ``verify(token) -> claims`` (run in a worker thread every time, since its
        blocking points are unknown).

    Raises
    ------
    ConfigurationError
        When ``verifier`` has no ``verify`` method.

    Examples
    --------
    >>> import secrets
    >>> from serverless_jwt import Verifier
    >>> verifier = AsyncVerifier(Verifier(secrets=[secrets.token_bytes(32)]))
    >>> claims = await verifier.verify(token)  # doctest: +SKIP
    """

    __slots__ = ("_inline", "_verifier")

    def __init__(self, verifier: Any) -> None:
        if isinstance(verifier, AsyncVerifier):
            verifier = verifier.verifier
        if not callable(getattr(verifier, "verify", None)):
            raise ConfigurationError("verifier must have a verify(token) method")
        self._verifier = verifier
        self._inline = _runs_inline(verifier)

    @property
    def verifier(self) -> Any:
        """The wrapped synchronous verifier."""
        return self._verifier

    def __repr__(self) -> str:
        return f"AsyncVerifier({self._verifier!r})"

    async def prefetch(self) -> bool:
        """Load the keys now, off the event loop; whether it worked (never raises for an outage)."""
        prefetch = getattr(self._verifier, "prefetch", None)
        if prefetch is None:
            return True
        try:
            return bool(await asyncio.wrap_future(_in_own_thread(prefetch)))
        except KeysUnavailableError:  # no thread to fetch in (see _in_own_thread): nothing loaded
            return False

    async def verify(self, token: str) -> Mapping[str, Any]:
        """Verify ``token``; the claims, or one :class:`~serverless_jwt.errors.AuthError`.

        Raises
        ------
        InvalidTokenError, KeysUnavailableError
            As :meth:`Verifier.verify`.
        """
        verify = self._verifier.verify
        if not self._inline:
            return await _in_thread(verify, token)
        waited_for, refused = None, None
        for attempt in range(3):
            reset = _SCHEDULER.set(_schedule)
            try:
                return verify(token)  # type: ignore[no-any-return]
            except WouldBlock as blocked:
                pending = blocked
            finally:
                _SCHEDULER.reset(reset)
            if attempt and pending.kind == "keys":
                # The fetch this request waited for brought no keys: the issuer is down (503), unless
                # the token's own claims already fail (401), as on the synchronous path.
                self._check_unverified(token)
                if pending.retry_after is not None:
                    raise KeysUnavailableError(retry_after_seconds=pending.retry_after())
                raise KeysUnavailableError()
            if waited_for is not None and pending.kind == "kid":
                if refused is not None:
                    # The refetch could not even wait for the fetch in flight (another verifier's,
                    # with a longer deadline): a 503, as on the sync path; the kid may be on its way.
                    self._check_unverified(token)
                    raise KeysUnavailableError(retry_after_seconds=refused.retry_after_seconds)
                # The keys were fetched for this very request a moment ago (its cold start, or the
                # refetch for this kid, which a short cool-down would allow again at once): a refetch
                # would bring the same set and make it wait twice (the synchronous path decides the
                # same way).
                raise UnknownKeyError()
            waited_for = pending.kind
            flight, started = _flight(pending.key, pending.step)
            waiting = asyncio.wrap_future(flight)
            # A request cancelled meanwhile leaves this future behind: a step that then raises must
            # not be logged as "Future exception was never retrieved".
            waiting.add_done_callback(_retrieved)
            # asyncio.wait never cancels what it waits for: a cancelled request never cancels the fetch
            # other requests wait for. Its outcome (keys, or none) is read from the cache by the next
            # attempt. A step in flight that another request started (another verifier's, perhaps, with
            # a longer deadline) is waited for within this verifier's own, as a thread waits for the
            # fetch lock; past it, the answer is the thread's: 503, the kid may be on its way.
            await asyncio.wait((waiting,), timeout=None if started else pending.wait_seconds)
            outcome = waiting.exception() if waiting.done() and not waiting.cancelled() else None
            # A refetch that could not wait for the fetch in flight (its step's answer, or ours): above.
            refused = outcome if isinstance(outcome, KeysUnavailableError) else None
            if not waiting.done() and pending.kind == "kid" and pending.retry_after is not None:
                refused = KeysUnavailableError(retry_after_seconds=pending.retry_after())
        # Another fetch kept overtaking ours: finish with the synchronous rules, in a thread.
        return await _in_thread(verify, token)

    def _check_unverified(self, token: str) -> None:
        check = getattr(self._verifier, "_check_unverified", None)
        if callable(check):
            check(token)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _in_thread(function: Callable[[str], Mapping[str, Any]], token: str) -> Mapping[str, Any]:
    # The loop's default executor: a verifier of unknown cost must not starve the key fetches.
    loop = asyncio.get_running_loop()
    try:
        running = loop.run_in_executor(None, function, token)
    except RuntimeError:
        # Out of threads ("can't start new thread", as in _in_own_thread): nothing can verify now, a 503
        # to retry; not a 500. Only the hand-over is guarded: the verifier's own errors pass unchanged.
        raise KeysUnavailableError(retry_after_seconds=1) from None
    return await running
