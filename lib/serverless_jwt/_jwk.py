"""JWK and PEM public keys -> key objects, and which algorithms each may verify.

``_jwk_keys`` turns a JWK into a key object; which keys are usable, and for which algorithms, is decided
here. Nothing here verifies a signature (see :mod:`serverless_jwt.keys`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from serverless_jwt._jwk_keys import ec_public_key, okp_public_key, rsa_numbers
from serverless_jwt.errors import ConfigurationError

__all__ = ["MIN_RSA_BITS", "PRIVATE_KEY_REASONS", "RSA_ALGORITHMS", "RSA_WEAKNESS_MESSAGES",
           "SMALL_EXPONENT_MESSAGE", "WEAK_KEY_REASONS", "load_jwk", "public_key_algorithms",
           "roca_vulnerable", "unloadable_rsa_pem_weakness", "warn_skipped"]

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_CURVE_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
OKP_CURVES = frozenset({"Ed25519", "Ed448"})
MIN_RSA_BITS = 2048
SMALL_EXPONENT_MESSAGE = ("The RSA public key's exponent is below 3, so anyone could sign for it; "
                          "generate a new key pair")
#: Why an RSA public key (a PEM or a certificate's) is refused, by the weakness _rsa_numbers_weakness names.
RSA_WEAKNESS_MESSAGES = {
    "rsa_too_small": "RSA public keys must have at least 2048 bits",
    "rsa_small_exponent": SMALL_EXPONENT_MESSAGE,
    "rsa_factorable": "The RSA public key's modulus has a small or repeated prime factor, so anyone could "
                      "sign for it; generate a new key pair",
    "rsa_roca": "The RSA public key has the ROCA weakness (CVE-2017-15361); generate a new key pair",
    "malformed": "public_key is not a valid RSA public key (an even modulus, or an exponent that is even "
                 "or not below the modulus)",
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: Skip reasons that mean "a key with a known weakness" (logged as a warning, not just left out).
WEAK_KEY_REASONS = frozenset({"rsa_too_small", "rsa_small_exponent", "rsa_factorable", "rsa_roca",
                              "ed25519_small_order"})
#: Skip reasons that mean "a private or secret key was published" (private members, or an ``oct`` key):
#: a security incident at the provider, who must rotate it; logged as a warning too, never the key.
PRIVATE_KEY_REASONS = frozenset({"private_members", "symmetric"})
_WARNED = ((WEAK_KEY_REASONS, "weak"),
           (PRIVATE_KEY_REASONS, "published private or secret keys (a leak the provider must rotate)"))

# ROCA (CVE-2017-15361, Nemec et al., "The Return of Coppersmith's Attack", CCS 2017): Infineon's
# library made primes p = k * M + (65537^a mod M), M a primorial, so for every small prime r dividing M
# the modulus n = p * q lies, mod r, in the subgroup that 65537 generates. The published fingerprint
# (the crocs-muni/roca detector tests the odd primes up to 167) is that membership test: a few modular
# reductions, done once per key at load. A random modulus passes all of them with negligible odds.
_ROCA_PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
                97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167)


def _subgroup(r: int) -> frozenset[int]:
    seen, x = {1}, 65537 % r
    while x not in seen:
        seen.add(x)
        x = x * 65537 % r
    return frozenset(seen)


@functools.cache
def _roca_residues() -> tuple[tuple[int, frozenset[int]], ...]:
    # Built on the first RSA key (about 0.4 ms), not at import: HS-only functions never pay for it.
    return tuple((r, _subgroup(r)) for r in _ROCA_PRIMES)


def roca_vulnerable(modulus: int) -> bool:
    """Whether an RSA modulus has the ROCA fingerprint (CVE-2017-15361): its key is factorable."""
    return all(modulus % r in residues for r, residues in _roca_residues())


def _rsa_weakness(key: rsa.RSAPublicKey) -> str | None:
    # The numbers are judged again once loaded: cryptography 42 to 49 load a PEM or certificate with
    # e < 3, an even e or e >= n (50 refuses those), and every release loads an even or factorable n.
    numbers = key.public_numbers()
    weakness = _rsa_numbers_weakness(numbers.n, numbers.e)
    if weakness is None and roca_vulnerable(numbers.n):
        return "rsa_roca"
    return weakness


@functools.cache
def _small_primes_product() -> int:
    # The primes below 752 (SP 800-89 5.3.3, as OpenSSL's RSA public key check): about 1,000 bits.
    sieve = bytearray([1]) * 752
    for i in range(2, 28):
        sieve[i * i::i] = bytes(len(sieve[i * i::i]))
    return math.prod(i for i in range(2, 752) if sieve[i])


def _factorable(n: int) -> bool:
    """Whether anyone can factor ``n``: a prime factor below 752, or n a square or a cube (p = the root
    of n gives the private exponent away). Some microseconds, once per key. A prime n (as weak) is not
    looked for: the test is a full exponentiation, about 20 ms per 2048-bit key in Python."""
    if math.gcd(n, _small_primes_product()) != 1:
        return True
    if math.isqrt(n) ** 2 == n:
        return True
    root = 1 << -(-n.bit_length() // 3)  # Newton's integer cube root, from above
    while (lower := (2 * root + n // (root * root)) // 3) < root:
        root = lower
    return root**3 == n


# Ed25519 public keys of small order: the eight points of order 1, 2, 4 and 8 have y = 1, p - 1, 0 and
# +-_ED25519_Y8 (either sign of x). With one, h*A is among those eight points, so a forger's (R, S = 0)
# verifies for any message (the identity) or for one message in two to eight, and OpenSSL's Ed25519
# verification does not refuse them (libsodium does). A real key, a clamped scalar times the base point,
# never has small order. y is the low 255 bits, read modulo p as decoders read the encodings p and p + 1.
_ED25519_P = 2**255 - 19
_ED25519_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_ED25519_SMALL_ORDER_Y = frozenset({0, 1, _ED25519_P - 1, _ED25519_Y8, _ED25519_P - _ED25519_Y8})


def _okp_weakness(key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> str | None:
    # Ed448 needs no list: OpenSSL refuses its small-order keys' forgeries itself (tests/test_keys.py).
    if isinstance(key, ed25519.Ed25519PublicKey):
        y = int.from_bytes(key.public_bytes(Encoding.Raw, PublicFormat.Raw), "little") & ((1 << 255) - 1)
        if y % _ED25519_P in _ED25519_SMALL_ORDER_Y:
            return "ed25519_small_order"
    return None


_EC_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "secp256k1"}


def _rsa_numbers_weakness(n: int, e: int) -> str | None:
    # Judged on the numbers, before cryptography refuses them as merely invalid (e < 3, or e >= n for a
    # tiny n): e = 1 makes the padded hash its own signature, so anyone can forge one. Logged as weak.
    if n <= 0 or n % 2 == 0:
        return "malformed"  # no RSA modulus at all (an empty or garbled n reads as 0)
    if n.bit_length() < MIN_RSA_BITS:
        return "rsa_too_small"
    if e < 3:
        return "rsa_small_exponent"
    if e % 2 == 0 or e >= n:
        return "malformed"  # no RSA key has such an exponent (cryptography refuses the numbers)
    if _factorable(n):
        return "rsa_factorable"
    return None


_RSA_PEM = re.compile(rb"-----BEGIN (RSA )?PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END ")
_RSA_ENCRYPTION = bytes.fromhex("06092a864886f70d010101")  # OID 1.2.840.113549.1.1.1, DER-encoded


def _der(data: bytes, tag: int) -> tuple[bytes, bytes]:
    """The value of the DER element of type ``tag`` that ``data`` starts with, and what follows it."""
    if len(data) < 2 or data[0] != tag:
        raise ValueError("tag")
    size, start = data[1], 2
    if size & 0x80:
        count = size & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("length")
        size, start = int.from_bytes(data[2:2 + count], "big"), 2 + count
    if start + size > len(data):
        raise ValueError("length")
    return data[start:start + size], data[start + size:]


def unloadable_rsa_pem_weakness(pem: bytes) -> str | None:
    """For a PEM that ``cryptography`` refused: the weakness of the RSA key it holds (PKCS#1 or
    SubjectPublicKeyInfo), so the message names it, or ``None`` when it is no readable RSA key."""
    match = _RSA_PEM.search(pem)
    if match is None:
        return None
    try:
        body, _ = _der(base64.b64decode(match.group(2)), 0x30)
        if match.group(1) is None:  # SubjectPublicKeyInfo: the algorithm, then a BIT STRING of PKCS#1
            algorithm, rest = _der(body, 0x30)
            if not algorithm.startswith(_RSA_ENCRYPTION):
                return None
            bits, _ = _der(rest, 0x03)
            body, _ = _der(bits[1:], 0x30)
        n, rest = _der(body, 0x02)
        e, _ = _der(rest, 0x02)
    except (ValueError, binascii.Error):
        return None
    return _rsa_numbers_weakness(int.from_bytes(n, "big"), int.from_bytes(e, "big"))


def _rsa_key(jwk: Mapping[str, Any]) -> tuple[Any, frozenset[str]] | str:
    n, e = rsa_numbers(jwk)
    numbers_weakness = _rsa_numbers_weakness(n, e)
    if numbers_weakness is not None:
        return numbers_weakness
    key = rsa.RSAPublicNumbers(e, n).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return "not_public"
    if roca_vulnerable(n):
        return "rsa_roca"
    return key, RSA_ALGORITHMS


def _ec_key(jwk: Mapping[str, Any]) -> tuple[Any, frozenset[str]] | str:
    crv = jwk.get("crv")
    alg = EC_CURVE_ALGORITHMS.get(crv) if isinstance(crv, str) else None
    if alg is None:
        return "unsupported_curve"
    key = ec_public_key(jwk)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "not_public"
    # The curve fixes the algorithm: ES256 only on P-256, and so on (no cross-curve verification).
    return key, frozenset({alg})


def _okp_key(jwk: Mapping[str, Any]) -> tuple[Any, frozenset[str]] | str:
    if jwk.get("crv") not in OKP_CURVES:
        return "unsupported_curve"  # X25519/X448 are key-agreement curves, never signatures
    key = okp_public_key(jwk)
    if not isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return "not_public"
    weakness = _okp_weakness(key)
    if weakness is not None:
        return weakness
    # "EdDSA" names either curve; RFC 9864's "Ed25519" / "Ed448" name exactly one: this key's.
    return key, frozenset({"EdDSA", _okp_curve(key)})


_LOADERS = {"RSA": _rsa_key, "EC": _ec_key, "OKP": _okp_key}
_ENCRYPTION_OPS = frozenset({"encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits"})


def _key_ops_problem(ops: Any, use: Any) -> str | None:
    """Why a JWK's ``key_ops`` (RFC 7517 §4.3) rules it out, or ``None``; ``use`` is ``"sig"`` or absent."""
    if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
        return "bad_key_ops"  # "an array of key operation strings"
    if len(set(ops)) != len(ops):
        return "duplicate_key_ops"  # "Duplicate key operation values MUST NOT be present"
    if "verify" not in ops:
        return "not_for_verify"
    if use is not None and not _ENCRYPTION_OPS.isdisjoint(ops):
        return "use_key_ops_conflict"  # use=sig beside an encryption operation: they MUST be consistent
    return None


def warn_skipped(log: logging.Logger, skipped: Sequence[tuple[str | None, str]]) -> None:
    """Warn about the weak and the private keys of a key set just loaded (not per request).

    One line per kind, however many keys (a hostile set could otherwise flood the log), naming at most
    five by ``kid`` and fixed reason: never a key member.
    """
    for reasons, kind in _WARNED:
        found = [(kid, reason) for kid, reason in skipped if reason in reasons]
        if found:
            shown = ", ".join(f"{reason} (kid {kid!r:.66})" for kid, reason in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            log.warning("JWKS keys skipped as %s: %s%s", kind, shown, more)


def load_jwk(jwk: Any, allowed: frozenset[str]) -> tuple[str | None, str, Any, frozenset[str]] | str:
    """``(kid, kty, key, algorithms)`` of a usable verification JWK, or why it is skipped.

    The reason is a fixed token (``"symmetric"``, ``"private_members"``, ``"rsa_too_small"`` ...);
    ``algorithms`` is already the agreement of the key type, its curve, the JWK's own ``alg`` and
    ``allowed``.
    """
    if not isinstance(jwk, Mapping):
        return "not_an_object"
    kty = jwk.get("kty")
    if kty == "oct":
        return "symmetric"  # a published shared secret is no secret: never accepted from a JWKS
    if not isinstance(kty, str) or kty not in _LOADERS:
        return "unknown_kty"
    loader = _LOADERS[kty]
    if _PRIVATE_MEMBERS & set(jwk):
        return "private_members"  # an issuer leaking private keys is not one to trust
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        return "bad_kid"
    use = jwk.get("use")
    if use is not None and use != "sig":
        return "not_for_signatures"
    ops = jwk.get("key_ops")
    if ops is not None:
        ops_problem = _key_ops_problem(ops, use)
        if ops_problem is not None:
            return ops_problem
    jwk_alg = jwk.get("alg")
    if jwk_alg is not None and not isinstance(jwk_alg, str):
        return "bad_alg"
    try:
        loaded = loader(jwk)
    except Exception:
        return "malformed"
    if isinstance(loaded, str):
        return loaded
    key, algorithms = loaded
    if jwk_alg is not None:
        algorithms = algorithms & {jwk_alg}  # the JWK's own alg pins it to that one algorithm
    algorithms = algorithms & allowed
    if not algorithms:
        return "no_allowed_algorithm"
    return kid, kty, key, algorithms


def public_key_algorithms(key: Any) -> tuple[str, frozenset[str]]:
    """``(kty, algorithms)`` for a public key object; ConfigurationError when it cannot be used."""
    if isinstance(key, rsa.RSAPublicKey):
        weakness = _rsa_weakness(key)
        if weakness is not None:
            raise ConfigurationError(RSA_WEAKNESS_MESSAGES[weakness])
        return "RSA", RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = EC_CURVE_ALGORITHMS.get(_EC_NAMES.get(key.curve.name, ""))
        if alg is None:
            raise ConfigurationError("Unsupported elliptic curve for JWS")
        return "EC", frozenset({alg})
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        if _okp_weakness(key) is not None:
            raise ConfigurationError("The Ed25519 public key has small order: anyone could sign for it")
        return "OKP", frozenset({"EdDSA", _okp_curve(key)})
    raise ConfigurationError("Unsupported public key type")


def _okp_curve(key: Any) -> str:
    return "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
