"""Second reader's adversarial suite: one test per attack on the request path, with real keys and servers.

Tokens are crafted by hand (PyJWT's algorithm primitives sign whatever bytes we build), keys are
generated at test time, remote keys come from the loopback :class:`DevIssuer` or a tiny loopback server
serving hostile bodies. A test marked ``xfail(strict=True, reason="HOLE: ...")`` documents a defect
found in review: it fails today and must start passing when the hole is fixed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, get_default_algorithms

from serverless_jwt.adapters.decorators import require_auth, require_scope
from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH, DevIssuer
from serverless_jwt.errors import (
    AlgorithmNotAllowedError,
    AuthError,
    ConfigurationError,
    InvalidClaimError,
    InvalidSignatureError,
    InvalidTokenError,
    KeysUnavailableError,
    MalformedTokenError,
    TokenExpiredError,
    UnknownKeyError,
)
from serverless_jwt.keys import KeySet
from serverless_jwt.verifier import Verifier

ROOT = Path(__file__).resolve().parent.parent
ISS = "https://id.example.com/"
AUD = "api://shows"
NOW = 1_700_000_000
ALGS = get_default_algorithms()
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# -- crafting -------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def enc(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def sign_raw(header: bytes, payload: bytes, alg: str, key: Any) -> str:
    """Sign exact header/payload bytes (so duplicate members, escapes, odd JSON survive)."""
    signing_input = b64(header) + "." + b64(payload)
    signature = b"" if key is None else ALGS[alg].sign(signing_input.encode(), key)
    return signing_input + "." + b64(signature)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "alice", "iat": NOW, "nbf": NOW, "exp": NOW + 600}
    for name, value in overrides.items():
        if value is _DROP:
            base.pop(name, None)
        else:
            base[name] = value
    return base


_DROP: Any = object()


class Keys:
    """One key of each family, generated for this test module."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self, key: Any, kid: str | None, alg: str | None = None, **extra: Any) -> dict[str, Any]:
        public = key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            out = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
        elif isinstance(public, ec.EllipticCurvePublicKey):
            out = dict(ECAlgorithm.to_jwk(public, as_dict=True))
        else:
            out = dict(OKPAlgorithm.to_jwk(public, as_dict=True))
        if kid is not None:
            out["kid"] = kid
        if alg is not None:
            out["alg"] = alg
        out.update(extra)
        return out

    def token(self, payload: Mapping[str, Any] | None = None, *, alg: str = "RS256", key: Any = None,
              **header: Any) -> str:
        hdr: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": "rsa-1"}
        for name, value in header.items():
            if value is _DROP:
                hdr.pop(name, None)
            else:
                hdr[name] = value
        return sign_raw(enc(hdr), enc(claims() if payload is None else dict(payload)), alg,
                        self.rsa if key is None else key)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def static_verifier(keys: Keys, *, jwks: list[dict[str, Any]] | None = None,
                    algorithms: tuple[str, ...] = ("RS256",), now: float = NOW, **options: Any) -> Verifier:
    doc = {"keys": jwks if jwks is not None else [keys.jwk(keys.rsa, "rsa-1", "RS256")]}
    return Verifier(issuer=ISS, audience=AUD, jwks=doc, algorithms=list(algorithms),
                    clock=lambda: now, **options)


@pytest.fixture
def verifier(keys: Keys) -> Verifier:
    return static_verifier(keys)


def rejects(verifier: Verifier, token: Any, error: type[AuthError] = InvalidTokenError) -> AuthError:
    with pytest.raises(error) as caught:
        verifier.verify(token)
    return caught.value


# -- sanity: the baseline token verifies (so every rejection below is about the attack) ---------------


def test_baseline_hand_crafted_token_verifies(keys: Keys, verifier: Verifier) -> None:
    assert verifier.verify(keys.token())["sub"] == "alice"


# -- alg confusion and none ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_casing_is_rejected(keys: Keys, verifier: Verifier, alg: str) -> None:
    unsigned = b64(enc({"alg": alg, "kid": "rsa-1"})) + "." + b64(enc(claims()))
    rejects(verifier, unsigned + ".")  # empty signature segment
    rejects(verifier, unsigned + "." + b64(b"sig"), AlgorithmNotAllowedError)


def test_none_cannot_be_configured(keys: Keys) -> None:
    for algs in (("none",), ("RS256", "none"), ("NONE",)):
        with pytest.raises(ConfigurationError):
            static_verifier(keys, algorithms=algs)


def test_hs256_signed_with_public_key_pem_is_rejected(keys: Keys, verifier: Verifier) -> None:
    pem = keys.rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (pem, pem.strip(), json.dumps(keys.jwk(keys.rsa, "rsa-1")).encode()):
        rejects(verifier, keys.token(alg="HS256", key=secret), AlgorithmNotAllowedError)


def test_hs_algorithms_never_mix_with_public_key_sources(keys: Keys) -> None:
    pem = keys.rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ConfigurationError):
        static_verifier(keys, algorithms=("RS256", "HS256"))
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISS, audience=AUD, public_key=pem, algorithms=["HS256"])
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISS, audience=AUD, jwks_uri="https://id.example.com/jwks", algorithms=["HS256"])


def test_oct_key_in_jwks_is_never_used(keys: Keys) -> None:
    secret = secrets.token_bytes(32)
    oct_jwk = {"kty": "oct", "kid": "hmac", "k": b64(secret), "alg": "HS256"}
    assert len(KeySet.from_jwks({"keys": [oct_jwk]}, algorithms=["HS256"])) == 0
    verifier = static_verifier(keys, jwks=[keys.jwk(keys.rsa, "rsa-1", "RS256"), oct_jwk])
    rejects(verifier, keys.token(alg="HS256", key=secret, kid="hmac"), AlgorithmNotAllowedError)


def test_rsa_jwk_claiming_hs256_is_skipped(keys: Keys) -> None:
    jwk = keys.jwk(keys.rsa, "rsa-1", "HS256")
    assert len(KeySet.from_jwks({"keys": [jwk]}, algorithms=["RS256", "HS256"])) == 0
    pem = keys.rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    verifier = static_verifier(keys, jwks=[jwk, keys.jwk(keys.rsa2, "other", "RS256")])
    rejects(verifier, keys.token(alg="HS256", key=pem), AlgorithmNotAllowedError)
    rejects(verifier, keys.token(), UnknownKeyError)  # the key pinned to HS256 verifies nothing


def test_alg_must_fit_the_key_family(keys: Keys) -> None:
    jwks = [keys.jwk(keys.rsa, "rsa-1", "RS256"), keys.jwk(keys.ec, "ec-1", "ES256")]
    verifier = static_verifier(keys, jwks=jwks, algorithms=("RS256", "ES256", "PS256"))
    rejects(verifier, keys.token(alg="ES256", key=keys.ec, kid="rsa-1"), AlgorithmNotAllowedError)
    rejects(verifier, keys.token(alg="RS256", kid="ec-1"), AlgorithmNotAllowedError)
    # The RSA JWK's own alg pins it to RS256: a PS256 token under that kid does not fit.
    rejects(verifier, keys.token(alg="PS256", kid="rsa-1"), AlgorithmNotAllowedError)
    assert verifier.verify(keys.token(alg="ES256", key=keys.ec, kid="ec-1"))["sub"] == "alice"


def test_ps256_verifies_when_allowed_and_key_unpinned(keys: Keys) -> None:
    verifier = static_verifier(keys, jwks=[keys.jwk(keys.rsa, "rsa-1")], algorithms=("PS256",))
    assert verifier.verify(keys.token(alg="PS256"))["sub"] == "alice"
    rejects(verifier, keys.token(alg="RS256"), AlgorithmNotAllowedError)
    rejects(verifier, keys.token(alg="PS256", key=keys.attacker), InvalidSignatureError)


def test_eddsa_verifies_and_forgeries_fail(keys: Keys) -> None:
    verifier = static_verifier(keys, jwks=[keys.jwk(keys.ed, "ed-1")], algorithms=("EdDSA",))
    assert verifier.verify(keys.token(alg="EdDSA", key=keys.ed, kid="ed-1"))["sub"] == "alice"
    other = ed25519.Ed25519PrivateKey.generate()
    rejects(verifier, keys.token(alg="EdDSA", key=other, kid="ed-1"), InvalidSignatureError)
    good = keys.token(alg="EdDSA", key=keys.ed, kid="ed-1")
    head, payload, sig = good.split(".")
    rejects(verifier, f"{head}.{payload}.{b64(base64.urlsafe_b64decode(sig + '==')[:-1])}",
            InvalidSignatureError)


def test_rsa_key_under_2048_bits_is_refused(keys: Keys) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the attack
    assert KeySet.from_jwks({"keys": [keys.jwk(small, "s")]}, algorithms=["RS256"]).skipped == (
        ("s", "rsa_too_small"),)
    pem = small.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISS, audience=AUD, public_key=pem)


def test_private_jwk_members_disqualify_the_key(keys: Keys) -> None:
    private = dict(RSAAlgorithm.to_jwk(keys.rsa, as_dict=True), kid="rsa-1")
    assert len(KeySet.from_jwks({"keys": [private]}, algorithms=["RS256"])) == 0


# -- ECDSA signature encodings ---------------------------------------------------------------------


def _es256(keys: Keys) -> tuple[Verifier, str]:
    verifier = static_verifier(keys, jwks=[keys.jwk(keys.ec, "ec-1", "ES256")], algorithms=("ES256",))
    return verifier, keys.token(alg="ES256", key=keys.ec, kid="ec-1")


def test_ecdsa_zero_and_order_signatures_are_rejected(keys: Keys) -> None:
    verifier, good = _es256(keys)
    head, payload, _ = good.split(".")
    n = P256_ORDER.to_bytes(32, "big")
    for raw in (b"\x00" * 64, n + n, b"\x00" * 31 + b"\x01" + n, n + b"\x00" * 31 + b"\x01"):
        rejects(verifier, f"{head}.{payload}.{b64(raw)}", InvalidSignatureError)


def test_ecdsa_wrong_length_and_der_signatures_are_rejected(keys: Keys) -> None:
    verifier, good = _es256(keys)
    head, payload, sig = good.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    for bad in (raw[:-1], raw + b"\x00", b"\x00" + raw, encode_dss_signature(r, s), raw[:32]):
        rejects(verifier, f"{head}.{payload}.{b64(bad)}", InvalidSignatureError)


def test_ecdsa_signature_over_other_bytes_is_rejected(keys: Keys) -> None:
    verifier, good = _es256(keys)
    der = ALGS["ES256"].prepare_key(keys.ec).sign(b"other", ec.ECDSA(__import__(
        "cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256()))
    r, s = decode_dss_signature(der)
    head, payload, _ = good.split(".")
    rejects(verifier, f"{head}.{payload}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}",
            InvalidSignatureError)


# -- kid tricks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["../../../../etc/passwd", "rsa-1\x00", "RSA-1", " rsa-1", "rsa-1/",
                                 "*", "", "%2e%2e/rsa-1"])
def test_kid_tricks_find_no_key(keys: Keys, kid: str) -> None:
    verifier = static_verifier(keys, jwks=[keys.jwk(keys.rsa, "rsa-1", "RS256"),
                                           keys.jwk(keys.rsa2, "rsa-2", "RS256")])
    rejects(verifier, keys.token(kid=kid), UnknownKeyError)


@pytest.mark.parametrize("kid", [1, None, ["rsa-1"], {"kid": "rsa-1"}, True])
def test_kid_of_another_type_is_malformed(keys: Keys, verifier: Verifier, kid: Any) -> None:
    rejects(verifier, keys.token(kid=kid), MalformedTokenError)


def test_missing_kid_uses_the_only_key_but_never_guesses_among_several(keys: Keys) -> None:
    one = static_verifier(keys)
    assert one.verify(keys.token(kid=_DROP))["sub"] == "alice"
    several = static_verifier(keys, jwks=[keys.jwk(keys.rsa, "rsa-1", "RS256"),
                                          keys.jwk(keys.rsa2, "rsa-2", "RS256")])
    rejects(several, keys.token(kid=_DROP), UnknownKeyError)


def test_duplicate_kid_is_ambiguous_and_unused(keys: Keys) -> None:
    verifier = static_verifier(keys, jwks=[keys.jwk(keys.rsa, "dup", "RS256"),
                                           keys.jwk(keys.attacker, "dup", "RS256"),
                                           keys.jwk(keys.rsa2, "rsa-2", "RS256")])
    rejects(verifier, keys.token(kid="dup"), UnknownKeyError)
    rejects(verifier, keys.token(kid="dup", key=keys.attacker), UnknownKeyError)


# -- header key pointers: never fetched, never trusted ---------------------------------------------


class Hostile:
    """A loopback HTTP server answering every GET with a fixed body; counts requests."""

    def __init__(self, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.body, self.status, self.headers = body, status, dict(headers or {})
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (size cap, deadline)
                    self.wfile.write(owner.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Hostile:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_embedded_jwk_jku_x5u_x5c_are_never_trusted_or_fetched(keys: Keys) -> None:
    attacker_jwk = keys.jwk(keys.attacker, "rsa-1", "RS256")
    with Hostile(enc({"keys": [attacker_jwk]})) as evil:
        verifier = static_verifier(keys)
        cert_der = b64(b"not a certificate, but an attacker would send one")
        for header in ({"jwk": attacker_jwk}, {"jku": evil.url + "/jwks"}, {"x5u": evil.url + "/cert"},
                       {"x5c": [cert_der]}, {"jwk": attacker_jwk, "kid": _DROP}):
            rejects(verifier, keys.token(key=keys.attacker, **header), InvalidSignatureError)
        assert evil.requests == 0


# -- header extensions ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    {"crit": ["exp"], "exp": NOW},
    {"crit": ["b64"], "b64": False},
    {"b64": False},
    {"b64": True},
    {"crit": []},
    {"crit": "exp"},
    {"cty": "JWT"},
    {"cty": "application/jwt"},
    {"typ": 7},
])
def test_unsupported_header_extensions_are_malformed(keys: Keys, verifier: Verifier,
                                                     header: dict[str, Any]) -> None:
    rejects(verifier, keys.token(**header), MalformedTokenError)


@pytest.mark.parametrize("typ", ["logout+jwt", "dpop+jwt", "secevent+jwt", "", "JWT ", "jwe"])
def test_other_token_types_are_rejected(keys: Keys, verifier: Verifier, typ: str) -> None:
    err = rejects(verifier, keys.token(typ=typ), InvalidClaimError)
    assert isinstance(err, InvalidClaimError)
    assert err.claim == "typ"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "application/at+JWT", _DROP])
def test_default_token_types_are_accepted(keys: Keys, verifier: Verifier, typ: Any) -> None:
    assert verifier.verify(keys.token(typ=typ))["sub"] == "alice"


def test_jwe_is_rejected(keys: Keys, verifier: Verifier) -> None:
    jwe = ".".join(b64(p) for p in (enc({"alg": "RSA-OAEP", "enc": "A256GCM"}), b"k", b"iv", b"ct", b"tag"))
    rejects(verifier, jwe, MalformedTokenError)
    three = b64(enc({"alg": "RSA-OAEP", "enc": "A256GCM"})) + "." + b64(enc(claims())) + "." + b64(b"x")
    rejects(verifier, three, MalformedTokenError)  # a JWE header in three segments is no JWS at all


# -- encoding tricks --------------------------------------------------------------------------------


def _mutations(token: str) -> Iterator[str]:
    head, payload, sig = token.split(".")
    yield token + "="
    yield f"{head}=.{payload}.{sig}"
    yield f"{head}.{payload}.{sig}=="
    yield token.replace("-", "+").replace("_", "/") if ("-" in token or "_" in token) else token + "+"
    yield " " + token
    yield token + " "
    yield token + "\n"
    yield f"{head}.{payload} .{sig}"
    yield f"{head}\t.{payload}.{sig}"
    yield f"{head}.{payload}.{sig}."
    yield f".{head}.{payload}.{sig}"
    yield f"{head}..{sig}"
    yield f"{head}.{payload}"
    yield f"{head}.{payload}.{sig}\u200b"
    yield f"{head}.{payload}.{sig[:-1]}\uff41"


def test_padding_alphabet_and_whitespace_variants_are_rejected(keys: Keys) -> None:
    verifier = static_verifier(keys, verified_cache_size=0)
    token = keys.token()
    for variant in _mutations(token):
        rejects(verifier, variant, MalformedTokenError)


def test_non_canonical_trailing_bits_in_signature_are_rejected(keys: Keys) -> None:
    # 256-byte RSA signature -> 342 base64url chars (4n+2): the last char carries 4 unused bits.
    verifier = static_verifier(keys, verified_cache_size=0)
    token = keys.token()
    head, payload, sig = token.split(".")
    assert len(sig) % 4 == 2
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(sig[-1]) + 1]  # same decoded bytes, non-zero unused bits
    assert base64.urlsafe_b64decode(sig[:-1] + twin + "==") == base64.urlsafe_b64decode(sig + "==")
    rejects(verifier, f"{head}.{payload}.{sig[:-1]}{twin}", MalformedTokenError)


def test_oversized_token_is_rejected_before_decoding(keys: Keys, verifier: Verifier) -> None:
    big = keys.token(claims(pad="x" * 20000))
    rejects(verifier, big, MalformedTokenError)
    rejects(verifier, "a" * 10_000_000 + ".b.c", MalformedTokenError)


@pytest.mark.parametrize("nested", [b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 3000 + b"1" + b"}" * 3000])
def test_deep_json_is_malformed_not_recursion_error(keys: Keys, nested: bytes) -> None:
    verifier = static_verifier(keys, max_token_bytes=1 << 22)
    body = b'{"iss":"' + ISS.encode() + b'","exp":' + str(NOW + 60).encode() + b',"x":' + nested + b"}"
    rejects(verifier, sign_raw(enc({"alg": "RS256"}), body, "RS256", keys.rsa), MalformedTokenError)
    rejects(verifier, sign_raw(b'{"alg":"RS256","x":' + nested + b"}", enc(claims()), "RS256", keys.rsa),
            MalformedTokenError)


@pytest.mark.parametrize(("header", "payload"), [
    (b'{"alg":"RS256","alg":"none"}', None),
    (b'{"alg":"RS256","kid":"rsa-1","kid":"rsa-2"}', None),
    (None, b'{"iss":"https://id.example.com/","aud":"api://shows","exp":1700000600,"sub":"alice","sub":"admin"}'),
    (None, b'{"iss":"https://evil/","iss":"https://id.example.com/","aud":"api://shows","exp":1700000600}'),
    (None, b'{"iss":"https://id.example.com/","aud":"api://shows","exp":1700000600,"s\\u0075b":"a","sub":"b"}'),
])
def test_duplicate_member_names_are_rejected(keys: Keys, verifier: Verifier, header: bytes | None,
                                             payload: bytes | None) -> None:
    hdr = header or enc({"alg": "RS256", "kid": "rsa-1"})
    token = sign_raw(hdr, payload or enc(claims()), "RS256", keys.rsa)
    rejects(verifier, token, MalformedTokenError)


@pytest.mark.parametrize("raw", [
    "\ufeff".encode() + enc(claims()),                     # BOM
    enc(claims()).decode().encode("utf-16"),               # UTF-16
    b'{"iss":"\xc0\xafx","exp":1700000600}',               # overlong '/'
    b'{"iss":"\xed\xa0\x80","exp":1700000600}',            # encoded surrogate
    b'{"iss":"\\ud800","exp":1700000600}',                 # lone surrogate escape
    b'{"exp":NaN}', b'{"exp":Infinity}', b'{"exp":1e400}', b'{"exp":-Infinity}',
    b'["not","an","object"]', b'"string"', b"null", b"",
])
def test_payload_must_be_strict_utf8_json_object(keys: Keys, verifier: Verifier, raw: bytes) -> None:
    rejects(verifier, sign_raw(enc({"alg": "RS256", "kid": "rsa-1"}), raw, "RS256", keys.rsa),
            MalformedTokenError)


def test_unicode_escapes_in_iss_and_aud_decode_to_the_same_string(keys: Keys, verifier: Verifier) -> None:
    escaped = (b'{"iss":"https:\\/\\/id.example.com\\u002f","aud":"api:\\/\\/sh\\u006fws",'
               b'"sub":"alice","exp":1700000600}')
    token = sign_raw(enc({"alg": "RS256", "kid": "rsa-1"}), escaped, "RS256", keys.rsa)
    assert verifier.verify(token)["iss"] == ISS


@pytest.mark.parametrize("iss", [ISS.upper(), ISS.rstrip("/"), ISS + "/", ISS + "x", " " + ISS,
                                 ISS + "\u0000",
                                 "https://id.example.com\uff0f", [ISS], {"iss": ISS}, None, 1])
def test_issuer_must_match_exactly(keys: Keys, verifier: Verifier, iss: Any) -> None:
    err = rejects(verifier, keys.token(claims(iss=iss)), InvalidClaimError)
    assert isinstance(err, InvalidClaimError)
    assert err.claim == "iss"


def test_missing_issuer_is_rejected(keys: Keys, verifier: Verifier) -> None:
    rejects(verifier, keys.token(claims(iss=_DROP)), InvalidClaimError)


@pytest.mark.parametrize("aud", [1, None, True, {}, {"aud": AUD}, [], [1], [AUD, 1], [None], "API://SHOWS",
                                 AUD + " ", [AUD.upper()], ""])
def test_audience_must_be_a_string_or_array_holding_an_accepted_value(keys: Keys, verifier: Verifier,
                                                                        aud: Any) -> None:
    err = rejects(verifier, keys.token(claims(aud=aud)), InvalidClaimError)
    assert isinstance(err, InvalidClaimError)
    assert err.claim == "aud"


def test_audience_array_containing_accepted_value_passes(keys: Keys, verifier: Verifier) -> None:
    assert verifier.verify(keys.token(claims(aud=["other", AUD])))["sub"] == "alice"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [str(NOW + 600), True, False, None, [NOW], {"t": NOW}])
def test_time_claims_must_be_json_numbers(keys: Keys, verifier: Verifier, name: str, value: Any) -> None:
    if value is None:
        raw = enc(claims()).replace(f'"{name}":'.encode() + str(claims()[name]).encode(),
                                    f'"{name}":null'.encode())
        token = sign_raw(enc({"alg": "RS256", "kid": "rsa-1"}), raw, "RS256", keys.rsa)
    else:
        token = keys.token(claims(**{name: value}))
    err = rejects(verifier, token, InvalidClaimError)
    assert isinstance(err, InvalidClaimError)
    assert err.claim == name
    assert err.reason == "invalid"


def test_huge_time_claims_do_not_crash(keys: Keys, verifier: Verifier) -> None:
    assert verifier.verify(keys.token(claims(exp=10**300)))["sub"] == "alice"
    assert verifier.verify(keys.token(claims(exp=1.7e308)))["sub"] == "alice"
    rejects(verifier, keys.token(claims(nbf=10**300)), InvalidClaimError)
    rejects(verifier, keys.token(claims(iat=10**300)), InvalidClaimError)
    rejects(verifier, keys.token(claims(exp=-10**300)), TokenExpiredError)
    digits = b'{"iss":"https://id.example.com/","aud":"api://shows","exp":' + b"9" * 5000 + b"}"
    big = static_verifier(keys, max_token_bytes=1 << 16)
    huge = sign_raw(enc({"alg": "RS256", "kid": "rsa-1"}), digits, "RS256", keys.rsa)
    rejects(big, huge, MalformedTokenError)


def test_exp_is_required(keys: Keys, verifier: Verifier) -> None:
    err = rejects(verifier, keys.token(claims(exp=_DROP)), InvalidClaimError)
    assert isinstance(err, InvalidClaimError)
    assert (err.claim, err.reason) == ("exp", "missing")


def test_leeway_boundaries_exactly(keys: Keys) -> None:
    def at(now: float) -> Verifier:
        return static_verifier(keys, now=now, leeway_seconds=60, verified_cache_size=0)

    token = keys.token(claims(exp=NOW + 600, nbf=NOW, iat=NOW))
    assert at(NOW + 659.999).verify(token)
    rejects(at(NOW + 660), token, TokenExpiredError)
    assert at(NOW - 60).verify(token)  # nbf == now + leeway: still accepted
    rejects(at(NOW - 60.001), token, InvalidClaimError)
    zero = static_verifier(keys, now=NOW + 600, leeway_seconds=0, verified_cache_size=0)
    rejects(zero, token, TokenExpiredError)  # exp == now is expired (RFC 7519 §4.1.4: "on or after")


def test_non_string_sub_is_invalid(keys: Keys, verifier: Verifier) -> None:
    for sub in (1, ["alice"], {"id": "alice"}, True):
        rejects(verifier, keys.token(claims(sub=sub)), InvalidClaimError)


# -- verified-token cache ------------------------------------------------------------------------


def test_mutating_returned_claims_never_reaches_the_cache(keys: Keys, verifier: Verifier) -> None:
    token = keys.token(claims(scope="read", roles=["user"]))
    first = verifier.verify(token)
    first["sub"] = "admin"
    first["scope"] = "admin"
    first["roles"].append("admin")
    second = verifier.verify(token)
    assert (second["sub"], second["scope"], second["roles"]) == ("alice", "read", ["user"])
    second["roles"].append("admin")
    assert verifier.verify(token)["roles"] == ["user"]


def test_cache_never_accepts_a_sibling_of_a_cached_token(keys: Keys, verifier: Verifier) -> None:
    good = keys.token()
    verifier.verify(good)
    head, payload, sig = good.split(".")
    forged_payload = b64(enc(claims(sub="admin")))
    for sibling in (f"{head}.{forged_payload}.{sig}", f"{head}.{payload}.{b64(b'x' * 256)}",
                    f"{head}.{payload}.", good + "=", good[:-1]):
        rejects(verifier, sibling)


def test_cache_rechecks_expiry_and_custom_checks_on_hits(keys: Keys) -> None:
    clock = [float(NOW)]
    verifier = Verifier(issuer=ISS, audience=AUD, jwks={"keys": [keys.jwk(keys.rsa, "rsa-1", "RS256")]},
                        clock=lambda: clock[0], leeway_seconds=0)
    token = keys.token(claims(exp=NOW + 10))
    verifier.verify(token)
    clock[0] = NOW + 10
    rejects(verifier, token, TokenExpiredError)


def test_cached_token_is_rejected_once_its_key_leaves_the_jwks_without_cache(issuer: DevIssuer) -> None:
    # Control for the hole below: with no verified-token cache, a key dropped from the JWKS is noticed.
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, verified_cache_size=0,
                        jwks_max_age_seconds=1e-9, unknown_kid_cooldown_seconds=0)
    token = issuer.mint()
    verifier.verify(token)
    verifier.verify(token)
    issuer.rotate(keep_old=False)
    rejects(verifier, token, UnknownKeyError)


def test_cached_token_is_rejected_once_its_key_leaves_the_jwks(issuer: DevIssuer) -> None:
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience,
                        jwks_max_age_seconds=1e-9, unknown_kid_cooldown_seconds=0)
    token = issuer.mint()
    verifier.verify(token)
    verifier.verify(token)  # now cached under the current key-set generation
    issuer.rotate(keep_old=False)  # the issuer revokes the signing key
    rejects(verifier, token, UnknownKeyError)


# -- JWKS endpoint faults ---------------------------------------------------------------------------


def remote(dev: DevIssuer, **options: Any) -> Verifier:
    kwargs: dict[str, Any] = {"issuer": dev.issuer, "audience": dev.audience, "timeout_seconds": 1.0}
    kwargs.update(options)
    return Verifier(**kwargs)


@pytest.mark.parametrize("fault", ["500", "503", "slow", "drip", "huge", "huge_undeclared", "redirect",
                                   "not_json", "json_bomb", "wrong_shape", "wrong_issuer", "reset"])
def test_issuer_faults_are_keys_unavailable(issuer: DevIssuer, fault: str) -> None:
    issuer.fault = fault
    issuer.slow_seconds = 3
    err = rejects(remote(issuer), issuer.mint(), KeysUnavailableError)
    response = err.response()
    assert response.status == 503
    assert response.headers["Retry-After"]


@pytest.mark.parametrize("fault", ["500", "not_json", "wrong_shape", "redirect"])
def test_jwks_faults_behind_a_good_discovery_are_keys_unavailable(issuer: DevIssuer, fault: str) -> None:
    issuer.fault = fault
    issuer.fault_paths = {JWKS_PATH}
    rejects(remote(issuer), issuer.mint(), KeysUnavailableError)


def test_discovery_pointing_jwks_to_plain_http_elsewhere_is_refused(issuer: DevIssuer) -> None:
    issuer.discovery_overrides = {"jwks_uri": "http://keys.example.com/jwks.json"}
    rejects(remote(issuer), issuer.mint(), KeysUnavailableError)
    assert issuer.requests[JWKS_PATH] == 0


def test_plain_http_key_urls_off_loopback_are_configuration_errors() -> None:
    cases: tuple[dict[str, Any], ...] = (
        {"issuer": "http://id.example.com"},
        {"issuer": ISS, "jwks_uri": "http://id.example.com/jwks"},
        {"issuer": ISS, "jwks_uri": "http://127.0.0.1.nip.io/jwks"},
        {"issuer": ISS, "jwks_uri": "https://user:pw@id.example.com/jwks"},
    )
    for kwargs in cases:
        with pytest.raises(ConfigurationError):
            Verifier(audience=AUD, **kwargs)


def test_wrong_shapes_of_a_jwks_body_are_keys_unavailable() -> None:
    for body in (b'{"keys":{}}', b'{"keys":"x"}', b"{}", b"[]", b'{"keys":[1,"x",null]}', b"\xff\xfe"):
        with Hostile(body) as server:
            verifier = Verifier(issuer=ISS, audience=AUD, jwks_uri=server.url + "/jwks", timeout_seconds=1,
                                clock=lambda: NOW)  # claims that pass: the keys decide
            rejects(verifier, b64(enc({"alg": "RS256"})) + "." + b64(enc(claims())) + "." + b64(b"s"),
                    KeysUnavailableError)


def test_unterminated_escaped_string_body_fails_fast() -> None:
    # A subprocess, so the hang (which holds the GIL) cannot freeze this run. 256 KiB: about 4 minutes
    # quadratic, milliseconds linear; 20 s only separates "finishes" from "hangs".
    script = (
        "from serverless_jwt._http import _parse, FetchError\n"
        "try:\n    _parse(b'\"' + b'\\\\\"' * (1 << 17))\nexcept FetchError as e:\n    print(e.reason)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the JWKS body parser did not finish")
    assert out.stdout.strip() == "not_json"


def test_single_flight_one_discovery_one_jwks_for_many_threads(issuer: DevIssuer) -> None:
    issuer.fault, issuer.slow_seconds = "slow", 0.3  # hold the first fetch so the others pile up
    verifier = remote(issuer, timeout_seconds=3)
    tokens = [issuer.mint(sub=f"u{i}") for i in range(24)]
    results: list[Any] = []
    barrier = threading.Barrier(len(tokens))

    def call(token: str) -> None:
        barrier.wait()
        try:
            results.append(verifier.verify(token)["sub"])
        except AuthError as err:
            results.append(err.code)

    threads = [threading.Thread(target=call, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(f"u{i}" for i in range(24))
    assert issuer.requests[DISCOVERY_PATH] == 1
    assert issuer.requests[JWKS_PATH] == 1


def test_unknown_kid_storm_costs_at_most_one_refetch(issuer: DevIssuer) -> None:
    verifier = remote(issuer)
    verifier.verify(issuer.mint())
    before = issuer.requests[JWKS_PATH]
    for i in range(60):
        rejects(verifier, issuer.mint_with_foreign_key(kid=f"storm-{i}"), UnknownKeyError)
    assert issuer.requests[JWKS_PATH] - before <= 1
    assert verifier.verify(issuer.mint())["sub"] == "dev-user"


def test_stale_keys_are_served_while_the_issuer_is_down(issuer: DevIssuer) -> None:
    verifier = remote(issuer, jwks_max_age_seconds=1e-9)
    verifier.verify(issuer.mint())
    issuer.fault = "500"
    assert verifier.verify(issuer.mint(sub="later"))["sub"] == "later"
    issuer.fault = "wrong_shape"
    assert verifier.verify(issuer.mint(sub="again"))["sub"] == "again"


def test_foreign_key_under_the_real_kid_fails_signature(issuer: DevIssuer) -> None:
    rejects(remote(issuer), issuer.mint_with_foreign_key(), InvalidSignatureError)


# -- event extraction through a decorated handler ---------------------------------------------------


def _ok(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": context.identity_context.subject}


def ctx() -> types.SimpleNamespace:
    return types.SimpleNamespace(function_name="fn", aws_request_id="r")


@pytest.fixture
def handler(keys: Keys) -> Callable[[Any], dict[str, Any]]:
    wrapped = require_auth(static_verifier(keys), realm="shows")(_ok)
    return lambda event: wrapped(event, ctx())


def rest(headers: Mapping[str, str] | None = None, multi: Mapping[str, list[str]] | None = None,
         method: str = "GET") -> dict[str, Any]:
    return {"resource": "/", "httpMethod": method, "headers": dict(headers or {}),
            "multiValueHeaders": dict(multi) if multi is not None else None,
            "requestContext": {"httpMethod": method, "stage": "prod"}}


def v2(headers: Mapping[str, str], method: str = "GET") -> dict[str, Any]:
    return {"version": "2.0", "headers": dict(headers),
            "requestContext": {"http": {"method": method, "path": "/"}, "domainName": "x.execute-api"}}


def test_authorization_header_variants(keys: Keys, handler: Callable[[Any], dict[str, Any]]) -> None:
    t = keys.token()
    accepted = [f"Bearer {t}", f"bearer {t}", f"BEARER {t}", f"Bearer   {t}", f"  Bearer {t}  ",
                f"Bearer\t{t}"]
    for value in accepted:
        assert handler(v2({"authorization": value}))["statusCode"] == 200, value
    bad_request = ["Bearer", "Bearer ", "Bearer  ", f"Bearer {t} extra", f"Bearer {t}\u00e9",
                   f"Bearer \u00e9{t}", f"Bearer {t},Bearer {t}", f"Bearer {t}, Basic abc", "Bearer \"x\"",
                   f"Bearer {t}\r\nX-Injected: 1"]
    for value in bad_request:
        response = handler(v2({"authorization": value}))
        assert response["statusCode"] == 400, value
        assert 'error="invalid_request"' in response["headers"]["WWW-Authenticate"]
    for value in ["Basic dXNlcjpwdw==", "", "Token abc", f"Bearer{t}"]:
        response = handler(v2({"authorization": value}))
        assert response["statusCode"] == 401, value
        assert response["headers"]["WWW-Authenticate"] == 'Bearer realm="shows"'


Handler = Callable[[Any], dict[str, Any]]


def test_two_authorization_headers_differing_in_case_rest_v1(keys: Keys, handler: Handler) -> None:
    good, evil = keys.token(), keys.token(key=keys.attacker)
    assert handler(rest({"Authorization": f"Bearer {good}", "authorization": f"Bearer {evil}"}))[
        "statusCode"] == 400
    assert handler(rest({"Authorization": f"Bearer {good}"},
                        {"Authorization": [f"Bearer {good}"], "authorization": [f"Bearer {evil}"]}))[
        "statusCode"] == 400
    assert handler(rest({"Authorization": f"Bearer {good}"},
                        {"Authorization": [f"Bearer {good}", f"Bearer {good}"]}))["statusCode"] == 400
    assert handler(rest({"Authorization": f"Bearer {good}"}, {"Authorization": [f"Bearer {good}"]}))[
        "statusCode"] == 200


def test_token_is_never_read_from_the_query_string(keys: Keys, handler: Handler) -> None:
    event = v2({})
    event["queryStringParameters"] = {"access_token": keys.token()}
    event["rawQueryString"] = "access_token=" + keys.token()
    assert handler(event)["statusCode"] == 401


def test_options_without_cors_headers_still_needs_a_token(handler: Callable[[Any], dict[str, Any]]) -> None:
    assert handler(v2({}, method="OPTIONS"))["statusCode"] == 401
    assert handler(v2({"origin": "https://app.example"}, method="OPTIONS"))["statusCode"] == 401
    assert handler(rest({"Access-Control-Request-Method": "GET"}, method="OPTIONS"))["statusCode"] == 401


# -- responses ------------------------------------------------------------------------------------


def test_error_responses_never_echo_the_token_or_token_values(keys: Keys) -> None:
    marker = "ZZMARKERZZ"
    wrapped = require_auth(static_verifier(keys), realm="shows")(require_scope("read:shows")(_ok))
    tokens = [
        keys.token(claims(iss=f"https://{marker}/", sub=marker)),
        keys.token(claims(aud=marker)),
        keys.token(claims(exp=NOW - 3600, sub=marker)),
        keys.token(claims(sub=marker), kid=marker),
        keys.token(claims(sub=marker), typ=marker),
        keys.token(claims(sub=marker), alg="HS256", key=b"k" * 32),
        keys.token(claims(sub=marker, scope=f"{marker} other")),
        keys.token(claims(sub=marker), key=keys.attacker),
        keys.token(claims(sub=marker))[:-3] + "AAA",
    ]
    for token in tokens:
        response = wrapped(v2({"authorization": f"Bearer {token}"}), ctx())
        assert response["statusCode"] in (401, 403), response
        text = json.dumps(response)
        assert marker not in text
        assert token not in text
        for segment in token.split("."):
            assert segment not in text


def test_www_authenticate_cannot_be_broken_by_realm_or_scope_text(keys: Keys) -> None:
    wrapped = require_auth(static_verifier(keys), realm='x", error="injected\r\nSet-Cookie: a=b')(_ok)
    value = wrapped(v2({}), ctx())["headers"]["WWW-Authenticate"]
    assert value.count('"') == 2
    assert "\r" not in value
    assert "\n" not in value
    with pytest.raises(ConfigurationError):
        require_scope('read" error="x')


def test_keys_unavailable_is_503_with_retry_after_through_the_decorator(issuer: DevIssuer) -> None:
    issuer.fault = "500"
    wrapped = require_auth(remote(issuer))(_ok)
    response = wrapped(v2({"authorization": f"Bearer {issuer.mint()}"}), ctx())
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"]


def _hostile_events(token: str) -> Iterator[Any]:
    yield None
    yield []
    yield "event"
    yield {}
    yield {"headers": None}
    yield {"headers": []}
    yield {"headers": {"authorization": None}}
    yield {"headers": {"authorization": ["Bearer " + token]}}
    yield {"headers": {1: "x", None: "y", "authorization": 5}}
    yield {"multiValueHeaders": {"authorization": "Bearer " + token}}
    yield {"multiValueHeaders": {"authorization": [None, 1]}, "headers": {"authorization": "Bearer " + token}}
    yield {"multiValueHeaders": []}
    yield {"requestContext": None, "httpMethod": 5}
    yield {"requestContext": {"http": "x", "elb": None}, "version": 2.0}
    yield {"requestContext": {"http": {"method": None}}, "version": "2.0",
           "headers": {"authorization": "Bearer"}}
    yield {"httpMethod": "OPTIONS", "headers": {"origin": 1, "access-control-request-method": None}}
    yield {"headers": {"authorization": "Bearer " + "a" * 1_000_000}}
    yield {"headers": {"authorization": "Bearer " + "a." * 3 + "a"}}
    yield {"headers": {"authorization": "Bearer " + token + "=" * 5000}}
    yield {"headers": {"authorization": "\x00Bearer " + token}}
    yield {"headers": {"authorization": "Bearer \udcff"}}
    yield {"cookies": [1, None], "headers": {"cookie": "nf_jwt=" + token}}


@pytest.mark.parametrize("stack", ["auth", "auth+scope", "scope-alone", "cookie"])
def test_hostile_events_never_raise_out_of_a_decorated_handler(keys: Keys, stack: str) -> None:
    verifier = static_verifier(keys)
    if stack == "auth":
        wrapped = require_auth(verifier)(_ok)
    elif stack == "auth+scope":
        wrapped = require_auth(verifier)(require_scope("read")(_ok))
    elif stack == "cookie":
        wrapped = require_auth(verifier, cookie_name="nf_jwt")(_ok)
    else:
        wrapped = require_scope("read", verifier=verifier)(_ok)
    token = keys.token(claims(exp=NOW - 10_000))
    for event in _hostile_events(token):
        for context in (ctx(), None, object(), 5):
            response = wrapped(event, context)
            assert response["statusCode"] in (400, 401, 403), (event if not isinstance(event, dict) else
                                                               list(event))


# -- the sample functions under attack ------------------------------------------------------------


def _sample(name: str, dev: DevIssuer) -> Callable[[dict[str, Any]], Any]:
    from serverless_jwt.dev.runtime import FunctionRunner
    from serverless_jwt.dev.template import Template

    runner = FunctionRunner(Template(ROOT / "template.yaml").function(name),
                            environment={"JWT_ISSUER": dev.issuer, "JWT_AUDIENCE": dev.audience},
                            log_stream=open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the runner
    return runner.invoke


def _preflight(path: str) -> dict[str, Any]:
    return {"version": "2.0", "rawPath": path, "routeKey": f"OPTIONS {path}",
            "headers": {"origin": "https://evil.example", "access-control-request-method": "GET"},
            "requestContext": {"http": {"method": "OPTIONS", "path": path}, "domainName": "x.execute-api"}}


@pytest.mark.parametrize("name", ["MeFunction", "ShowsFunction"])
def test_sample_functions_refuse_forged_and_missing_tokens(issuer: DevIssuer, name: str) -> None:
    invoke = _sample(name, issuer)
    path = "/me" if name == "MeFunction" else "/shows"
    event = _preflight(path)
    event["routeKey"] = f"GET {path}"
    event["requestContext"]["http"]["method"] = "GET"
    event["headers"] = {}
    assert invoke(event)["statusCode"] == 401
    for token in (issuer.mint_with_foreign_key(scopes=["read:shows"]),
                  issuer.mint(alg="HS256", secret=issuer.public_pem(), scopes=["read:shows"]),
                  issuer.mint(issuer=issuer.issuer + "/", scopes=["read:shows"])):
        event["headers"] = {"authorization": f"Bearer {token}"}
        assert invoke(event)["statusCode"] == 401


def test_preflight_to_shows_sample_does_not_return_protected_data(issuer: DevIssuer) -> None:
    response = _sample("ShowsFunction", issuer)(_preflight("/shows"))
    assert response["statusCode"] in (200, 204)
    assert "Under the Dome" not in str(response.get("body"))


def test_preflight_to_me_sample_is_not_a_500(issuer: DevIssuer) -> None:
    response = _sample("MeFunction", issuer)(_preflight("/me"))
    assert response["statusCode"] in (200, 204)
