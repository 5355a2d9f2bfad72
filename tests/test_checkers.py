"""checker_for (``_checkers.py``): one signature check per key and algorithm, against real signatures."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from serverless_jwt._base64url import strict_decode
from serverless_jwt._checkers import HMAC_ALGORITHMS, checker_for

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
P521 = ec.generate_private_key(ec.SECP521R1())
ED25519 = ed25519.Ed25519PrivateKey.generate()
ED448 = ed448.Ed448PrivateKey.generate()
SECRET = secrets.token_bytes(64)

CASES: list[tuple[str, Any, Any]] = [
    *((alg, RSA, RSA.public_key()) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")),
    ("ES256", P256, P256.public_key()), ("ES384", P384, P384.public_key()),
    ("ES512", P521, P521.public_key()),
    ("EdDSA", ED25519, ED25519.public_key()), ("EdDSA", ED448, ED448.public_key()),
    *((alg, SECRET, SECRET) for alg in HMAC_ALGORITHMS),
]


def signed(alg: str, private: Any) -> tuple[bytes, bytes]:
    token = jwt.encode({"sub": "x"}, private, alg)
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode(), strict_decode(signature.encode())


@pytest.mark.parametrize(("alg", "private", "public"), CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_a_genuine_signature_passes_and_anything_else_fails_without_raising(alg: str, private: Any,
                                                                            public: Any) -> None:
    check = checker_for(alg, public)
    signing_input, signature = signed(alg, private)
    assert check(signing_input, signature) is True
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    for data, sig in [(signing_input + b"x", signature), (signing_input, flipped),
                      (signing_input, signature[:-1]), (signing_input, signature + b"\0"),
                      (signing_input, b""), (b"", signature), (signing_input, "not bytes"),
                      (None, signature)]:
        assert check(data, sig) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_each_rsa_algorithm_checks_with_its_own_padding_and_hash(alg: str) -> None:
    signing_input, signature = signed(alg, RSA)
    for other in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        assert checker_for(other, RSA.public_key())(signing_input, signature) is (other == alg)


def test_ecdsa_takes_only_raw_r_s_of_the_curves_size_never_der() -> None:
    signing_input, signature = signed("ES256", P256)
    check = checker_for("ES256", P256.public_key())
    der = P256.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    assert len(signature) == 64
    assert check(signing_input, der) is False  # the DER form OpenSSL itself would take


def test_hmac_is_the_keyed_digest_compared_in_constant_time() -> None:
    check = checker_for("HS384", SECRET)
    mac = hmac.new(SECRET, b"a.b", hashlib.sha384).digest()
    assert check(b"a.b", mac) is True
    assert check(b"a.b", hmac.new(SECRET, b"a.b", hashlib.sha256).digest()) is False
