"""Recognise public-key material pasted where an HMAC secret belongs.

Verifying HS tokens with a public key as the secret is the classic algorithm-confusion hole (RFC 8725
§2.1, §3.1): the key is public, so anyone can mint tokens "signed" with it. PyJWT refuses PEM and
OpenSSH keys as HMAC keys (``is_pem_format``, ``is_ssh_key``); this module refuses what providers
publish besides those: JWKs and JWK sets, the armour-less base64 SubjectPublicKeyInfo that Keycloak
shows as ``public_key``, base64 ``x5c`` certificates, raw DER, RFC 4716 SSH2 keys and OpenSSH
certificates. Written by hand because no library answers "is this text a public key in any of the
forms people paste"; it runs once per secret at construction, never per request, and imports
``cryptography.x509`` only for input already shaped like DER.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from cryptography.hazmat.primitives.serialization import load_der_public_key

__all__ = ["public_key_kind"]

_BOM = b"\xef\xbb\xbf"
# An OpenSSH key line (optionally after authorized_keys options): its type, then the base64 blob,
# which always starts with the type's 4-byte length prefix "AAAA".
_OPENSSH = re.compile(rb"(?:^|\s)(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+"
                      rb"|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)"
                      rb"(?:-cert-v01@openssh\.com)?\s+AAAA")
_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]+-----")
_WHITESPACE = re.compile(rb"\s+")


def public_key_kind(raw: bytes) -> str | None:
    """What public-key material ``raw`` is, phrased for a message ("a PEM key or certificate"), or
    ``None`` when it is not recognisably a key (a random secret never is).

    Examples
    --------
    >>> public_key_kind(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== me@host")
    'an OpenSSH public key'
    >>> public_key_kind(b"correct-horse-battery-staple-and-more-words") is None
    True
    """
    # Raw DER first, as given: its last bytes may well be whitespace values, which strip() would eat.
    if _is_der_key(raw):
        return "a DER public key or certificate"
    text = raw.removeprefix(_BOM).strip()
    if _PEM.search(text):
        return "a PEM key or certificate"
    if b"---- BEGIN SSH2 PUBLIC KEY ----" in text or _OPENSSH.search(text):
        return "an OpenSSH public key"
    if text[:1] in (b"{", b"[") and _is_jwk_json(text):
        return "a JSON Web Key"
    if _is_der_key(text):
        return "a DER public key or certificate"
    compact = _WHITESPACE.sub(b"", text)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            data = decode(compact + b"=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            continue
        if _is_der_key(data):
            return "a base64 public key or certificate"
    return None


def _is_jwk_json(text: bytes) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    items = value if isinstance(value, list) else [value]
    return any(isinstance(item, dict) and ("kty" in item or "keys" in item) for item in items)


def _is_der_key(data: bytes) -> bool:
    """A DER SubjectPublicKeyInfo or X.509 certificate (a SEQUENCE whose length is the whole input)."""
    if len(data) < 32 or data[0] != 0x30 or not _spans(data):
        return False
    try:
        load_der_public_key(data)
        return True
    except (ValueError, TypeError):
        pass
    from cryptography import x509  # only for DER-shaped input: few secrets get here

    try:
        x509.load_der_x509_certificate(data)
        return True
    except ValueError:
        return False


def _spans(data: bytes) -> bool:
    first = data[1]
    if first < 0x80:
        return 2 + first == len(data)
    count = first & 0x7F
    if not 1 <= count <= 4 or len(data) < 2 + count:
        return False
    return 2 + count + int.from_bytes(data[2:2 + count], "big") == len(data)
