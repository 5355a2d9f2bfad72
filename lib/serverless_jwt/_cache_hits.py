"""A Verifier's decisions without key work: admitting a token again from the verified-token cache, and
refusing on unverified claims when no key can be had (503).

:class:`CacheHits` is a base class of :class:`~serverless_jwt.verifier.Verifier`: its methods are the
Verifier's own (no extra call on the request path), kept here beside ``_cache.py``, whose
``VerifiedTokens`` remembers what verified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from serverless_jwt import _custom_checks as _custom
from serverless_jwt import _plans
from serverless_jwt import claims as _claims
from serverless_jwt import token as _token
from serverless_jwt._cache import VerifiedTokens
from serverless_jwt.errors import KeysUnavailableError
from serverless_jwt.keys import KeySource

__all__ = ["CacheHits"]

Hit = tuple[dict[str, Any] | None, int | None]  # a cache hit's claims, or None and ``since``


class CacheHits:
    """The cache-hit path and the outage refusal of :class:`~serverless_jwt.verifier.Verifier`."""

    _cache: VerifiedTokens
    _keys: KeySource
    _fresh_generation: Callable[[], int | None]  # set with _keys: see _plans.KeyPlans.__setattr__
    _policy: _claims.ClaimsPolicy
    _checks: tuple[Any, ...]
    _max_token_bytes: int
    _clock: Callable[[], float]

    def _cached(self, token: str, now: float) -> Hit:
        hit = self._cache.get(token) if type(token) is str else None
        return (None, None) if hit is None else self._from_cache(token, hit, now)

    def _from_cache(self, token: str, generation: int, now: float) -> Hit:
        # Keep the key set current even when traffic is all cache hits: a refresh that drops the
        # signing key (or an outage past the stale window) must end the cached admissions too.
        current, since = self._fresh_generation(), None
        if current is None:
            try:
                since, current = _plans.refresh(self._keys)  # a refresh on the hit's way is this call's
            except KeysUnavailableError:
                self._check_unverified(token)  # a 401 first if the claims fail, as on the uncached path
                raise
        if generation != current:
            return None, since
        # The signed payload again, from the very string that verified: a fresh dict for this caller.
        start = token.index(".") + 1
        claims = _token.decode_payload(token[start:token.index(".", start)].encode("ascii"))
        # A cached token is re-checked for time and every other claim rule on every hit.
        _claims.check_claims(claims, self._policy, now)
        if self._checks:
            _custom.run_claim_checks(self._checks, claims)
        return claims, None

    def _check_unverified(self, token: str) -> None:
        """When no key can be had (503): refuse a token whose own claims fail already (401: expired,
        another audience...), so its client gets a new token instead of retrying until the issuer is
        back. Only a refusal is read from unverified claims, never an admission."""
        claims = _token.decode(token, max_bytes=self._max_token_bytes)[1]
        self._refuse_unverified(claims, self._clock())

    def _refuse_unverified(self, claims: dict[str, Any], now: float) -> None:
        # The claim rules, and a preset's rules among its claim checks (its aud may live there).
        _claims.check_claims(claims, self._policy, now)
        rules = _custom.claim_rules(self._checks)
        if rules:
            _custom.run_claim_checks(rules, claims)
