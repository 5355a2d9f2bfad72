"""The verified-token cache: token -> (key generation, its signed payload segment), bounded, FIFO.

What is stored is what the signature covered, not the claims dict handed to the caller: the payload
segment is already a slice of the token, so storing a missed token costs a tuple and one dict insert
(no copy of the claims), and nothing a caller or a custom check does to its claims can reach the
cache. A hit decodes the payload again (the parser's cost, without the signature check) and so hands
out a fresh dict every time; the verifier then re-checks every claim rule on it.

A small class of its own so several verifiers can share one budget.
"""

from __future__ import annotations

import threading

__all__ = ["VerifiedTokens"]


class VerifiedTokens(dict[str, tuple[int, bytes]]):
    """At most ``max_size`` verified tokens; the oldest entry goes first when it is full.

    Threads storing at the very moment it fills may each add one entry over the bound; the next
    store evicts back down.

    A dict (token -> ``(key generation, payload segment)``), so a look-up is one C call; only
    :meth:`put` is Python, and takes the lock only to evict.

    Examples
    --------
    >>> cache = VerifiedTokens(2)
    >>> cache.put("a.b.c", 1, b"b")
    >>> cache.get("a.b.c")
    (1, b'b')
    """

    __slots__ = ("_lock", "max_size")

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max_size
        self._lock = threading.Lock()

    def put(self, token: str, generation: int, payload_segment: bytes) -> None:
        """Remember a verified token (its key generation, and its payload segment as signed)."""
        if len(self) >= self.max_size:
            with self._lock:
                # FIFO eviction is enough: the cache only saves a signature check. Under the lock,
                # threads evicting at once each remove one entry and never the same one twice.
                while len(self) >= self.max_size:
                    del self[next(iter(self))]
        self[token] = (generation, payload_segment)
