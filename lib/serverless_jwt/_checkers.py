"""Signature checks: one closure per key and algorithm, made once, called once per request.

What PyJWT's algorithms do in ``verify()``, written here so that the padding and hash objects are made
once (immutable settings, safe to share between threads; PyJWT builds them on every call) and PyJWT is
not imported on the request path. PyJWT still turns each JWK into its key object (``_jwk.py``).
:class:`VerificationKey` (re-exported by ``keys.py``, import it from there) holds one per algorithm.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = ["HMAC_ALGORITHMS", "Checker", "VerificationKey", "checker_for"]

HMAC_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}

Checker = Callable[[bytes, bytes], bool]
"""``check(signing_input, signature) -> bool`` for one key and one algorithm; never raises."""

_RSA_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512,
}
_PSS_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "PS256": hashes.SHA256, "PS384": hashes.SHA384, "PS512": hashes.SHA512,
}
_EC_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "ES256": hashes.SHA256, "ES256K": hashes.SHA256, "ES384": hashes.SHA384, "ES512": hashes.SHA512,
}


def checker_for(alg: str, key: Any) -> Checker:
    # Built once per key and algorithm, so a request pays one call into the primitive.
    if alg in HMAC_ALGORITHMS:
        digest = HMAC_ALGORITHMS[alg]().name  # "sha256": hmac.digest's one-shot C path takes the name

        def check_hmac(signing_input: bytes, signature: bytes) -> bool:
            try:
                return hmac.compare_digest(hmac.digest(key, signing_input, digest), signature)
            except Exception:  # a signature that is not bytes
                return False

        return check_hmac
    if alg in _RSA_HASHES or alg in _PSS_HASHES:
        if alg in _RSA_HASHES:
            pad: padding.AsymmetricPadding = padding.PKCS1v15()
            hash_alg = _RSA_HASHES[alg]()
        else:
            hash_alg = _PSS_HASHES[alg]()
            pad = padding.PSS(mgf=padding.MGF1(_PSS_HASHES[alg]()), salt_length=hash_alg.digest_size)
        verify_rsa, length = key.verify, (key.key_size + 7) // 8

        def check_rsa(signing_input: bytes, signature: bytes) -> bool:
            # RFC 8017 §8.1.2 / §8.2.2 step 1: exactly k octets. OpenSSL checks that for PKCS#1 v1.5 only;
            # for PSS it would take a signature without its leading zero bytes (a second token for one).
            try:
                if len(signature) != length:
                    return False
                verify_rsa(signature, signing_input, pad, hash_alg)
            except Exception:  # InvalidSignature, or a signature of the wrong type or length
                return False
            return True

        return check_rsa
    if alg in _EC_HASHES:
        size = (key.curve.key_size + 7) // 8
        verify_ec, ecdsa = key.verify, ec.ECDSA(_EC_HASHES[alg]())

        def check_ec(signing_input: bytes, signature: bytes) -> bool:
            # JWS carries r || s, each exactly the curve's size (RFC 7518 §3.4); OpenSSL wants DER.
            try:
                if len(signature) != 2 * size:
                    return False
                der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                           int.from_bytes(signature[size:], "big"))
                verify_ec(der, signing_input, ecdsa)
            except Exception:
                return False
            return True

        return check_ec
    # EdDSA / Ed25519 / Ed448: the key fixed the curve already.
    verify_ed = key.verify

    def check_ed(signing_input: bytes, signature: bytes) -> bool:
        try:
            verify_ed(signature, signing_input)
        except Exception:
            return False
        return True

    return check_ed


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One key, prepared once, and the algorithms it may verify.

    ``algorithms`` is already the agreement of the key type, its curve, the JWK's own ``alg`` and
    the verifier's allow-list; :meth:`verify` refuses anything outside it. ``checkers`` holds one
    ready-made signature check per algorithm (the request path's way in).
    """

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    _key: Any = field(repr=False, compare=False)
    checkers: Mapping[str, Checker] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkers", {alg: checker_for(alg, self._key) for alg in self.algorithms})

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is valid for ``signing_input`` under ``alg``; never raises.

        Examples
        --------
        >>> key.verify("RS256", b"header.payload", signature)  # doctest: +SKIP
        True
        """
        check = self.checkers.get(alg) if isinstance(alg, str) else None
        return check is not None and check(signing_input, signature)
