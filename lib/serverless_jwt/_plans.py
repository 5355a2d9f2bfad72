"""Verifier plans: per header segment, the signature checks that apply (the key lookup done once per
header and key set, off the per-request path), and the key generation that says when to redo it.

:class:`KeyPlans` is a base class of :class:`~serverless_jwt.verifier.Verifier`: its methods are the
Verifier's own (no extra call on the request path). ``docs/architecture.md`` ("Verifier plans") and
``tests/test_verifier_plans.py`` describe the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from serverless_jwt import claims as _claims
from serverless_jwt import token as _token
from serverless_jwt._checkers import Checker
from serverless_jwt.errors import AlgorithmNotAllowedError
from serverless_jwt.keys import KeySource, VerificationKey

__all__ = ["KeyPlans", "Plan", "fresh_generation", "plan", "refresh"]

MAX_PLANS = 64
Plan = tuple[int, tuple[Checker, ...], tuple[VerificationKey, ...]]
"""Per header segment: (key generation, signature checks, the key of each check)."""


def fresh_generation(keys: KeySource) -> Callable[[], int | None]:
    """``keys.fresh_generation``: the generation when the keys are fresh, or None when a refresh may be
    due (:func:`refresh`). Our sources answer in one call; for another one, always None."""
    return getattr(keys, "fresh_generation", _due)


def _due() -> None:
    return None


def refresh(keys: KeySource) -> tuple[int, int]:
    """What keys_for would do for a known header (refresh stale keys, end the stale window): the key
    generations before and after. Raises KeysUnavailableError."""
    before = keys.generation
    keys.prefetch()
    return before, keys.generation


def plan(plans: dict[bytes, Plan], header_segment: bytes, header: Mapping[str, Any], alg: str,
         keys: KeySource, *, refetch: bool = True) -> Plan:
    """The signature checks for tokens with this header (whose alg and typ rules passed), stored in
    ``plans``: the key lookup, then the check of each candidate key for ``alg``.

    Tokens of one issuer and key share a header segment, so this runs once per header and key set, off
    the per-request path; a plan is dropped when the key set changes (its generation).
    ``refetch=False`` when the set changed during this call: an unknown ``kid`` is not fetched again.
    """
    generation = keys.generation
    candidates = keys.keys_for(header) if refetch else keys.keys_for(header, refetch=False)
    if keys.generation != generation:
        # This look-up fetched (a cold start, a refresh): read again from the set it brought, so the
        # plan (and the first cached token) is tagged with it, not rebuilt on the next request. Read
        # in this order a racing refresh can only make the tag older (a rebuild), never newer.
        generation = keys.generation
        candidates = keys.keys_for(header)
    usable = [(check, key) for key in candidates if (check := key.checkers.get(alg)) is not None]
    if not usable:
        # The alg must fit the key (kty, curve, the JWK's own alg): never verify across families.
        raise AlgorithmNotAllowedError()
    if len(plans) >= MAX_PLANS:
        plans.clear()
    made = plans[header_segment] = (generation, tuple(c for c, _ in usable), tuple(k for _, k in usable))
    return made


class KeyPlans:
    """The plan-keeping half of :class:`~serverless_jwt.verifier.Verifier` (which sets the settings)."""

    _algorithms: frozenset[str]
    _policy: _claims.ClaimsPolicy
    _keys: KeySource
    _plans: dict[bytes, Plan]
    _fresh_generation: Callable[[], int | None]  # set with _keys: see __setattr__

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "_keys":  # whenever the source is set: its fresh_generation, bound once
            object.__setattr__(self, "_fresh_generation", fresh_generation(value))

    def _check_header(self, header: Mapping[str, Any]) -> str:
        alg: str = header["alg"]
        if alg not in self._algorithms:
            raise AlgorithmNotAllowedError()
        _claims.check_type(header, self._policy)
        return alg

    def _plan(self, header_segment: bytes, checked: str | None, *, refetch: bool = True) -> Plan:
        """The signature checks for tokens with this header (see :func:`plan`); ``checked``
        is the alg when the caller has just applied the header rules."""
        header = _token.decode_header(header_segment)
        alg = checked if checked is not None else self._check_header(header)
        return plan(self._plans, header_segment, header, alg, self._keys, refetch=refetch)
