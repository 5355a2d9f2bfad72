"""One JWKS fetch attempt of a :class:`~serverless_jwt.jwks.RemoteKeySource`, and what its outcome writes
to the shared record: after a failure the back-off (1 s doubling to 60 s) and the issuer's
``Retry-After``; after a success the document, a new version when its keys changed, and this source's keys.

:class:`FetchAttempt` is RemoteKeySource's base class (its ``_fetch`` is the source's own method); jwks.py
decides when to call it, under the record's fetch lock. The download itself is ``_discovery.download``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from serverless_jwt._discovery import download
from serverless_jwt._http import FetchError
from serverless_jwt._jwks_state import CacheEntry
from serverless_jwt.keys import KeySet, usable_by_any_algorithm

__all__ = ["FetchAttempt"]

_log = logging.getLogger("serverless_jwt.jwks")  # jwks.py's logger: one name for the source's lines
_BACKOFF_FIRST_SECONDS = 1.0
_BACKOFF_MAX_SECONDS = 60.0
_BACKOFF_DOUBLINGS = 6  # 1 s doubled six times is past the 60 s cap
# An attempt that fails this long past its deadline did not run out of time: the process was paused
# during it (a Lambda execution environment is frozen between invocations, thawed seconds or hours later).
# A deadline overrun is otherwise milliseconds: the watchdog and every socket wait are bounded by it.
_PAUSED_SLACK_SECONDS = 1.0


class FetchAttempt:
    """The fetch of :class:`~serverless_jwt.jwks.RemoteKeySource` (set up by its ``__init__``)."""

    _entry: CacheEntry
    _issuer: str | None
    _jwks_uri: str | None
    _timeout: float
    _max_bytes: int
    _algorithms: Collection[str]
    _clock: Callable[[], float]
    _derive: Callable[[int, KeySet], KeySet]  # RemoteKeySource's: keep (and warn about) this source's keys

    def _fetch(self) -> None:
        """One attempt (discovery if needed, then JWKS); the caller holds the fetch lock."""
        entry = self._entry
        try:
            doc = self._download()
            keys = KeySet.from_jwks(doc, algorithms=self._algorithms)
            if not len(keys) and not usable_by_any_algorithm(doc):
                # A key set with nothing usable at all (empty, every key malformed or weak) is an issuer
                # glitch, not a rotation: keep what we have. One with keys for other algorithms than
                # ours is not a glitch: the record is shared with the verifiers those keys fit, which a
                # failure here would hold back (back-off) from the refreshes they need. It is stored,
                # and this source answers 503 from it (_usable) until the issuer publishes a key for us.
                raise FetchError("no_usable_keys")
        except FetchError as exc:
            # Discovery is read again before the next attempt: the key set may have moved (its old
            # address answering 404, say), and the discovered address is otherwise kept for good.
            entry.rediscover = entry.rediscover or self._jwks_uri is None
            entry.failures += 1
            # The exponent is capped before the float multiply: a long outage (a cold cache fetches on
            # every request) would otherwise pass 2**1023 and raise OverflowError instead of a 503.
            backoff = min(_BACKOFF_FIRST_SECONDS * 2 ** min(entry.failures - 1, _BACKOFF_DOUBLINGS),
                          _BACKOFF_MAX_SECONDS)
            now = self._clock()
            entry.retry_at = now + backoff
            wait = exc.retry_after
            if wait is None and exc.status == 429:
                # "Too many requests" without a time (Auth0 and Okta name theirs in other headers): a
                # fetch per request would prolong the limit, so our back-off stands in for one.
                wait = backoff
            if wait is not None:
                # The issuer said when to come back (capped: a minute, as our own back-off): honoured
                # even with nothing cached, where every request would otherwise try again.
                entry.hold_until = now + min(wait, _BACKOFF_MAX_SECONDS)
                entry.retry_at = max(entry.retry_at, entry.hold_until)
            if entry.failures & (entry.failures - 1) == 0:
                # The 1st, 2nd, 4th, 8th ... failure in a row: a cold cache retries on every request,
                # and an outage must not write a line per request.
                _log.warning("JWKS fetch failed for issuer %s: %s (%d in a row)",
                             self._issuer or self._jwks_uri, exc.reason, entry.failures)
        else:
            fingerprint = json.dumps(doc["keys"], sort_keys=True, separators=(",", ":"))
            _, _, version = entry.state
            if fingerprint != entry.fingerprint:
                version += 1
                entry.fingerprint = fingerprint
            entry.state = (doc, self._clock(), version)
            self._derive(version, keys)  # this source's keys, parsed once (and warned about once)
            entry.failures = 0
            entry.retry_at = entry.hold_until = -math.inf
        finally:
            entry.attempts += 1

    def _download(self) -> Mapping[str, Any]:
        started = time.monotonic()  # real time, as the deadline: the cache clock may be a test's
        discovery_failed = self._entry.discovery_failed
        try:
            return download(self._entry, issuer=self._issuer, jwks_uri=self._jwks_uri,
                            timeout_seconds=self._timeout, max_bytes=self._max_bytes)
        except FetchError:
            if time.monotonic() - started <= self._timeout + _PAUSED_SLACK_SECONDS:
                raise
        # Paused mid-fetch (a background refresh when Lambda froze the environment): its deadline ran out,
        # or its connection died, while nothing ran. That says nothing about the issuer: counted as a
        # failure it would back off the refresh, and a request waiting on this fetch (the keys past their
        # stale window after a long freeze) would answer 503 with the issuer up. One attempt more, now,
        # within a deadline of its own; still under the fetch lock, so waiters get its outcome. A look-up
        # of discovery the pause cut is no failed look-up either: taken for one, the retry would skip
        # discovery for the last known address, the one that stopped answering (why it was looked up).
        self._entry.discovery_failed = discovery_failed
        _log.info("JWKS fetch for issuer %s was paused past its deadline (a frozen Lambda environment?); "
                  "fetching again", self._issuer or self._jwks_uri)
        return download(self._entry, issuer=self._issuer, jwks_uri=self._jwks_uri,
                        timeout_seconds=self._timeout, max_bytes=self._max_bytes)
