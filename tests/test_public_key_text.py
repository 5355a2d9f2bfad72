"""_public_key_text: every form a public key is pasted in is recognised; random secrets never are."""

from __future__ import annotations

import base64
import datetime
import json
import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from serverless_jwt._public_key_text import public_key_kind
from serverless_jwt.errors import ConfigurationError
from serverless_jwt.keys import SecretKeys

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUB = RSA.public_key()


def _certificate() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(PUB).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(RSA, hashes.SHA256()))


def _lines(text: bytes) -> list[bytes]:
    return [text[i:i + 20] for i in range(0, len(text), 20)]


def _forms() -> dict[str, bytes]:
    pem = PUB.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = PUB.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ssh = PUB.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    ed_ssh = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    ec_der = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    cert_der = _certificate().public_bytes(serialization.Encoding.DER)
    jwk = json.loads(RSAAlgorithm.to_jwk(PUB))
    blob = ssh.split()[1]
    return {
        "pem": pem, "pem-bom-crlf": b"\xef\xbb\xbf" + pem.replace(b"\n", b"\r\n"),
        "pkcs1-pem": PUB.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "certificate-pem": _certificate().public_bytes(serialization.Encoding.PEM),
        "openssh": ssh, "openssh-ed25519": ed_ssh, "authorized-keys-options": b'from="10.0.0.1" ' + ssh,
        "openssh-certificate": b"ssh-rsa-cert-v01@openssh.com " + blob,
        "rfc4716": b"---- BEGIN SSH2 PUBLIC KEY ----\n" + blob + b"\n---- END SSH2 PUBLIC KEY ----\n",
        "jwk": json.dumps(jwk).encode(),
        "jwk-indented-bom": b"\xef\xbb\xbf" + json.dumps(jwk, indent=2).encode(),
        "jwk-set": json.dumps({"keys": [jwk]}).encode(), "jwk-array": json.dumps([jwk]).encode(),
        "keycloak-public-key": base64.b64encode(der), "x5c": base64.b64encode(cert_der),
        "wrapped-base64": b"\n".join(_lines(base64.b64encode(ec_der))),
        "urlsafe-base64": base64.urlsafe_b64encode(der).rstrip(b"="), "der": der, "certificate-der": cert_der,
    }


@pytest.mark.parametrize(("label", "raw"), list(_forms().items()), ids=list(_forms()))
def test_every_pasted_form_of_a_public_key_is_recognised(label: str, raw: bytes) -> None:
    assert public_key_kind(raw) is not None, label


@pytest.mark.parametrize("make", [
    lambda: secrets.token_urlsafe(48).encode(), lambda: secrets.token_hex(32).encode(),
    lambda: base64.b64encode(secrets.token_bytes(64)), lambda: secrets.token_bytes(64),
    lambda: b"my-----BEGIN secret-----phrase-that-is-long-enough", lambda: b"ssh-rsa" + b"x" * 40,
    lambda: b'{"note": "a json secret, not a key", "pad": "' + b"p" * 32 + b'"}',
    lambda: b"\x30\x82" + secrets.token_bytes(62),  # DER-shaped start, not a key
])
def test_random_secrets_are_never_taken_for_keys(make: object) -> None:
    for _ in range(50):
        raw = make()  # type: ignore[operator]
        assert public_key_kind(raw) is None, raw


def test_raw_der_ending_in_a_whitespace_byte_is_still_recognised() -> None:
    # DER is binary: its last byte is a whitespace value about 2% of the time (a key's or signature's
    # last byte), and stripping the input as text made such a key pass as a secret.
    for _ in range(20_000):
        der = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if der[-1:].isspace():
            break
    assert der[-1:].isspace()
    assert public_key_kind(der) == "a DER public key or certificate"


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    head = bytes([size]) if size < 0x80 else bytes([0x82]) + size.to_bytes(2, "big")
    return bytes([tag]) + head + body


def _spki(oid: bytes, key: bytes, parameters: bytes = b"") -> bytes:
    return _der(0x30, _der(0x30, _der(0x06, oid) + parameters) + _der(0x03, b"\x00" + key))


# SubjectPublicKeyInfos of keys some cryptography release in the allowed range cannot read: for some it
# returned None (the key passed as an HMAC secret), for others it raised InternalError or
# UnsupportedAlgorithm (the configuration crashed).
UNREADABLE_PUBLIC_KEYS = {
    # ML-DSA-44 (2.16.840.1.101.3.4.3.17): cryptography 49 and later read it, 42 to 46 do not.
    "ml-dsa-44": _spki(bytes.fromhex("608648016503040311"), secrets.token_bytes(1312)),
    # SM2 (ecPublicKey on curve 1.2.156.10197.1.301): no release reads it; each raised UnsupportedAlgorithm.
    "sm2": _spki(bytes.fromhex("2a8648ce3d0201"), b"\x04" + secrets.token_bytes(64),
                 _der(0x06, bytes.fromhex("2a811ccf5501822d"))),
    # id-RSAES-OAEP (1.2.840.113549.1.1.7): 42 to 46 returned None, 49 and later raise UnsupportedAlgorithm.
    "rsa-oaep": _spki(bytes.fromhex("2a864886f70d010107"), _der(
        0x30, _der(0x02, b"\x00" + secrets.token_bytes(256)) + _der(0x02, b"\x01\x00\x01"))),
    # Ed25519 with a 31-byte key: cryptography 42 to 44 raise InternalError (46 and later ValueError).
    "ed25519-31-bytes": _spki(bytes.fromhex("2b6570"), secrets.token_bytes(31)),
}


@pytest.mark.parametrize("der", list(UNREADABLE_PUBLIC_KEYS.values()), ids=list(UNREADABLE_PUBLIC_KEYS))
def test_a_public_key_cryptography_cannot_read_is_still_recognised(der: bytes) -> None:
    # Recognised by its shape, not by whether this cryptography can load it: a published key is no
    # secret whatever its algorithm, and the question must never crash the configuration.
    assert public_key_kind(der) == "a DER public key or certificate"
    assert public_key_kind(base64.b64encode(der)) == "a base64 public key or certificate"
    with pytest.raises(ConfigurationError, match="looks like a base64 public key"):
        SecretKeys([base64.b64encode(der)], algorithms=["HS256"])
