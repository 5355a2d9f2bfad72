"""The dev issuer's signing keys: generated per algorithm, kept (owner-only) in its key folder, published.

Only for :class:`~serverless_jwt.dev.issuer.DevIssuer`: keys any local process can read are dev keys.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

__all__ = ["generate", "kid_for", "load_or_create", "public_jwk"]

_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1(), "ES256K": ec.SECP256K1(),
}


def generate(alg: str) -> Any:
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[alg])
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"DevIssuer cannot generate a key for {alg}")


def kid_for(key: Any, alg: str) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"{alg.lower()}-{hashlib.sha256(der).hexdigest()[:16]}"


def public_jwk(key: Any, alg: str, kid: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = dict(ECAlgorithm.to_jwk(public, as_dict=True))
    else:
        jwk = dict(OKPAlgorithm.to_jwk(public, as_dict=True))
    jwk.pop("key_ops", None)  # PyJWT's RSA export has it; RFC 7517 §4.3: not beside "use"
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


def load_or_create(path: Path, alg: str) -> Any:
    if path.exists():
        try:
            return serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError, OSError) as exc:
            from serverless_jwt.errors import ConfigurationError

            raise ConfigurationError(
                f"the dev issuer's key {path} cannot be read ({type(exc).__name__}): delete it to make "
                "a new one (tokens it signed stop verifying)") from None
    key = generate(alg)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Private key material: owner-only permissions from the moment the file exists. Written whole to a
    # private name, then linked into place: two processes starting at once (test workers, `token` beside
    # `start-api`) never see half a key, and the one that loses the race uses the winner's key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return serialization.load_pem_private_key(path.read_bytes(), password=None)
    finally:
        tmp.unlink(missing_ok=True)
    return key
