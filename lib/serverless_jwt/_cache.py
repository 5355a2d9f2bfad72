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


class VerifiedTokens:
    """At most ``max_size`` verified tokens; the oldest entry goes first when it is full.

    Examples
    --------
    >>> cache = VerifiedTokens(2)
    >>> cache.put("a.b.c", 1, b"b")
    >>> cache.get("a.b.c")
    (1, b'b')
    """

    __slots__ = ("_entries", "_lock", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[int, bytes] | None:
        """``(key generation, payload segment)`` of a token verified earlier, else ``None``."""
        return self._entries.get(token)

    def put(self, token: str, generation: int, payload_segment: bytes) -> None:
        """Remember a verified token (its key generation, and its payload segment as signed)."""
        with self._lock:
            entries = self._entries
            if len(entries) >= self.max_size:
                # FIFO eviction is enough: the cache only saves a signature check.
                del entries[next(iter(entries))]
            entries[token] = (generation, payload_segment)

    def discard(self, token: str) -> None:
        """Forget one token (a hit that no longer verifies)."""
        self._entries.pop(token, None)

    def clear(self) -> None:
        """Forget every token."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
