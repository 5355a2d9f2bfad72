"""The verified-token cache: token -> (key generation, its signed payload segment), bounded, FIFO.

What is stored is what the signature covered, not the claims dict handed to the caller: the payload
segment is already a slice of the token, so storing a missed token costs a tuple and one dict insert
(no copy of the claims), and nothing a caller or a custom check does to its claims can reach the
cache. A hit decodes the payload again (the parser's cost, without the signature check) and so hands
out a fresh dict every time; the verifier then re-checks every claim rule on it.

A small class of its own so several verifiers can share one budget. A full cache drops its oldest
thirty-second at once: dropping one entry per store (``del d[next(iter(d))]``) walks over the holes
that earlier evictions left at the dict's front on every store, which measured 350 ns per store against
140 ns for the batch (an ``OrderedDict``'s ``popitem(last=False)``: 205 ns, and slower stores below
the bound).
"""

from __future__ import annotations

import threading
from itertools import islice

__all__ = ["VerifiedTokens"]


class VerifiedTokens(dict[str, tuple[int, bytes]]):
    """At most ``max_size`` verified tokens; when it is full the oldest go first (1/32 of them at once).

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

    __slots__ = ("_batch", "_lock", "max_size")

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max_size
        self._batch = max(1, max_size >> 5)
        self._lock = threading.Lock()

    def put(self, token: str, generation: int, payload_segment: bytes) -> None:
        """Remember a verified token (its key generation, and its payload segment as signed)."""
        if len(self) >= self.max_size:
            with self._lock:
                # FIFO eviction is enough: the cache only saves a signature check. Under the lock,
                # threads evicting at once never remove the same entry twice; pop() also tolerates an
                # entry a shared budget (issuers.py) dropped meanwhile.
                if len(self) >= self.max_size:
                    for oldest in list(islice(self, self._batch + len(self) - self.max_size)):
                        self.pop(oldest, None)
        self[token] = (generation, payload_segment)
