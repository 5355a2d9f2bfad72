"""Recognise public-key material pasted where an HMAC secret belongs.

Verifying HS tokens with a public key as the secret is the classic algorithm-confusion hole (RFC 8725
§2.1, §3.1): the key is public, so anyone can mint tokens "signed" with it. PyJWT refuses PEM and
OpenSSH keys as HMAC keys (``is_pem_format``, ``is_ssh_key``); this module refuses what providers
publish besides those: JWKs and JWK sets, the armour-less base64 SubjectPublicKeyInfo that Keycloak
shows as ``public_key``, base64 ``x5c`` certificates, raw DER, RFC 4716 SSH2 keys and OpenSSH
certificates. Written by hand because no library answers "is this text a public key in any of the
forms people paste"; it runs once per secret at construction, never per request. DER is recognised by
its shape (a SubjectPublicKeyInfo or a certificate), not by whether ``cryptography`` can load it: the
releases the floor allows read different algorithms (ML-DSA from 50 only, SM2 in none), and some raise
on what they cannot read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

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
    """A DER SubjectPublicKeyInfo, ``SEQUENCE { SEQUENCE { OID, ... }, BIT STRING }``, or an X.509
    certificate, ``SEQUENCE { SEQUENCE, SEQUENCE { OID, ... }, BIT STRING }``, spanning the whole input.
    A random secret has this shape with odds below 2^-40 (four tags, three lengths that must agree)."""
    if len(data) < 32:
        return False
    top = _elements(data, 0, len(data))
    if top is None or len(top) != 1 or top[0][0] != 0x30:
        return False
    parts = _elements(data, top[0][1], top[0][2])
    if parts is None or [tag for tag, _, _ in parts] not in ([0x30, 0x03], [0x30, 0x30, 0x03]):
        return False
    _, start, end = parts[-2]  # the algorithm identifier: it starts with its OID
    return end > start and data[start] == 0x06


def _elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int]] | None:
    """(tag, value start, value end) of each DER element from ``start`` to exactly ``end``, or None."""
    found = []
    while start < end:
        if end - start < 2:
            return None
        tag, first, start = data[start], data[start + 1], start + 2
        if first < 0x80:
            size = first
        else:
            count = first & 0x7F
            if not 1 <= count <= 4 or end - start < count:
                return None
            size, start = int.from_bytes(data[start:start + count], "big"), start + count
        if size > end - start:
            return None
        found.append((tag, start, start + size))
        start += size
    return found
