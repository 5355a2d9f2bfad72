"""The seam that lets the async verifier run the synchronous one on an event loop without blocking it.

``async_verifier.AsyncVerifier`` calls ``Verifier.verify`` inline with a *scheduler* set in a context
variable. Key sources (``jwks.RemoteKeySource``, ``secret_store.StoredSecretKeys``) look at it only
where they would otherwise wait on the network or on another thread's fetch:

* with servable keys (fresh or stale within the window) they hand the refresh to the scheduler and
  serve what is cached, as the synchronous path lets other threads do;
* with nothing servable (a cold start) they raise :class:`WouldBlock`, naming the blocking step, and
  the async verifier runs that step in a worker thread (one per key source at a time, shared by every
  waiting coroutine) before verifying again.

Synchronous callers never set the variable, so their path is the one they always had.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Hashable
from typing import Literal

__all__ = ["Scheduler", "WouldBlock", "scheduler"]

Scheduler = Callable[[Hashable, Callable[[], object]], None]
"""``schedule(key, step)``: run ``step`` in the background, at most one per ``key`` at a time."""

_SCHEDULER: contextvars.ContextVar[Scheduler | None] = contextvars.ContextVar(
    "serverless_jwt_scheduler", default=None
)


class WouldBlock(BaseException):
    """Raised instead of waiting: ``step`` (a key fetch) must run off the event loop first.

    A ``BaseException`` so no ``except Exception`` on the way (a claim check, a user's key source)
    can take it for a verification failure.
    """

    def __init__(self, key: Hashable, step: Callable[[], object], kind: Literal["keys", "kid"],
                 retry_after: Callable[[], int] | None = None, *, wait_seconds: float | None = None) -> None:
        super().__init__(kind)
        self.key = key
        self.step = step
        self.kind = kind
        self.retry_after = retry_after  # the 503's Retry-After if the step brings no keys (default 30)
        # How long this caller may wait for a step already in flight for ``key`` (another verifier's,
        # with its own deadline), as a thread waits for the fetch lock; None: until it ends.
        self.wait_seconds = wait_seconds


def scheduler() -> Scheduler | None:
    """The scheduler of the async verifier running this call, or ``None`` for a synchronous caller."""
    return _SCHEDULER.get()
