"""JWK members -> key objects without PyJWT: the same keys PyJWT's from_jwk makes, the same refusals."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from serverless_jwt._jwk_keys import ec_public_key, okp_public_key, rsa_public_key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _spki(key: Any) -> bytes:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return bytes(key.public_bytes(serialization.Encoding.DER, spki))


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
_EC = {crv: ec.generate_private_key(curve()).public_key() for crv, curve in (
    ("P-256", ec.SECP256R1), ("P-384", ec.SECP384R1), ("P-521", ec.SECP521R1), ("secp256k1", ec.SECP256K1))}
_OKP = {"Ed25519": ed25519.Ed25519PrivateKey.generate().public_key(),
        "Ed448": ed448.Ed448PrivateKey.generate().public_key()}


def _rsa_jwk() -> dict[str, Any]:
    n = _RSA.public_numbers()
    return {"kty": "RSA", "n": _b64(n.n.to_bytes(256, "big")), "e": _b64(n.e.to_bytes(3, "big"))}


def _ec_jwk(crv: str) -> dict[str, Any]:
    key = _EC[crv]
    size = (key.curve.key_size + 7) // 8
    n = key.public_numbers()
    return {"kty": "EC", "crv": crv, "x": _b64(n.x.to_bytes(size, "big")),
            "y": _b64(n.y.to_bytes(size, "big"))}


def _okp_jwk(crv: str) -> dict[str, Any]:
    raw = _OKP[crv].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": crv, "x": _b64(raw)}


def _outcome(load: Any, jwk: dict[str, Any]) -> bytes | str:
    try:
        return _spki(load(jwk))
    except Exception:
        return "refused"


CASES: list[tuple[Any, Any, dict[str, Any]]] = [
    (rsa_public_key, RSAAlgorithm.from_jwk, _rsa_jwk()),
    *[(ec_public_key, ECAlgorithm.from_jwk, _ec_jwk(crv)) for crv in _EC],
    *[(okp_public_key, OKPAlgorithm.from_jwk, _okp_jwk(crv)) for crv in _OKP],
]


def _variants(jwk: dict[str, Any]) -> list[dict[str, Any]]:
    out = [jwk]
    for name in ("n", "e", "x", "y"):
        if name in jwk:
            value = jwk[name]
            out += [
                {k: v for k, v in jwk.items() if k != name},  # missing
                {**jwk, name: value[:-2]},  # shorter
                {**jwk, name: "AA" + value},  # a leading zero byte (EC: wrong size)
                {**jwk, name: value + "=" * (-len(value) % 4)},  # padded (PyJWT accepts it)
                {**jwk, name: value[:-1] + ("A" if value[-1] != "A" else "B")},  # another value
                {**jwk, name: 12345},  # not a string
            ]
    if "crv" in jwk:
        out += [{**jwk, "crv": "P-256" if jwk["crv"] != "P-256" else "P-384"}, {**jwk, "crv": "X25519"}]
    return out


def _case_id(value: Any) -> str:
    return str(value.get("crv", "RSA")) if isinstance(value, dict) else ""


@pytest.mark.parametrize(("ours", "pyjwt", "jwk"), CASES, ids=_case_id)
def test_keys_and_refusals_match_pyjwt_from_jwk(ours: Any, pyjwt: Any, jwk: dict[str, Any]) -> None:
    outcomes = []
    for variant in _variants(jwk):
        mine, theirs = _outcome(ours, variant), _outcome(pyjwt, variant)
        assert mine == theirs, variant
        outcomes.append(mine)
    assert outcomes[0] != "refused"
    assert "refused" in outcomes
