"""The verified-token cache: token -> the key generation it verified under, bounded, FIFO.

Nothing else is stored, not even the claims: storing a missed token is one dict insert of a small int
(measured: the earlier ``(generation, payload segment copy)`` tuple made the store show on a miss,
0.035x the raw RS256 verify against 0.015x now), and nothing a caller or a custom check does to its
claims can reach the cache. A hit reads the payload segment again from the token string itself (the
very string that verified, since it is the key), decodes it (the parser's cost, without the signature
check) and so hands out a fresh dict every time; the verifier then re-checks every claim rule on it.

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


class VerifiedTokens(dict[str, int]):
    """At most ``max_size`` verified tokens; when it is full the oldest go first (1/32 of them at once).

    Threads storing at the very moment it fills may each add one entry over the bound; the next
    store evicts back down.

    A dict (token -> key generation), so a look-up is one C call; only :meth:`put` is Python, and
    takes the lock only to evict.

    Examples
    --------
    >>> cache = VerifiedTokens(2)
    >>> cache.put("a.b.c", 1)
    >>> cache.get("a.b.c")
    1
    """

    __slots__ = ("_batch", "_lock", "max_size")

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max_size
        self._batch = max(1, max_size >> 5)
        self._lock = threading.Lock()

    def put(self, token: str, generation: int) -> None:
        """Remember a verified token and the key generation it verified under."""
        if len(self) >= self.max_size:
            with self._lock:
                # FIFO eviction is enough: the cache only saves a signature check. Under the lock,
                # threads evicting at once never remove the same entry twice; pop() also tolerates an
                # entry a shared budget (issuers.py) dropped meanwhile.
                if len(self) >= self.max_size:
                    for oldest in self._oldest():
                        self.pop(oldest, None)
        self[token] = generation

    def _oldest(self) -> list[str]:
        # Stores take no lock: one landing between the walk's start and its end (a thread switch)
        # makes the dict iterator raise; the walk is then taken again (it is a handful of entries).
        while True:
            try:
                return list(islice(self, self._batch + len(self) - self.max_size))
            except RuntimeError:
                continue
