"""Which entries of a JWKS document become keys: each JWK by :func:`serverless_jwt._jwk.load_jwk`'s rules,
then the document's own: a ``kid`` published twice with different keys that fit one algorithm is neither,
the same key published twice is one, and different keys that fit no algorithm in common (an RSA and an EC
key, say) are both kept: the token's ``alg`` picks one.

:meth:`serverless_jwt.keys.KeySet.from_jwks` keeps what :func:`usable_keys` returns (and logs what it
skipped); ``keys.py`` re-exports :func:`usable_by_any_algorithm`: import it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from serverless_jwt._checkers import VerificationKey
from serverless_jwt._config import PUBLIC_KEY_ALGORITHMS
from serverless_jwt._jwk import load_jwk

__all__ = ["usable_by_any_algorithm", "usable_keys"]


def _material(key: VerificationKey) -> bytes:
    """The key itself, comparable: a secret's bytes, a public key's DER SubjectPublicKeyInfo."""
    if isinstance(key._key, bytes):
        return key._key
    return bytes(key._key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def _from_jwk(jwk: Any, allowed: frozenset[str]) -> VerificationKey | str:
    """A usable key, or the reason (a fixed token) this JWK is skipped."""
    loaded = load_jwk(jwk, allowed)
    if isinstance(loaded, str):
        return loaded
    kid, kty, key, algorithms = loaded
    return VerificationKey(kid=kid, kty=kty, algorithms=algorithms, _key=key)


def usable_by_any_algorithm(jwks: Mapping[str, Any]) -> bool:
    """Whether a ``{"keys": [...]}`` document holds a key some supported public-key algorithm may use.

    The same rules as :meth:`serverless_jwt.keys.KeySet.from_jwks` (weak, malformed, private, ``oct``,
    ``use=enc`` and ambiguous keys never count), with no allow-list narrowing them and nothing logged.

    Examples
    --------
    >>> usable_by_any_algorithm({"keys": []})
    False
    """
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    return isinstance(entries, list) and bool(usable_keys(entries, PUBLIC_KEY_ALGORITHMS)[0])


def _merge_copies(same_kid: list[VerificationKey]) -> list[VerificationKey]:
    """The distinct keys among entries of one kid: copies of one key (its kty and material) become one
    key with the union of their algorithms, in first-seen order."""
    groups: dict[tuple[str, bytes], list[VerificationKey]] = {}
    for key in same_kid:
        groups.setdefault((key.kty, _material(key)), []).append(key)
    return [copies[0] if len(copies) == 1 else VerificationKey(
                kid=copies[0].kid, kty=copies[0].kty, _key=copies[0]._key,
                algorithms=frozenset().union(*(k.algorithms for k in copies)))
            for copies in groups.values()]


def _share_an_algorithm(keys: list[VerificationKey]) -> bool:
    """Whether some algorithm fits two of these keys (then a token's alg cannot tell them apart)."""
    return sum(len(k.algorithms) for k in keys) != len(frozenset().union(*(k.algorithms for k in keys)))


def usable_keys(entries: list[Any], allowed: frozenset[str]
                ) -> tuple[list[VerificationKey], list[tuple[str | None, str]]]:
    """The usable keys of a JWKS's ``keys`` list, and (kid, reason) of each one left out."""
    usable: list[VerificationKey] = []
    skipped: list[tuple[str | None, str]] = []
    for jwk in entries:
        result = _from_jwk(jwk, allowed)
        if isinstance(result, str):
            kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
            kid = kid if isinstance(kid, str) else None
            skipped.append((kid, result))
        else:
            usable.append(result)
    by_kid: dict[str, list[VerificationKey]] = {}
    for key in usable:
        if key.kid is not None:
            by_kid.setdefault(key.kid, []).append(key)
    # A kid naming two keys that fit one algorithm is ambiguous: which one signs is the attacker's
    # choice, so neither. The same key published twice (e.g. once per algorithm) is one key. Keys that
    # share a kid but fit no algorithm in common (RFC 7517 §4.5's example: different kty, "equivalent
    # alternatives") are told apart by the token's alg, so each stays (KeySet.select).
    twice: set[str] = set()
    merged: dict[str, list[VerificationKey]] = {}
    for kid, same_kid in by_kid.items():
        if len(same_kid) < 2:
            continue
        distinct = _merge_copies(same_kid)
        if _share_an_algorithm(distinct):
            twice.add(kid)
            skipped.extend((kid, "duplicate_kid") for _ in same_kid)
        else:
            merged[kid] = distinct
    kept: list[VerificationKey] = []
    placed: set[str] = set()
    for key in usable:
        if key.kid in twice or key.kid in placed:
            continue
        if key.kid in merged:  # once, where its first copy stood
            placed.add(key.kid)
            kept.extend(merged[key.kid])
        else:
            kept.append(key)
    return kept, skipped
