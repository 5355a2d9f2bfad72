"""Remote keys: the cache policy around OIDC discovery and the JWKS fetch.

The download itself (discovery, then the key set, within one deadline) is
:mod:`serverless_jwt._discovery`. Cache defaults, all per (issuer, JWKS URI), shared by
every verifier of a warm Lambda container:

* keys are fresh for ``jwks_max_age_seconds`` (600) and refreshed on the next use after that;
* a failed refresh keeps serving the cached keys until they are ``jwks_max_age_seconds +
  max_stale_seconds`` (600 + 86400) old, retrying with exponential back-off (1 s doubling to 60 s);
* with no servable keys (a cold start while the issuer is down, or an outage past the stale window) each
  request tries again, one fetch at a time, and answers "keys unavailable" (503) until the issuer is back;
* a key set with no usable key at all (empty, every key malformed, weak or not for signatures) is a failed
  refresh: the cached keys keep serving. One with usable keys, none of them for this source's
  algorithms, is a successful fetch (the record is shared with the verifiers those keys fit): this
  source answers "keys unavailable" from it, logged once per key set, until the issuer publishes a key
  for it;
* a token with an unknown ``kid`` triggers at most one refetch per ``unknown_kid_cooldown_seconds`` (30);
* one thread fetches while the others wait for its result (single flight);
* a fetch the process was paused through past its deadline (a frozen Lambda environment) is tried once
  more at thaw: no failure, no back-off (``_jwks_fetch.py``).

The shared records this policy reads and writes live in :mod:`serverless_jwt._jwks_state`
(``clear_shared_cache`` is re-exported here); one fetch attempt and what its outcome writes there (back-off,
the issuer's ``Retry-After``, a new key-set version) in :mod:`serverless_jwt._jwks_fetch`.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from serverless_jwt._checkers import HMAC_ALGORITHMS
from serverless_jwt._config import MAX_SECONDS, check_at_most
from serverless_jwt._discovery import discovery_url
from serverless_jwt._http import MAX_TIMEOUT_SECONDS, url_problem
from serverless_jwt._jwks_fetch import FetchAttempt
from serverless_jwt._jwks_state import clear_shared_cache, shared_entry
from serverless_jwt._nonblocking import WouldBlock, scheduler
from serverless_jwt.errors import ConfigurationError, KeysUnavailableError, UnknownKeyError
from serverless_jwt.keys import KeySet, VerificationKey

__all__ = ["RemoteKeySource", "clear_shared_cache"]

_log = logging.getLogger("serverless_jwt.jwks")
_seconds = KeysUnavailableError.retry_after_for  # a wait as a 503's Retry-After


class RemoteKeySource(FetchAttempt):
    """Signing keys from an issuer's JWKS, found by OIDC discovery or given as ``jwks_uri``.

    Parameters
    ----------
    issuer:
        The issuer identifier. With no ``jwks_uri``, ``{issuer}/.well-known/openid-configuration``
        is read and its ``issuer`` must equal this value exactly.
    jwks_uri:
        The JWKS URL; skips discovery. ``https://`` (``http://`` only on loopback).
    algorithms:
        The verifier's allow-list (asymmetric algorithms).
    timeout_seconds:
        One total budget for discovery and JWKS together.
    max_response_bytes:
        Size cap of each response.
    jwks_max_age_seconds, max_stale_seconds, unknown_kid_cooldown_seconds:
        Cache policy (see the module docstring).
    clock:
        Monotonic seconds for all cache timing (inject a fake one in tests).

    Raises
    ------
    ConfigurationError
        Neither issuer nor jwks_uri, a URL that is not https (or loopback http), bad numbers, or no
        asymmetric algorithm allowed.

    Examples
    --------
    >>> source = RemoteKeySource(issuer="https://example.auth0.com/", jwks_uri=None,
    ...                          algorithms=["RS256"])
    >>> source.prefetch()  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        issuer: str | None,
        jwks_uri: str | None,
        algorithms: Collection[str],
        timeout_seconds: float = 3.0,
        max_response_bytes: int = 1 << 20,
        jwks_max_age_seconds: float = 600,
        max_stale_seconds: float = 86400,
        unknown_kid_cooldown_seconds: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if issuer is None and jwks_uri is None:
            raise ConfigurationError("RemoteKeySource needs an issuer or a jwks_uri")
        name, url = ("jwks_uri", jwks_uri) if jwks_uri is not None else ("issuer", discovery_url(str(issuer)))
        problem = url_problem(url)
        if problem is not None:  # led by the setting's name: from_env names the user's variable
            raise ConfigurationError(f"{name} {problem}")
        # One message per setting, led by its name (from_env names the user's variable); a number first.
        for name, value, bound in (("timeout_seconds", timeout_seconds, ">"),
                                   ("jwks_max_age_seconds", jwks_max_age_seconds, ">"),
                                   ("max_response_bytes", max_response_bytes, ">"),
                                   ("max_stale_seconds", max_stale_seconds, ">="),
                                   ("unknown_kid_cooldown_seconds", unknown_kid_cooldown_seconds, ">=")):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"{name} must be a number")
            if not (value > 0 if bound == ">" else value >= 0):
                raise ConfigurationError(f"{name} must be {bound} 0")
            if name in MAX_SECONDS:  # then at most its bound: inf never refreshes, never sees a new key
                check_at_most(name, value)
        if not timeout_seconds <= MAX_TIMEOUT_SECONDS:  # inf: an OverflowError per cold request
            raise ConfigurationError(f"timeout_seconds must be at most {MAX_TIMEOUT_SECONDS:.0f}")
        self._algorithms = frozenset(algorithms)
        if not self._algorithms - HMAC_ALGORITHMS.keys() - {"none"}:
            raise ConfigurationError("A JWKS needs an asymmetric algorithm in the allow-list")
        self._issuer = issuer
        self._jwks_uri = jwks_uri
        self._timeout = float(timeout_seconds)
        self._max_bytes = int(max_response_bytes)
        self._max_age = float(jwks_max_age_seconds)
        self._max_stale = float(max_stale_seconds)
        self._cooldown = float(unknown_kid_cooldown_seconds)
        self._clock = clock
        self._entry = shared_entry((issuer, jwks_uri, clock))
        self._derived: tuple[int, KeySet] = (0, KeySet([]))
        self._ready = -1  # a generation whose derived keys are not empty (-1: none yet)

    def __repr__(self) -> str:
        return f"RemoteKeySource(issuer={self._issuer!r}, jwks_uri={self._jwks_uri!r})"

    @property
    def generation(self) -> int:
        """Increments whenever a fetch brings a different key set."""
        return self._entry.state[2]

    def prefetch(self) -> None:
        """Fetch the keys now (cold start) unless fresh ones are cached.

        Raises
        ------
        KeysUnavailableError
            The keys could not be fetched and nothing usable is cached.
        """
        if self.fresh_generation() is None:
            self._keys()

    def fresh_generation(self) -> int | None:
        """The :attr:`generation` if the cached keys are fresh, derived and usable, else None (then
        :meth:`prefetch`): what every verification asks, answered in one look, without the full path."""
        _, fetched_at, version = self._entry.state
        return version if version == self._ready and self._clock() - fetched_at < self._max_age else None

    def keys_for(self, header: Mapping[str, Any], *, refetch: bool = True) -> Sequence[VerificationKey]:
        """The key for this header, refetching once per cool-down for an unknown ``kid`` (not with
        ``refetch=False``: the caller saw the set change during its call).

        Raises
        ------
        UnknownKeyError
            No key has the header's ``kid``, even after the refetch the cool-down allows.
        KeysUnavailableError
            No usable keys are cached and none could be fetched; or the ``kid`` is unknown while the
            last fetch failed (it may be the issuer's new key: a 503 to retry, not a 401 to discard).
        """
        seen = self._entry.attempts if refetch else -1
        key = self._keys().select(header)
        if key is None:
            # The issuer may have rotated: look again, but only as often as the cool-down allows, and
            # not when a fetch ended during this very call (ours, or one we waited for): a refetch now
            # would bring the same set, and make this request wait twice.
            if self._entry.attempts == seen:
                key = self._refetch_for_unknown_kid().select(header)
            else:  # that fetch may have landed after our read: look at what it brought
                key = self._usable(self._clock()).select(header)
            if key is None:
                if self._entry.failures:
                    raise self._unavailable(kid=True)
                raise UnknownKeyError()
        return (key,)

    # -- cache policy --------------------------------------------------------------------------

    def _fresh(self, now: float) -> bool:
        doc, fetched_at, _ = self._entry.state
        return doc is not None and now - fetched_at < self._max_age

    def _keys(self) -> KeySet:
        if not self._fresh(self._clock()):
            self._refresh()
        return self._usable(self._clock())

    def _servable(self, now: float) -> bool:
        """Whether cached keys may still be served (fresh, or stale within the bounded window)."""
        doc, fetched_at, _ = self._entry.state
        return doc is not None and now - fetched_at < self._max_age + self._max_stale

    def _refresh(self) -> None:
        entry = self._entry
        if (schedule := scheduler()) is not None:
            # On an event loop (AsyncVerifier): never fetch or wait here.
            now = self._clock()
            if not self._servable(now):
                if now < entry.hold_until:
                    return  # the issuer asked us to wait: a 503 now, without a thread hop
                raise WouldBlock(entry, self._refresh, "keys", self.retry_after_seconds,
                                 wait_seconds=self._timeout)
            if now >= entry.retry_at and not entry.fetch_lock.locked():
                schedule(entry, self._refresh)  # one refresh in the background; cached keys serve
            return
        seen = entry.attempts
        # With servable keys in hand (merely old), nobody queues behind a slow refresh: one thread
        # refreshes, the others keep serving what is cached. Without, we wait for the fetch in flight
        # within our own deadline: verifiers sharing this record may have longer ones.
        if not entry.fetch_lock.acquire(timeout=0 if self._servable(self._clock()) else self._timeout):
            return
        try:
            now = self._clock()
            # Single flight: whoever waited on the lock reads what the fetching thread brought.
            if entry.attempts != seen or self._fresh(now):
                return
            # With servable keys, a failing issuer is retried with back-off while those keys serve.
            # With none (a cold start, or past the stale window), every request tries again, still one
            # fetch at a time: there is nothing to serve meanwhile, and a recovered issuer must be used
            # at once.
            if (self._servable(now) and now < entry.retry_at) or now < entry.hold_until:
                return
            self._fetch()
        finally:
            entry.fetch_lock.release()

    def _refetch_for_unknown_kid(self, seen: int | None = None) -> KeySet:
        entry = self._entry
        if scheduler() is not None:
            # On an event loop: the refetch the cool-down allows runs in a worker thread first; so does
            # the wait for a fetch in flight (the kid may be in the set on its way), as a thread waits.
            now = self._clock()
            if entry.fetch_lock.locked() or (now - entry.kid_refetch_at >= self._cooldown
                                             and now >= entry.retry_at):
                # The fetches counted now: one that lands before the worker runs (the stale-keys
                # refresh this request just started) is what the kid waited for, not a reason for more.
                raise WouldBlock((entry, "kid"), functools.partial(self._refetch_for_unknown_kid,
                                                                   entry.attempts), "kid",
                                 functools.partial(self.retry_after_seconds, kid=True),
                                 wait_seconds=self._timeout)
            return self._usable(now)
        seen = entry.attempts if seen is None else seen
        if not entry.fetch_lock.acquire(timeout=self._timeout):  # as _refresh; the kid may be on its way
            raise self._unavailable(kid=True)
        try:
            now = self._clock()
            # Unknown kids cost at most one fetch per cool-down, however many such tokens arrive.
            if entry.attempts == seen and now - entry.kid_refetch_at >= self._cooldown \
                    and now >= entry.retry_at:
                entry.kid_refetch_at = now
                # A discovered key set is looked up again: the issuer may publish its new keys elsewhere.
                entry.rediscover = entry.rediscover or self._jwks_uri is None
                self._fetch()
                if entry.failures:
                    # It failed: the back-off paces the next try (the issuer may be back in a second
                    # with the new key), not the cool-down, which paces fetches of a set that answers.
                    entry.kid_refetch_at = -math.inf
        finally:
            entry.fetch_lock.release()
        return self._usable(self._clock())

    def _usable(self, now: float) -> KeySet:
        doc, fetched_at, version = self._entry.state  # one consistent snapshot
        # Stale keys are served only within the bounded window; after it, an outage is an outage.
        if doc is None or now - fetched_at >= self._max_age + self._max_stale:
            raise self._unavailable()
        keys = self._derived[1] if self._derived[0] == version else self._derive(
            version, KeySet.from_jwks(doc, algorithms=self._algorithms))
        if not len(keys):
            # The issuer's set fits other algorithms than ours (_jwks_fetch.py): nothing to verify with, and
            # nothing new before that set is due for a refresh (and the back-off allows one).
            entry = self._entry
            at = max(fetched_at + self._max_age, entry.retry_at, entry.hold_until)
            raise KeysUnavailableError(retry_after_seconds=_seconds(at - now))
        return keys

    def _derive(self, version: int, keys: KeySet) -> KeySet:
        """Keep ``keys`` as this source's share of key set ``version``; say so once when it is none."""
        if not len(keys) and self._derived[0] != version:
            # Once per key set and source: its 503s are a configuration matter (our allow-list, or the
            # issuer's new key type), which only this line explains. Issuer and algorithms, never a token.
            _log.warning("JWKS for issuer %s has no key for the algorithms %s; its tokens are refused "
                         "with 503 until it publishes one", self._issuer or self._jwks_uri,
                         ", ".join(sorted(self._algorithms)))
        self._derived = (version, keys)
        self._ready = version if len(keys) else -1
        return keys

    def _unavailable(self, *, kid: bool = False) -> KeysUnavailableError:
        return KeysUnavailableError(retry_after_seconds=self.retry_after_seconds(kid=kid))

    def retry_after_seconds(self, *, kid: bool = False) -> int:
        """A 503's ``Retry-After``: seconds until a key fetch may happen again (1 to 60).

        With nothing to serve, every request fetches again unless the issuer asked us to wait (its
        429/503 ``Retry-After``). With keys in hand, refreshes follow the back-off, and an unknown
        ``kid`` (``kid=True``) also waits for its refetch cool-down.
        """
        entry, now = self._entry, self._clock()
        if kid:
            at = max(entry.retry_at, entry.hold_until, entry.kid_refetch_at + self._cooldown)
        elif not self._servable(now):
            at = entry.hold_until
        else:
            at = max(entry.retry_at, entry.hold_until)
        return _seconds(at - now)
