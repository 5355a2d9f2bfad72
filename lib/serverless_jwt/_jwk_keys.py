"""JWK members -> ``cryptography`` public key objects (RFC 7518 §6.2-6.3, RFC 8037 §2), without PyJWT.

Why not PyJWT's ``from_jwk``, as before: importing ``jwt.algorithms`` also imports
``cryptography.x509`` and PyJWT's JWKS client (``urllib.request``, ``http.client``, ``ssl``), tens of
milliseconds on the first request of a cold start, for three constructor calls. These functions do
what PyJWT's do for public keys: the same lenient base64url decoding of each member, the same
coordinate sizes per curve, the same ``cryptography`` constructors (which check that an EC point is on
its curve). Which keys are usable at all (private members, ``use``, ``key_ops``, sizes) is decided
in :mod:`serverless_jwt._jwk` before these run; any exception here makes the key "malformed".
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

__all__ = ["ec_public_key", "okp_public_key", "rsa_numbers", "rsa_public_key"]

# crv -> (curve, bytes per coordinate)
_CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {
    "P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48), "P-521": (ec.SECP521R1, 66),
    "secp256k1": (ec.SECP256K1, 32),
}


def _member(jwk: Mapping[str, Any], name: str) -> bytes:
    # As PyJWT's base64url_decode: padding restored, then the standard library's URL-safe decoder.
    value = jwk[name]
    if not isinstance(value, str):
        raise TypeError(name)
    data = value.encode("ascii")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def rsa_numbers(jwk: Mapping[str, Any]) -> tuple[int, int]:
    """``(n, e)`` of an RSA JWK, before ``cryptography`` judges them (it refuses e < 3 and e >= n)."""
    return int.from_bytes(_member(jwk, "n"), "big"), int.from_bytes(_member(jwk, "e"), "big")


def rsa_public_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    """The RSA public key of ``n`` and ``e``."""
    n, e = rsa_numbers(jwk)
    return rsa.RSAPublicNumbers(e, n).public_key()


def ec_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The EC public key of ``crv``, ``x`` and ``y`` (each coordinate exactly the curve's size)."""
    curve, size = _CURVES[jwk["crv"]]
    x, y = _member(jwk, "x"), _member(jwk, "y")
    if not len(x) == len(y) == size:
        raise ValueError("coordinate size")
    return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                         curve()).public_key()


def okp_public_key(jwk: Mapping[str, Any]) -> ed25519.Ed25519PublicKey | ed448.Ed448PublicKey:
    """The Ed25519 / Ed448 public key of ``crv`` and ``x``."""
    crv = jwk["crv"]
    if crv == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_member(jwk, "x"))
    if crv == "Ed448":
        return ed448.Ed448PublicKey.from_public_bytes(_member(jwk, "x"))
    raise ValueError("curve")
