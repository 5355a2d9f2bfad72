"""What the dev provider remembers between requests: logins in progress, codes, refresh tokens.

One lock guards every table; each lookup first drops what has expired. A code and a refresh token are
taken out as they are used, so each works once. The refresh tokens that one code led to, rotation after
rotation, are one family: a replayed code (RFC 6749 §4.1.2) or a replayed, already rotated refresh
token (RFC 9700 §4.14.2: someone holds a copy) revokes the whole family, the live token included.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Grant", "GrantStore", "Pending"]


@dataclass(frozen=True)
class Grant:
    """What a sign-in granted; a code or a refresh token stands for one."""

    client_id: str
    subject: str
    scopes: tuple[str, ...]
    roles: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)
    audience: str | tuple[str, ...] = ""
    redirect_uri: str = ""
    code_challenge: str = ""
    nonce: str | None = None
    auth_time: int = 0
    sid: str = ""
    expires_at: float = 0.0
    family: str = ""  # the refresh tokens descending from one code


@dataclass(frozen=True)
class Pending:
    """An authorization request that passed its checks and waits for the login page's answer."""

    client_id: str
    redirect_uri: str
    state: str | None
    nonce: str | None
    code_challenge: str
    scopes: tuple[str, ...]
    audience: str | tuple[str, ...]
    expires_at: float


_T = TypeVar("_T", Grant, Pending)
_MAX_PENDING = 10_000


class GrantStore:
    """Thread-safe tables of pending logins, codes and refresh tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._pending: dict[str, Pending] = {}
            self._codes: dict[str, Grant] = {}
            self._refresh: dict[str, Grant] = {}
            self._code_family: dict[str, tuple[str, float]] = {}  # code -> (family, until when)
            self._rotated: dict[str, tuple[str, float]] = {}  # used refresh token -> (family, until)

    @staticmethod
    def _expire(table: dict[str, _T]) -> None:
        now = time.time()
        for key in [k for k, v in table.items() if v.expires_at <= now]:
            del table[key]

    def add_pending(self, txn: str, pending: Pending) -> None:
        with self._lock:
            self._expire(self._pending)
            if len(self._pending) >= _MAX_PENDING:  # each GET /authorize adds one: bounded, oldest out
                del self._pending[next(iter(self._pending))]
            self._pending[txn] = pending

    def pending(self, txn: str) -> Pending | None:
        with self._lock:
            self._expire(self._pending)
            return self._pending.get(txn)

    def forget_pending(self, txn: str) -> None:
        with self._lock:
            self._pending.pop(txn, None)

    def add_code(self, code: str, grant: Grant) -> None:
        with self._lock:
            self._expire(self._codes)
            self._codes[code] = grant

    def take_code(self, code: str) -> Grant | None:
        """The code's grant, once; a second use revokes every refresh token the first one led to."""
        with self._lock:
            self._expire(self._codes)
            grant = self._codes.pop(code, None)
            if grant is None:
                family = self._code_family.pop(code, None)
                if family is not None:
                    self._revoke_family(family[0])
            return grant

    def add_refresh(self, token: str, grant: Grant, *, from_code: str | None) -> None:
        with self._lock:
            self._refresh[token] = grant
            if from_code:
                self._code_family[from_code] = (grant.family, grant.expires_at)

    def peek_refresh(self, token: str) -> Grant | None:
        """The refresh token's grant, left in place (to check the client before it is used up)."""
        with self._lock:
            self._expire(self._refresh)
            return self._refresh.get(token)

    def take_refresh(self, token: str) -> Grant | None:
        """The refresh token's grant, once; a rotated one presented again revokes its family."""
        with self._lock:
            self._expire(self._refresh)
            now = time.time()
            for table in (self._rotated, self._code_family):
                for key in [k for k, (_, until) in table.items() if until <= now]:
                    del table[key]
            grant = self._refresh.pop(token, None)
            if grant is not None:
                self._rotated[token] = (grant.family, grant.expires_at)
                return grant
            reused = self._rotated.pop(token, None)
            if reused is not None:
                self._revoke_family(reused[0])
            return None

    def _revoke_family(self, family: str) -> None:
        for token in [t for t, g in self._refresh.items() if g.family == family]:
            del self._refresh[token]

    def revoke_session(self, sid: str) -> None:
        with self._lock:
            for token in [t for t, g in self._refresh.items() if g.sid == sid]:
                del self._refresh[token]
