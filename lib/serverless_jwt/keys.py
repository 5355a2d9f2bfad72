"""Verification keys: JWKS and PEM public keys, and HS shared secrets, prepared once.

PyJWT turns a JWK into a key object (see :mod:`serverless_jwt._jwk`, which also decides which keys
are usable and for which algorithms) and supplies the signature primitives. :class:`VerificationKey`
is defined beside its signature checks in ``_checkers.py``, and which entries of a JWKS document become
keys (``usable_by_any_algorithm`` too) in ``_jwks_filter.py``; both are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, Protocol

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from serverless_jwt._checkers import HMAC_ALGORITHMS, VerificationKey
from serverless_jwt._config import secret_problem
from serverless_jwt._jwk import (
    RSA_WEAKNESS_MESSAGES,
    public_key_algorithms,
    unloadable_rsa_pem_weakness,
    warn_skipped,
)
from serverless_jwt._jwks_filter import usable_by_any_algorithm, usable_keys
from serverless_jwt.errors import (
    ConfigurationError,
    KeysUnavailableError,
    MalformedTokenError,
    UnknownKeyError,
)

__all__ = ["KeySet", "KeySource", "SecretKeys", "StaticKeySource", "VerificationKey",
           "usable_by_any_algorithm"]

MIN_SECRET_BYTES = 32
_log = logging.getLogger("serverless_jwt.keys")


class KeySet:
    """An immutable set of verification keys, built once per JWKS (or PEM) and looked up by ``kid``.

    Examples
    --------
    >>> keys = KeySet.from_jwks(issuer.jwks(), algorithms=["RS256"])  # doctest: +SKIP
    >>> keys.select({"alg": "RS256", "kid": issuer.kid()}).kid        # doctest: +SKIP
    """

    __slots__ = ("_by_kid", "_keys", "_shared_kids", "skipped")

    def __init__(
        self, keys: Sequence[VerificationKey], skipped: Sequence[tuple[str | None, str]] = ()
    ) -> None:
        self._keys = tuple(keys)
        self._by_kid: dict[str, VerificationKey] = {}
        #: kid -> its keys, for a kid that several keys share (each fitting other algorithms: see
        #: _jwks_filter.usable_keys); the token's alg picks among them.
        self._shared_kids: dict[str, tuple[VerificationKey, ...]] = {}
        for key in self._keys:
            if key.kid is None:
                continue
            if key.kid in self._by_kid:
                self._shared_kids[key.kid] = (*self._shared_kids.get(key.kid, (self._by_kid[key.kid],)), key)
            else:
                self._by_kid[key.kid] = key
        #: (kid, reason) of each JWK left out, for logs and tests; reasons are fixed tokens.
        self.skipped = tuple(skipped)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any], *, algorithms: Collection[str]) -> KeySet:
        """Keep the usable verification keys of a JWKS document.

        Parameters
        ----------
        jwks:
            A ``{"keys": [...]}`` document.
        algorithms:
            The verifier's allow-list; each key's algorithms are intersected with it.

        Raises
        ------
        KeysUnavailableError
            When the document is not ``{"keys": [...]}``. Unusable keys are skipped, not errors.
        """
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(entries, list):
            raise KeysUnavailableError()
        kept, skipped = usable_keys(entries, frozenset(algorithms))
        # The issuer publishes breakable keys, or private ones: its other keys still serve, these never.
        warn_skipped(_log, skipped)
        return cls(kept, skipped)

    @classmethod
    def from_pem(cls, pem: str | bytes, *, algorithms: Collection[str], kid: str | None = None) -> KeySet:
        """One static public key from a PEM ``PUBLIC KEY`` block or an X.509 ``CERTIFICATE``.

        Raises
        ------
        ConfigurationError
            Not a public key or certificate (private keys are refused), a weak or invalid RSA key (under
            2048 bits, e < 3, an even e or e >= n, a factorable modulus, ROCA), a small-order Ed25519
            key, or no algorithm of the allow-list fits the key.
        """
        data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
        if b"PRIVATE KEY" in data:
            raise ConfigurationError("Give the public key, not the private key")
        try:
            if b"BEGIN CERTIFICATE" in data:
                from cryptography import x509  # only here: few users pass a certificate

                key: Any = x509.load_pem_x509_certificate(data).public_key()
            else:
                key = load_pem_public_key(data)
        except Exception:
            # cryptography from 50 refuses some weak or invalid RSA keys outright (e < 3, an even e, e >= n):
            # name the weakness, not the format (42 to 49 load them; public_key_algorithms refuses them).
            weakness = unloadable_rsa_pem_weakness(data)
            if weakness is not None:
                raise ConfigurationError(RSA_WEAKNESS_MESSAGES[weakness]) from None
            raise ConfigurationError("public_key is not a PEM public key or certificate") from None
        kty, fitting = public_key_algorithms(key)
        usable = fitting & frozenset(algorithms)
        if not usable:
            raise ConfigurationError("No allowed algorithm fits the configured public key")
        return cls([VerificationKey(kid=kid, kty=kty, algorithms=usable, _key=key)])

    def select(self, header: Mapping[str, Any]) -> VerificationKey | None:
        """The key for this token header, or ``None`` when no key has its ``kid``.

        Raises
        ------
        MalformedTokenError
            The header's ``kid`` is present but not a string.
        UnknownKeyError
            The header has no ``kid`` and the set holds other than exactly one key.
        """
        kid = header.get("kid")
        if kid is None:
            if "kid" in header:
                raise MalformedTokenError()
            if len(self._keys) == 1:
                return self._keys[0]
            # Without a kid, picking among several keys would be a guess; OpenID Connect Core §10.1:
            # "If there are multiple keys in the referenced JWK Set document, a kid value MUST be provided".
            raise UnknownKeyError()
        if not isinstance(kid, str):
            raise MalformedTokenError()
        key = self._by_kid.get(kid)
        if self._shared_kids and kid in self._shared_kids:
            # One kid, keys of different types (RFC 7517 §4.5): the one that fits the token's alg.
            alg = header.get("alg")
            if isinstance(alg, str):
                key = next((k for k in self._shared_kids[kid] if alg in k.algorithms), key)
        if key is None and len(self._keys) == 1 and self._keys[0].kid is None:
            return self._keys[0]  # a single anonymous key (a static PEM) serves any kid
        return key

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[VerificationKey]:
        return iter(self._keys)

    def __repr__(self) -> str:
        return f"KeySet(kids={[k.kid for k in self._keys]!r})"


class KeySource(Protocol):
    """Where the verifier gets candidate keys for a token header."""

    @property
    def generation(self) -> int:
        """Changes whenever the usable key set changes (verified-token caches key on it)."""
        ...

    def keys_for(self, header: Mapping[str, Any], *, refetch: bool = True) -> Sequence[VerificationKey]:
        """Candidate keys; raises UnknownKeyError or KeysUnavailableError. ``refetch=False``: the
        caller has just seen the set change, so an unknown ``kid`` is not fetched again."""
        ...

    def prefetch(self) -> None:
        """Load keys now; raises KeysUnavailableError."""
        ...

    # Optional, for speed: ``fresh_generation() -> int | None``, the generation when no refresh is due
    # (None: the verifier calls prefetch(), then reads generation). Our sources all have it.


class StaticKeySource:
    """A :class:`KeySource` over a fixed :class:`KeySet` (inline JWKS or PEM); never does I/O.

    Examples
    --------
    >>> source = StaticKeySource(KeySet.from_pem(pem, algorithms=["RS256"]))  # doctest: +SKIP
    """

    generation = 0

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self._empty = not len(keys)  # a KeySet never changes

    def keys_for(self, header: Mapping[str, Any], *, refetch: bool = True) -> Sequence[VerificationKey]:
        if self._empty:
            raise KeysUnavailableError()
        key = self.keys.select(header)
        if key is None:
            raise UnknownKeyError()
        return (key,)

    def prefetch(self) -> None:
        if self._empty:
            raise KeysUnavailableError()

    def fresh_generation(self) -> int | None:
        return None if self._empty else 0

    def __repr__(self) -> str:
        return f"StaticKeySource({self.keys!r})"


class SecretKeys:
    """HS256/384/512 shared secrets; several at once so a secret can be rotated without downtime.

    Parameters
    ----------
    secrets:
        One or more secrets; ``str`` values are encoded as UTF-8.
    algorithms:
        The allow-list; only its HS algorithms are used (at least one is required).
    allow_short_secret:
        Accept secrets shorter than the hash output (RFC 7518 §3.2: 32 bytes for HS256, 48 for HS384,
        64 for HS512; only for legacy systems: short secrets can be brute-forced).

    Raises
    ------
    ConfigurationError
        No secret, an empty or short secret, or no HS algorithm allowed.

    Examples
    --------
    >>> keys = SecretKeys(["new-secret-" * 3, "old-secret-" * 3], algorithms=["HS256"])
    >>> len(keys.keys_for({"alg": "HS256"}))
    2
    """

    generation = 0

    def __init__(
        self,
        secrets: Sequence[str | bytes],
        *,
        algorithms: Collection[str],
        allow_short_secret: bool = False,
    ) -> None:
        if isinstance(secrets, (str, bytes)):
            secrets = [secrets]
        hs = frozenset(algorithms) & HMAC_ALGORITHMS.keys()
        if not hs:
            raise ConfigurationError("Shared secrets need an HS256, HS384 or HS512 algorithm")
        if not secrets:
            raise ConfigurationError("At least one secret is required")
        keys = []
        for secret in secrets:
            if not isinstance(secret, (str, bytes)):
                raise ConfigurationError("Secrets must be str or bytes")
            problem = secret_problem(secret, hs, allow_short_secret=allow_short_secret)
            if problem is not None:
                raise ConfigurationError(problem)
            raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
            keys.append(VerificationKey(kid=None, kty="oct", algorithms=hs, _key=raw))
        self._keys = tuple(keys)

    def keys_for(self, header: Mapping[str, Any], *, refetch: bool = True) -> Sequence[VerificationKey]:
        return self._keys  # every configured secret: rotation means the token's may be any of them

    def prefetch(self) -> None:
        return None

    def fresh_generation(self) -> int | None:
        return 0

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"SecretKeys(count={len(self._keys)})"  # never the secrets themselves
