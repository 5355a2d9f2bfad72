"""The JWKS cache state of a process: one shared record per (issuer, JWKS URI, clock).

Every :class:`~serverless_jwt.jwks.RemoteKeySource` for the same issuer, JWKS URI and clock reads and
writes one :class:`CacheEntry`, so a verifier built at import serves every warm invocation. This module
only holds the state; jwks.py decides when to fetch and what may be served (the cache policy), and
re-exports :func:`clear_shared_cache`: import it from there.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CacheEntry", "clear_shared_cache", "detach_shared_records", "shared_entry"]

CacheKey = tuple[str | None, str | None, Callable[[], float]]


class CacheEntry:
    """Shared state for one (issuer, JWKS URI, clock); fields are replaced, never mutated in place."""

    def __init__(self) -> None:
        self.fetch_lock = threading.Lock()
        self.jwks_uri: str | None = None  # discovered (or configured) JWKS URI
        self.rediscover = False  # read discovery again before the next fetch (the key set may have moved)
        self.discovery_failed = False  # that look-up failed: the next attempt goes to the known address first
        # (document, fetched_at, version) replaced as one tuple so readers never see a mix.
        self.state: tuple[Mapping[str, Any] | None, float, int] = (None, -math.inf, 0)
        self.fingerprint: str | None = None
        self.attempts = 0
        self.failures = 0
        self.retry_at = -math.inf
        self.hold_until = -math.inf  # a 429/503's Retry-After: no fetch before then, cold or not
        self.kid_refetch_at = -math.inf


_SHARED: dict[CacheKey, CacheEntry] = {}
_SHARED_LOCK = threading.Lock()
# Every record a source still holds, shared or no longer (after clear_shared_cache): those are emptied too.
_LIVE: weakref.WeakSet[CacheEntry] = weakref.WeakSet()


def shared_entry(key: CacheKey) -> CacheEntry:
    with _SHARED_LOCK:
        entry = _SHARED.get(key)
        if entry is None:
            entry = _SHARED[key] = CacheEntry()
            _LIVE.add(entry)
        return entry


def clear_shared_cache() -> None:
    """Forget every cached discovery document and JWKS (tests; a new process does this anyway).

    Sources built earlier (a handler module's verifier, built at import) hold their record: it is
    emptied in place too, so they fetch again on their next request instead of keeping the keys,
    back-off and unknown-``kid`` cool-down of a previous test.
    """
    with _SHARED_LOCK:
        entries = list(_LIVE)
        _SHARED.clear()
    for entry in entries:
        _forget(entry)


def detach_shared_records() -> None:
    """Sources built from now on get records of their own; those built before keep theirs as they are.

    The in-process runner after an invoke timed out: Lambda starts that function afresh, but the cut
    handler's thread goes on here, holding its record's fetch lock until its fetch ends. The function's
    next start must not wait for that fetch (nor share a record another function's warm verifier still
    serves from: those keep their keys).
    """
    with _SHARED_LOCK:
        _SHARED.clear()


def _forget(entry: CacheEntry) -> None:
    # A new generation (generations only grow): what verifiers derived from the old keys (verified
    # tokens, per-header plans) no longer counts, even while the next fetch fails.
    entry.state = (None, -math.inf, entry.state[2] + 1)
    entry.fingerprint = None
    entry.jwks_uri = None
    entry.rediscover = entry.discovery_failed = False
    entry.failures = 0
    entry.retry_at = entry.hold_until = entry.kid_refetch_at = -math.inf
