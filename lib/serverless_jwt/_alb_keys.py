"""The ALB's signing keys: one PEM per ``kid`` from the regional key endpoint, cached for good.

:class:`AlbKeys` is :class:`~serverless_jwt.alb.AlbVerifier`'s base class (its ``_key`` is the
verifier's own method). One fetch per kid at a time (the others wait for it); a kid the endpoint refuses
is remembered for the cool-down, an outage pauses every fetch for it (longer if its Retry-After asks, up to
a minute); fetches for unknown kids are budgeted per cool-down window, the last one kept for the kid asked
for most. ``alb.py`` re-exports :func:`default_key_url`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from serverless_jwt._http import FetchError, get_bytes
from serverless_jwt.errors import AuthError, ConfigurationError, KeysUnavailableError, UnknownKeyError
from serverless_jwt.keys import KeySet, VerificationKey

__all__ = ["AlbKeys", "default_key_url"]

_MAX_CACHED_KEYS = 64
_MAX_ASKED = 1024  # unknown kids counted per window (forged ones arrive once each)
_MAX_HOLD_SECONDS = 60.0  # the longest Retry-After honoured (as the JWKS source's)


def default_key_url(region: str) -> str:
    if region.startswith("us-gov-"):
        # GovCloud serves the ALB keys from S3, not from public-keys.auth.elb (ALB user guide).
        return f"https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}/{{kid}}"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://public-keys.auth.elb.{region}.{suffix}/{{kid}}"


_seconds = KeysUnavailableError.retry_after_for  # a wait as a 503's Retry-After (as the JWKS source's)


class _Flight:
    """One kid's key fetch in progress: requests for the same kid wait for it instead of fetching."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: tuple[type[AuthError], int | None] | None = None  # how it failed, for the waiters


def _within(now: float, until: float, length: float) -> bool:
    """Whether a wait of ``length`` ending at ``until`` is on: never longer than its length, however far
    back the wall clock is stepped (NTP) meanwhile."""
    return until - length <= now < until


class AlbKeys:
    """Key lookup by kid for :class:`~serverless_jwt.alb.AlbVerifier` (which sets the settings)."""

    _template: str
    _timeout: float
    _cooldown: float
    _clock: Callable[[], float]

    def _start_key_cache(self, max_unknown_kid_fetches: int) -> None:
        self._keys: dict[str, VerificationKey] = {}
        self._missing: dict[str, float] = {}  # kid -> until when the key endpoint said "no such key"
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}  # kid -> its fetch in progress (one per kid)
        self._paused = (0.0, 0.0)  # an outage's pause: (until when, how long), one tuple read at once
        self._max_fetches = max_unknown_kid_fetches
        self._window_end = -math.inf  # the current cool-down window of unknown-kid fetches
        self._fetches = 0             # fetches made in it
        self._asked: dict[str, int] = {}  # unknown kid -> requests for it in this window
        self._most_asked = 0

    def _key(self, kid: str) -> VerificationKey:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:  # bookkeeping only: never held across a fetch
            key = self._keys.get(kid)
            if key is not None:
                return key
            flight = self._flights.get(kid)
            if flight is None:
                now = self._clock()
                if _within(now, self._missing.get(kid, -math.inf), self._cooldown):
                    raise UnknownKeyError()
                until, length = self._paused
                if _within(now, until, length):
                    raise KeysUnavailableError(retry_after_seconds=_seconds(until - now))
                self._admit_fetch(kid, now)
                flight = self._flights[kid] = _Flight()
                fetching = True
            else:
                fetching = False
        if fetching:
            try:
                return self._fetch(kid, now)
            except AuthError as exc:
                flight.error = type(exc), getattr(exc, "retry_after_seconds", None)
                raise
            finally:
                with self._lock:
                    del self._flights[kid]
                flight.done.set()
        # This kid's fetch is on its way: its answer is ours. Each kid has its own (the fetch budget
        # bounds how many), so a slow fetch of a forged kid never queues a real user behind it; the
        # wait ends with that fetch, within its deadline.
        if not flight.done.wait(self._timeout):
            raise KeysUnavailableError(retry_after_seconds=_seconds(0))
        key = self._keys.get(kid)
        if key is not None:
            return key
        kind, retry_after = flight.error or (KeysUnavailableError, None)
        if kind is UnknownKeyError:
            raise UnknownKeyError()
        raise KeysUnavailableError(retry_after_seconds=retry_after if retry_after is not None else 1)

    def _fetch(self, kid: str, now: float) -> VerificationKey:
        """One key fetch, outside the lock; what it learns is written under it."""
        try:
            pem = get_bytes(self._template.replace("{kid}", kid), timeout_seconds=self._timeout,
                            max_bytes=16384)
            selected = KeySet.from_pem(pem, algorithms=["ES256"], kid=kid).select({"kid": kid})
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429):
                # The endpoint refused this kid (403/404 "no such key", any other client error): a
                # forged kid, not an outage. Remember it for this kid only, so nobody can pause key
                # fetching for real users with random kids. Timeouts, 429 and 5xx are outages.
                with self._lock:
                    if len(self._missing) >= _MAX_CACHED_KEYS:
                        self._missing.clear()
                    self._missing[kid] = now + self._cooldown
                raise UnknownKeyError() from None
            # An outage pauses fetching: retries cannot turn us into a request amplifier. A 429 or 503
            # that says when to come back (Retry-After) is honoured as the JWKS source honours it: at
            # least a second, at most a minute, never shorter than the cool-down.
            pause = self._cooldown
            if exc.retry_after is not None:
                pause = max(pause, min(max(exc.retry_after, 1.0), _MAX_HOLD_SECONDS))
            self._paused = (now + pause, pause)
            raise KeysUnavailableError(retry_after_seconds=_seconds(pause)) from None
        except ConfigurationError:
            self._paused = (now + self._cooldown, self._cooldown)
            raise KeysUnavailableError(retry_after_seconds=_seconds(self._cooldown)) from None
        if selected is None:
            raise UnknownKeyError()
        with self._lock:
            if len(self._keys) >= _MAX_CACHED_KEYS:
                del self._keys[next(iter(self._keys))]
            self._keys[kid] = selected  # a kid's key never changes: cached for the container's life
            self._asked.pop(kid, None)
        return selected

    def _admit_fetch(self, kid: str, now: float) -> None:
        """Count a fetch for an unknown kid against the window's budget; UnknownKeyError beyond it."""
        if not _within(now, self._window_end, self._cooldown):
            self._window_end, self._fetches, self._most_asked = now + self._cooldown, 0, 0
            self._asked.clear()
        asked = self._asked.get(kid, 0) + 1
        if asked == 1 and len(self._asked) >= _MAX_ASKED:
            # Forget kids asked for once (the forged kind); repeated ones keep their count.
            self._asked = {k: n for k, n in self._asked.items() if n > 1}
            if len(self._asked) >= _MAX_ASKED:
                raise UnknownKeyError()
        self._asked[kid] = asked
        self._most_asked = max(self._most_asked, asked)
        # The last fetch is kept for the most wanted kid (asked for twice or more); none after it.
        if self._fetches >= self._max_fetches - 1 and (
                self._fetches >= self._max_fetches or asked < 2 or asked < self._most_asked):
            raise UnknownKeyError()
        self._fetches += 1
