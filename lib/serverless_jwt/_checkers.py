"""Signature checks: one closure per key and algorithm, made once, called once per request.

What PyJWT's algorithms do in ``verify()``, written here so that the padding and hash objects are made
once (immutable settings, safe to share between threads; PyJWT builds them on every call) and PyJWT is
not imported on the request path. PyJWT still turns each JWK into its key object (``_jwk.py``).

RSASSA-PKCS1-v1_5 (RS256/384/512) is checked the way RFC 8017 §8.2.2 describes it, encode and compare:
OpenSSL's public operation and its type-1 padding check (``recover_data_from_signature``, the same
``RSA_public_decrypt`` that ``verify`` runs), then the recovered ``DigestInfo || H`` compared whole with
the one expected for this hash, hashed by hashlib. It is the very comparison OpenSSL's ``RSA_verify``
makes (a fixed DigestInfo, NULL parameters present, nothing after the hash), so the verdicts are equal;
it skips the hash context cryptography builds on every ``verify`` call: about 1.7 µs less per RS256
token, 8% of the signature check itself (``benchmarks/``). That path takes ``bytes`` only (what the
verifier passes); any other signing input or signature type gets ``verify``'s own verdict, as the two
calls read buffers differently.
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

_PKCS1_DIGESTS: dict[str, tuple[Callable[[bytes], Any], bytes]] = {
    # RFC 8017 §9.2 note 1: the DER DigestInfo in front of each hash (AlgorithmIdentifier with NULL).
    "RS256": (hashlib.sha256, bytes.fromhex("3031300d060960864801650304020105000420")),
    "RS384": (hashlib.sha384, bytes.fromhex("3041300d060960864801650304020205000430")),
    "RS512": (hashlib.sha512, bytes.fromhex("3051300d060960864801650304020305000440")),
}
_PKCS1_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
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
    if alg in _PKCS1_DIGESTS:
        return _pkcs1_checker(alg, key)
    if alg in _PSS_HASHES:
        hash_alg = _PSS_HASHES[alg]()
        pad = padding.PSS(mgf=padding.MGF1(_PSS_HASHES[alg]()), salt_length=hash_alg.digest_size)
        verify_rsa, length = key.verify, (key.key_size + 7) // 8

        def check_rsa(signing_input: bytes, signature: bytes) -> bool:
            # RFC 8017 §8.1.2 step 1: exactly k octets. OpenSSL would take a PSS signature without its
            # leading zero bytes (a second token for one).
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


def _pkcs1_checker(alg: str, key: Any) -> Checker:
    new_hash, digest_info = _PKCS1_DIGESTS[alg]
    recover, pad, length = key.recover_data_from_signature, padding.PKCS1v15(), (key.key_size + 7) // 8
    verify_rsa, hash_alg, exact = key.verify, _PKCS1_HASHES[alg](), bytes

    def check_pkcs1(signing_input: bytes, signature: bytes) -> bool:
        # RFC 8017 §8.2.2: exactly k octets (step 1); s^e mod n with the 00 01 FF.. 00 frame checked by
        # OpenSSL (step 2, and 3's padding); what follows the frame must be this hash's encoding (step 4).
        # Both sides are public (signature, key, message), so a plain comparison leaks nothing.
        try:
            if len(signature) != length:
                return False
            if type(signing_input) is exact is type(signature):
                return bool(recover(signature, pad, None) == digest_info + new_hash(signing_input).digest())
            # Anything else (bytearray, memoryview, array ...) gets cryptography's own verdict:
            # recover_data_from_signature takes bytes only (a valid bytearray signature would fail), and
            # hashlib reads buffers verify refuses (array('I'), ctypes: a signature verify would not pass).
            verify_rsa(signature, signing_input, pad, hash_alg)
            return True
        except Exception:  # InvalidSignature, or a signature or input of the wrong type
            return False

    return check_pkcs1


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
