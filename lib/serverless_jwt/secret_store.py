"""Shared HS secrets kept in AWS Secrets Manager or SSM Parameter Store.

Fetched through Powertools Parameters on first use (boto3 is imported only then, by
:mod:`~serverless_jwt._secret_fetch`), cached for a max age, and re-fetched after it. During rotation
the stored value may hold several secrets: one per line, or a JSON list of strings; or, opted into
with ``previous=True``, a Secrets Manager secret's ``AWSPREVIOUS`` version is accepted beside
``AWSCURRENT`` (what a rotation Lambda leaves behind). An outage keeps serving the last good secrets
for a bounded time; with nothing loaded it is a :class:`~serverless_jwt.errors.KeysUnavailableError`
(HTTP 503).

A request waits for the store ``timeout_seconds`` at most (JWT_TIMEOUT_SECONDS): each read runs in a
thread of its own, one at a time (or a second, once it runs ten deadlines: taken for hung), and what a
read brings past the deadline serves the next request (unless a newer read answered first).
:mod:`~serverless_jwt._secret_values` reads values.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from serverless_jwt._config import MAX_TIMEOUT_SECONDS, check_at_most, secret_reference_problem
from serverless_jwt._env import PREVIOUS_STAGE
from serverless_jwt._extras import ensure
from serverless_jwt._nonblocking import WouldBlock, scheduler
from serverless_jwt._secret_fetch import EXTRAS, FEATURE, check_previous, fetch_secret, prepare
from serverless_jwt._secret_values import reason, split_secrets
from serverless_jwt.errors import ConfigurationError, KeysUnavailableError
from serverless_jwt.keys import SecretKeys, VerificationKey

_log = logging.getLogger("serverless_jwt.secret_store")

__all__ = ["StoredSecretKeys"]


_PAUSE_SECONDS = 10  # after a failed read, before the store is asked again
# A read running this many deadlines is taken for hung (a fetch without a timeout, a store trickling its
# answer, a read frozen with its Lambda environment): the next request starts another. Two at most hang.
_HUNG_DEADLINES, _MAX_HUNG = 10, 2
_Values = tuple[str | bytes, ...]  # the secrets of one read, in order


class StoredSecretKeys:
    """A key source for HS tokens whose secrets live in Secrets Manager or SSM.

    Parameters
    ----------
    reference:
        A Secrets Manager ARN, or ``ssm:<parameter name>`` (or an SSM parameter ARN).
    algorithms:
        The HS algorithms allowed.
    max_age_seconds:
        How long fetched secrets are used before fetching again (default 300, at most a day).
    max_stale_seconds:
        How long the last good secrets keep serving while the store cannot be reached (default 3600,
        at most a week).
    timeout_seconds:
        How long a request waits for a read of the store (default 3, as a JWKS fetch's deadline). A
        read that takes longer goes on in the background, for the next request: nothing loaded yet,
        this one is a 503 (``Retry-After: 1``); with secrets loaded, it is served the last good ones. A
        read running ten times as long is taken for hung: the next request reads again.
    previous:
        Also accept the secrets of the Secrets Manager secret's ``AWSPREVIOUS`` version, after those of
        ``AWSCURRENT``: tokens signed before a rotation stay valid until the next one. Off by default
        (it keeps a retired secret valid for a whole rotation period). A secret without a previous
        version yet is fine; a failed read of it keeps the previous secrets last read, and is logged.
    fetch:
        The fetch function (Powertools Parameters by default): ``fetch(reference)``, and with
        ``previous=True`` also ``fetch(reference, "AWSPREVIOUS")``.

    Raises
    ------
    ConfigurationError
        When ``reference`` names neither store; a max age or stale window that is negative, not a
        finite number, or beyond its bound; ``previous=True`` with an SSM parameter (it has no
        version stages: list both secrets in its value) or a ``fetch`` that takes no stage.
    MissingExtraError
        When the default fetch cannot work: Powertools or boto3 is not installed.
    """

    def __init__(
        self,
        reference: str,
        *,
        algorithms: Collection[str],
        allow_short_secret: bool = False,
        max_age_seconds: float = 300,
        max_stale_seconds: float = 3600,
        timeout_seconds: float = 3.0,
        previous: bool = False,
        fetch: Callable[..., str | bytes] = fetch_secret,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        problem = secret_reference_problem(reference)
        if problem is not None:
            raise ConfigurationError(problem)
        if type(previous) is not bool:
            raise ConfigurationError("previous must be True or False")
        for name, value, setting in (("max_age_seconds", max_age_seconds, "secret_max_age_seconds"),
                                     ("max_stale_seconds", max_stale_seconds, None)):
            # nan or inf: the secret never read again, or a retired one serving for good (a day, a week).
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigurationError(f"{name} must be a number >= 0")
            check_at_most(name, value, setting)
        if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) \
                or not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:  # nan, inf: no deadline at all
            raise ConfigurationError(f"timeout_seconds must be > 0 and at most {MAX_TIMEOUT_SECONDS:.0f}")
        if previous:
            check_previous(reference, fetch)
        if fetch is fetch_secret:
            # Found now, imported on first use: a missing extra fails at construction, not per request.
            ensure(EXTRAS, FEATURE, "aws_lambda_powertools", "boto3")
        self._reference = reference
        self._algorithms = frozenset(algorithms)
        self._allow_short = allow_short_secret
        self._max_age = max_age_seconds
        self._max_stale = max_stale_seconds
        self._fetch = fetch
        self._clock = clock
        self._timeout = float(timeout_seconds)
        self._lock = threading.Lock()
        # The read in flight: set when it ends, or when one given up for hung lands (waiters look again).
        self._reading: threading.Event | None = None
        # When it started (real time), how many reads started, how many given up for hung still run, and
        # which read (numbered from 1 as they start) brought the secrets kept: an older one's are dropped.
        self._read_started, self._reads, self._hung, self._landed = 0.0, 0, 0, 0
        self._keys: SecretKeys | None = None
        self._values: _Values = ()
        self._previous = previous
        self._previous_values: _Values = ()  # AWSPREVIOUS's, as last read
        self._previous_at = 0.0  # when they were read
        self._current_values: _Values = ()  # AWSCURRENT's, as last read
        self._loaded_at = self._retry_at = 0.0
        self.generation = 0

    def __repr__(self) -> str:
        return f"StoredSecretKeys(reference={self._reference!r})"

    def prefetch(self) -> None:
        self._current()

    def fresh_generation(self) -> int | None:
        # The secrets loaded are fresh: their generation, in one look (else prefetch() decides).
        fresh = self._keys is not None and self._clock() - self._loaded_at < self._max_age
        return self.generation if fresh else None

    def keys_for(self, header: Mapping[str, Any], *, refetch: bool = True) -> Sequence[VerificationKey]:
        return self._current().keys_for(header)

    def _current(self) -> SecretKeys:
        keys, now = self._keys, self._clock()
        if keys is not None and now - self._loaded_at < self._max_age:
            return keys
        stale = keys if keys is not None and now - self._loaded_at < self._max_age + self._max_stale else None
        if (schedule := scheduler()) is not None:
            # On an event loop (AsyncVerifier): the store is read in a worker thread, never here.
            if stale is not None:
                if now >= self._retry_at and self._may_start():
                    schedule(self._next_read(), self._read_in_this_thread)
                return stale
            if now < self._retry_at:
                raise self._paused(now)
            raise WouldBlock(self._next_read(), self._current, "keys", self._retry_after,
                             wait_seconds=self._timeout)
        read, number = self._join_or_start()
        if read is None:
            # Backing off after a failed read (at a cold start too: a quick 503, not every request waiting
            # on the store again; or the last good secrets, stale), or a read landed since we looked.
            return self._outcome()
        if number:
            if self._fetch is fetch_secret:
                # boto3's import and the client (a cold start): not the store's time. A failure: the read's.
                with contextlib.suppress(Exception):
                    prepare(self._reference)
            if not self._in_background(read, number):
                return self._outcome(no_thread=True)
        elif stale is not None:
            # Merely old: one request reads the store, the others serve what is cached meanwhile
            # instead of queueing behind a slow store (as the JWKS source does).
            return stale
        # Waited for within this request's deadline only: botocore's timeouts and retry take 8 s or more,
        # a store trickling its answer longer. Past the deadline, the read goes on for the next request.
        if not read.wait(self._timeout):
            if stale is not None:
                return stale
            raise KeysUnavailableError("The shared secret could not be loaded", retry_after_seconds=1)
        return self._outcome()

    def _join_or_start(self) -> tuple[threading.Event | None, int]:
        # The read in flight (anyone's: number 0), or a new one (its number).
        with self._lock:  # bookkeeping only: never held across a read
            if self._reading is not None:
                if not self._may_start():
                    return self._reading, 0
                self._hung += 1  # given up: what it brings counts only until the next read's answer
            elif (now := self._clock()) < self._retry_at or (
                    self._keys is not None and now - self._loaded_at < self._max_age):
                return None, 0  # paused after a failed read, or a read landed since the caller looked
            self._reading, self._read_started = threading.Event(), time.monotonic()
            self._reads += 1
            return self._reading, self._reads

    def _may_start(self) -> bool:
        # No read in flight, or one taken for hung with room for one more to hang.
        return self._reading is None or (self._hung < _MAX_HUNG and self._hung_read())

    def _next_read(self) -> tuple[StoredSecretKeys, int]:
        # The async verifier's single-flight key for a step: the read it joins, or the one it starts.
        return self, self._reads + self._may_start()

    def _hung_read(self) -> bool:
        # Real time, as the deadline's: it runs on while a Lambda environment is frozen.
        return time.monotonic() - self._read_started >= _HUNG_DEADLINES * self._timeout

    def _in_background(self, read: threading.Event, number: int) -> bool:
        thread = threading.Thread(target=self._read, args=(read, number), name="serverless-jwt-secret",
                                  daemon=True)
        try:
            thread.start()
        except RuntimeError:  # out of threads ("can't start new thread": a pids limit): not the store's fault
            with self._lock:
                if self._reading is read:
                    self._reading = None
                else:  # given up for hung meanwhile (building the client took that long): never ran
                    self._hung -= 1
            read.set()
            return False
        return True

    def _read_in_this_thread(self) -> None:
        # The async verifier's background refresh: its worker thread reads, nothing waits on it.
        read, number = self._join_or_start()
        if read is not None and number:
            self._read(read, number)

    def _read(self, read: threading.Event, number: int) -> None:
        failed = True
        try:
            self._load(number)
            failed = False
        except Exception as exc:  # KeysUnavailableError (logged by _load), or anything else: a failed read
            if not isinstance(exc, KeysUnavailableError):
                _log.warning("shared secret %s could not be loaded: %s", self._reference, type(exc).__name__)
        finally:
            with self._lock:
                if self._reading is not read:
                    self._hung -= 1  # given up for hung: another read decides
                else:
                    self._reading = None
                    if failed:
                        # A failed read pauses the store's reads. Timed from now, after the read: it may
                        # have outlasted a freeze of the Lambda environment.
                        self._retry_at = self._clock() + _PAUSE_SECONDS
            read.set()

    def _outcome(self, *, no_thread: bool = False) -> SecretKeys:
        # After a read (or none, paused): the secrets it brought, the last good ones within the stale
        # window, or a 503 saying when the store is read again.
        keys, now = self._keys, self._clock()
        if keys is not None and now - self._loaded_at < self._max_age + self._max_stale:
            return keys
        if no_thread:
            raise KeysUnavailableError("The shared secret could not be loaded", retry_after_seconds=1)
        raise self._paused(now)

    def _retry_after(self) -> int:
        # The async verifier's 503 when the read it waited for brought nothing: see _current and _paused.
        now = self._clock()
        if self._reading is not None or now >= self._retry_at:
            return 1
        return self._paused(now).retry_after_seconds

    def _paused(self, now: float) -> KeysUnavailableError:
        # Retry-After: the seconds left of the pause after a failed read, when the next read may happen.
        return KeysUnavailableError("The shared secret could not be loaded",
                                    retry_after_seconds=max(1, math.ceil(self._retry_at - now)))

    def _load(self, number: int) -> None:
        try:
            values = tuple(split_secrets(self._fetch(self._reference)))
        except Exception as exc:
            _log.warning("shared secret %s could not be loaded: %s", self._reference, reason(exc))
            raise KeysUnavailableError("The shared secret could not be loaded") from None
        # The secrets' age counts from their arrival, not from the call that asked: a background refresh
        # frozen mid-read with its Lambda environment and thawed hours later brings secrets read now,
        # which the time before the freeze would have made stale (or past the stale window: a 503).
        now = self._clock()
        if not values:
            raise KeysUnavailableError("The shared secret could not be loaded")
        previous: _Values = ()
        previous_at = 0.0
        if self._previous:
            previous, previous_at = self._read_previous(now, current=values)
        accepted = values + tuple(v for v in previous if v not in values)
        with self._lock:  # the keys and the values they were made of, as one
            keys, known = self._keys, self._values
        if accepted != known:
            try:
                keys = SecretKeys(list(accepted), algorithms=self._algorithms,
                                  allow_short_secret=self._allow_short)
            except ConfigurationError as exc:
                # The reason is ours ("at least 32 bytes for HS256 ..."), never the value. Nothing of
                # this read is kept: an unusable current value must never stand in for a previous one.
                _log.warning("shared secret %s is not usable: %s", self._reference, exc)
                raise KeysUnavailableError("The stored shared secret is not usable") from None
        with self._lock:
            if number < self._landed:
                return  # given up for hung, and a read started after it has answered: that is newer
            self._landed = number
            if accepted != self._values:  # keys: made of accepted (or a read since changed what is kept)
                self._keys, self._values = keys, accepted
                self.generation += 1
            if self._previous:
                self._current_values, self._previous_values, self._previous_at = values, previous, previous_at
            self._loaded_at = now
            if self._reading is not None:  # this read, or the one that replaced it: its waiters look again
                self._reading.set()

    def _read_previous(self, now: float, *, current: _Values) -> tuple[_Values, float]:
        # Best effort, after AWSCURRENT was read: the previous secret only extends a grace period, so its
        # failure never fails the load. Meanwhile what AWSPREVIOUS must hold is used: the last current
        # secrets if AWSCURRENT has just changed, else the last previous ones read, for max_stale_seconds.
        # The previous secrets and when they were read; _load keeps them only if the whole load works.
        try:
            values = tuple(split_secrets(self._fetch(self._reference, PREVIOUS_STAGE)))
        except Exception as exc:
            why = reason(exc)
            if why == "ResourceNotFoundException":  # no rotation yet: no previous version
                values = ()
            else:
                _log.warning("previous version of shared secret %s could not be loaded: %s",
                             self._reference, why)
                rotated_from = self._current_values
                if rotated_from and rotated_from != current:
                    return rotated_from, now
                if now - self._previous_at >= self._max_stale:
                    return (), self._previous_at  # a retired secret is never kept for good
                return self._previous_values, self._previous_at
        if values:
            try:  # an unusable retired value (too short, say) must not take the current one down
                SecretKeys(list(values), algorithms=self._algorithms, allow_short_secret=self._allow_short)
            except ConfigurationError:
                _log.warning("previous version of shared secret %s is not usable; ignored", self._reference)
                values = ()
        return values, now

