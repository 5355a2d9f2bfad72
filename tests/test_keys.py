"""keys: which JWKs are usable and for which algorithms; static PEM keys; HS secrets."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, x25519
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from serverless_jwt import token
from serverless_jwt._jwk import public_key_algorithms, roca_vulnerable
from serverless_jwt.errors import (
    ConfigurationError,
    InvalidSignatureError,
    KeysUnavailableError,
    MalformedTokenError,
    UnknownKeyError,
)
from serverless_jwt.keys import KeySet, SecretKeys, StaticKeySource, VerificationKey
from serverless_jwt.verifier import Verifier

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
SMALL_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
ALL_ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                  "ES256K", "EdDSA"]


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _signed(alg: str, key: Any, kid: str | None = None) -> tuple[str, bytes, bytes]:
    token = jwt.encode({"sub": "x"}, key, algorithm=alg, headers={"kid": kid} if kid else None)
    head, payload, sig = token.split(".")
    return alg, f"{head}.{payload}".encode(), _b64d(sig)


def _jwk(private: Any, **extra: Any) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        out = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        out = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        out = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**out, **extra}


def _only(jwk: dict[str, Any], algorithms: list[str] | None = None) -> KeySet:
    return KeySet.from_jwks({"keys": [jwk]}, algorithms=algorithms or ALL_ASYMMETRIC)


# -- verification ------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_rsa_key_verifies_real_signatures(alg: str) -> None:
    key = _only(_jwk(RSA_KEY, kid="r1")).select({"kid": "r1"})
    assert key is not None
    signed = _signed(alg, RSA_KEY)
    assert key.verify(*signed)
    assert key.checkers[alg](signed[1], signed[2])
    assert not key.verify(alg, signed[1] + b"x", signed[2])
    # Each algorithm checks with its own hash and padding: a genuine signature under a sibling fails.
    for other in {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} - {alg}:
        assert not key.verify(other, signed[1], signed[2])
    assert not key.checkers[alg](signed[1], "not bytes")  # type: ignore[arg-type]


def test_ec_key_verifies_raw_r_s_signatures_and_rejects_wrong_lengths() -> None:
    key = _only(_jwk(EC_KEY, kid="e1")).select({"kid": "e1"})
    assert key is not None
    alg, signing_input, signature = _signed("ES256", EC_KEY)
    assert len(signature) == 64
    assert key.verify(alg, signing_input, signature)
    assert not key.verify(alg, signing_input, signature[:-1])
    assert not key.verify(alg, signing_input, signature + b"\0")
    assert not key.verify(alg, signing_input, b"")


def test_eddsa_key_verifies() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key = _only(_jwk(private, kid="o1")).select({"kid": "o1"})
    assert key is not None
    assert key.algorithms == {"EdDSA"}
    assert key.verify(*_signed("EdDSA", private))


@pytest.mark.parametrize(("private", "curve", "other"), [
    (ed25519.Ed25519PrivateKey.generate(), "Ed25519", "Ed448"),
    (ed448.Ed448PrivateKey.generate(), "Ed448", "Ed25519"),
])
def test_rfc9864_names_verify_only_on_their_own_curve(private: Any, curve: str, other: str) -> None:
    all_okp = [*ALL_ASYMMETRIC, "Ed25519", "Ed448"]
    key = KeySet.from_jwks({"keys": [_jwk(private, kid="o1")]}, algorithms=all_okp).select({"kid": "o1"})
    assert key is not None
    assert key.algorithms == {"EdDSA", curve}
    _, signing_input, signature = _signed("EdDSA", private)  # one signature, whatever the alg says
    assert key.verify("EdDSA", signing_input, signature)
    assert key.verify(curve, signing_input, signature)
    assert not key.verify(other, signing_input, signature)  # never the other curve's name
    pinned = KeySet.from_jwks({"keys": [_jwk(private, kid="o1", alg="EdDSA")]}, algorithms=all_okp)
    assert pinned.select({"kid": "o1"}).algorithms == {"EdDSA"}  # type: ignore[union-attr]
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    from_pem = KeySet.from_pem(pem, algorithms=all_okp).select({})
    assert from_pem is not None
    assert from_pem.algorithms == {"EdDSA", curve}


def test_verify_never_raises_and_refuses_algorithms_outside_the_key() -> None:
    key = _only(_jwk(RSA_KEY, kid="r1"), ["RS256"]).select({"kid": "r1"})
    assert key is not None
    alg, signing_input, signature = _signed("RS512", RSA_KEY)
    assert not key.verify(alg, signing_input, signature)  # a genuine RS512 signature, but not allowed
    assert not key.verify("HS256", signing_input, signature)
    assert not key.verify("nonsense", b"", b"")
    assert not key.verify("RS256", signing_input, b"\xff" * 1000)


def test_public_key_material_is_never_an_hmac_key() -> None:
    # Classic alg confusion: an HS256 token signed with the issuer's public key PEM as the "secret".
    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=")
    signing_input = header + b".e30"
    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    for keys in (_only(_jwk(RSA_KEY), [*ALL_ASYMMETRIC, "HS256"]),
                 KeySet.from_pem(pem, algorithms=[*ALL_ASYMMETRIC, "HS256"])):
        key = keys.select({})
        assert key is not None
        assert "HS256" not in key.algorithms
        assert not key.verify("HS256", signing_input, signature)


def test_repr_shows_no_key_material() -> None:
    key = SecretKeys(["s" * 40], algorithms=["HS256"]).keys_for({})[0]
    assert "sss" not in repr(key)
    assert "sss" not in repr(SecretKeys(["s" * 40], algorithms=["HS256"]))


# -- JWKS filtering ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        (_jwk(RSA_KEY, kid="k", d="AQAB"), "private_members"),
        (_jwk(EC_KEY, kid="k", d="AQAB"), "private_members"),
        (_jwk(SMALL_RSA_KEY, kid="k"), "rsa_too_small"),
        (_jwk(RSA_KEY, kid="k", use="enc"), "not_for_signatures"),
        (_jwk(RSA_KEY, kid="k", key_ops=["encrypt"]), "not_for_verify"),
        (_jwk(RSA_KEY, kid="k", key_ops="verify"), "bad_key_ops"),
        (_jwk(RSA_KEY, kid="k", key_ops=["verify", 1]), "bad_key_ops"),
        (_jwk(RSA_KEY, kid="k", key_ops=[["verify"]]), "bad_key_ops"),
        (_jwk(RSA_KEY, kid="k", key_ops=["verify", "verify"]), "duplicate_key_ops"),
        (_jwk(RSA_KEY, kid="k", use="sig", key_ops=["verify", "encrypt"]), "use_key_ops_conflict"),
        (_jwk(RSA_KEY, kid="k", use="sig", key_ops=["verify", "unwrapKey"]), "use_key_ops_conflict"),
        ({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "k"}, "symmetric"),
        ({"kty": "oct", "kid": "k", "alg": "HS256"}, "symmetric"),
        (_jwk(EC_KEY, kid="k", alg="ES384"), "no_allowed_algorithm"),
        (_jwk(ec.generate_private_key(ec.SECP384R1()), kid="k", alg="ES256"), "no_allowed_algorithm"),
        (_jwk(RSA_KEY, kid="k", alg="ES256"), "no_allowed_algorithm"),
        (_jwk(RSA_KEY, kid="k", alg=["RS256"]), "bad_alg"),
        (_jwk(RSA_KEY, kid=7), "bad_kid"),
        ({"kty": "RSA", "kid": "k", "n": "!!!", "e": "AQAB"}, "malformed"),
        ({"kty": "EC", "kid": "k", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "malformed"),
        ({"kty": "EC", "kid": "k", "crv": "P-192", "x": "AAAA", "y": "AAAA"}, "unsupported_curve"),
        ({"kty": "OKP", "kid": "k", "crv": "X25519", "x": base64.urlsafe_b64encode(
            x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()).decode().rstrip("=")},
         "unsupported_curve"),
        ({"kty": "PQC", "kid": "k"}, "unknown_kty"),
        ({"kid": "k"}, "unknown_kty"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_unusable_jwks_are_skipped_with_a_reason(jwk: dict[str, Any], reason: str) -> None:
    keys = _only(jwk)
    assert len(keys) == 0
    assert keys.select({"kid": "k"}) is None
    assert [r for _, r in keys.skipped] == [reason]


def test_a_malformed_key_does_not_hide_the_good_ones() -> None:
    jwks = {"keys": ["junk", {"kty": "RSA", "n": 5}, _jwk(RSA_KEY, kid="good")]}
    keys = KeySet.from_jwks(jwks, algorithms=["RS256"])
    assert [k.kid for k in keys] == ["good"]


def test_use_sig_and_verify_key_ops_are_accepted() -> None:
    keys = _only(_jwk(RSA_KEY, kid="k", use="sig", key_ops=["verify"]))
    assert len(keys) == 1


def test_key_ops_may_name_other_signature_operations_and_unregistered_ones() -> None:
    # RFC 7517 §4.3: "sign" fits use=sig, and values outside the registry MAY be used.
    assert len(_only(_jwk(RSA_KEY, kid="k", use="sig", key_ops=["sign", "verify", "x-audit"]))) == 1
    # Without use, unrelated operations are a SHOULD NOT, not a MUST NOT: the key still verifies.
    assert len(_only(_jwk(RSA_KEY, kid="k", key_ops=["verify", "encrypt"]))) == 1


def test_curve_decides_the_algorithm() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    key = _only(_jwk(p384, kid="k")).select({"kid": "k"})
    assert key is not None
    assert key.algorithms == {"ES384"}
    assert not key.verify("ES256", *_signed("ES384", p384)[1:])
    assert key.verify(*_signed("ES384", p384))


def test_secp256k1_only_when_es256k_is_allowed() -> None:
    k1 = _jwk(ec.generate_private_key(ec.SECP256K1()), kid="k")
    assert len(_only(k1, ["ES256"])) == 0
    assert _only(k1, ["ES256K"]).select({"kid": "k"}) is not None


def test_jwk_alg_restricts_and_the_allow_list_intersects() -> None:
    pinned = _only(_jwk(RSA_KEY, kid="k", alg="RS256"), ["RS256", "PS256"]).select({"kid": "k"})
    assert pinned is not None
    assert pinned.algorithms == {"RS256"}
    assert not pinned.verify(*_signed("PS256", RSA_KEY))
    free = _only(_jwk(RSA_KEY, kid="k"), ["RS256", "PS256", "ES256"]).select({"kid": "k"})
    assert free is not None
    assert free.algorithms == {"RS256", "PS256"}


def test_duplicate_kid_drops_both_keys() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [_jwk(RSA_KEY, kid="dup"), _jwk(other, kid="dup"), _jwk(EC_KEY, kid="fine")]}
    keys = KeySet.from_jwks(jwks, algorithms=ALL_ASYMMETRIC)
    assert keys.select({"kid": "dup"}) is None
    assert keys.select({"kid": "fine"}) is not None
    assert [r for _, r in keys.skipped] == ["duplicate_kid", "duplicate_kid"]


def test_keys_of_different_types_under_one_kid_are_each_used_for_their_own_algorithm() -> None:
    # RFC 7517 §4.5: different keys may share a kid when they have different kty ("equivalent
    # alternatives"). No algorithm fits both, so the token's alg tells them apart: nothing is ambiguous.
    jwks = {"keys": [_jwk(RSA_KEY, kid="shared"), _jwk(EC_KEY, kid="shared")]}
    keys = KeySet.from_jwks(jwks, algorithms=ALL_ASYMMETRIC)
    assert keys.skipped == ()
    for alg, kty in (("RS256", "RSA"), ("ES256", "EC")):
        key = keys.select({"kid": "shared", "alg": alg})
        assert key is not None
        assert key.kty == kty
    verifier = Verifier(jwks=jwks, require_audience=False)
    for alg, private in (("RS256", RSA_KEY), ("PS256", RSA_KEY), ("ES256", EC_KEY)):
        good = jwt.encode({"sub": alg, "exp": 4102444800}, private, algorithm=alg, headers={"kid": "shared"})
        assert verifier.verify(good)["sub"] == alg
    forger = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode({"sub": "a", "exp": 4102444800}, forger, algorithm="ES256", headers={"kid": "shared"})
    with pytest.raises(InvalidSignatureError):
        verifier.verify(forged)


def test_two_keys_under_one_kid_pinned_to_different_algorithms_are_each_used_for_theirs() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [_jwk(RSA_KEY, kid="k", alg="RS256"), _jwk(other, kid="k", alg="PS256")]}
    verifier = Verifier(jwks=jwks, require_audience=False)
    for alg, private in (("RS256", RSA_KEY), ("PS256", other)):
        good = jwt.encode({"sub": alg, "exp": 4102444800}, private, algorithm=alg, headers={"kid": "k"})
        assert verifier.verify(good)["sub"] == alg
    # Each key verifies only its own algorithm: the other key's signature under it fails.
    swapped = jwt.encode({"sub": "a", "exp": 4102444800}, other, algorithm="RS256", headers={"kid": "k"})
    with pytest.raises(InvalidSignatureError):
        verifier.verify(swapped)
    # An algorithm both keys fit makes the kid ambiguous again: neither is used.
    both = KeySet.from_jwks({"keys": [_jwk(RSA_KEY, kid="k", alg="RS256"), _jwk(other, kid="k")]},
                           algorithms=ALL_ASYMMETRIC)
    assert both.select({"kid": "k", "alg": "PS256"}) is None
    assert [r for _, r in both.skipped] == ["duplicate_kid", "duplicate_kid"]


def test_the_same_key_published_twice_under_one_kid_is_one_key() -> None:
    jwks = {"keys": [_jwk(RSA_KEY, kid="same", alg="RS256"), _jwk(EC_KEY, kid="fine"),
                     _jwk(RSA_KEY, kid="same", alg="PS256")]}
    keys = KeySet.from_jwks(jwks, algorithms=ALL_ASYMMETRIC)
    key = keys.select({"kid": "same"})
    assert key is not None
    assert key.algorithms == {"RS256", "PS256"}  # what the issuer published for it, together
    assert key.verify(*_signed("RS256", RSA_KEY))
    assert key.verify(*_signed("PS256", RSA_KEY))
    assert [k.kid for k in keys] == ["same", "fine"]
    assert not keys.skipped


@pytest.mark.parametrize("doc", [[], {}, {"keys": {}}, {"keys": "x"}, {"jwks": []}])
def test_a_document_that_is_not_a_jwks_is_unavailable(doc: Any) -> None:
    with pytest.raises(KeysUnavailableError):
        KeySet.from_jwks(doc, algorithms=["RS256"])


def test_an_empty_jwks_is_an_empty_set() -> None:
    assert len(KeySet.from_jwks({"keys": []}, algorithms=["RS256"])) == 0


# -- selection ---------------------------------------------------------------------------------

def _two() -> KeySet:
    return KeySet.from_jwks({"keys": [_jwk(RSA_KEY, kid="a"), _jwk(EC_KEY, kid="b")]},
                            algorithms=ALL_ASYMMETRIC)


def test_select_by_kid() -> None:
    keys = _two()
    assert keys.select({"kid": "a"}).kty == "RSA"  # type: ignore[union-attr]
    assert keys.select({"kid": "b"}).kty == "EC"  # type: ignore[union-attr]
    assert keys.select({"kid": "c"}) is None


def test_select_without_kid_needs_exactly_one_key() -> None:
    with pytest.raises(UnknownKeyError):
        _two().select({"alg": "RS256"})
    one = _only(_jwk(RSA_KEY, kid="a"))
    assert one.select({"alg": "RS256"}) is not None
    with pytest.raises(UnknownKeyError):
        KeySet.from_jwks({"keys": []}, algorithms=["RS256"]).select({})


@pytest.mark.parametrize("kid", [None, 7, ["a"], {"a": 1}])
def test_a_non_string_kid_is_malformed(kid: Any) -> None:
    with pytest.raises(MalformedTokenError):
        _two().select({"kid": kid})


def test_a_single_anonymous_key_serves_any_kid() -> None:
    keys = KeySet.from_pem(_pem(RSA_KEY), algorithms=["RS256"])
    assert keys.select({"kid": "whatever"}) is not None
    with_kid = KeySet.from_pem(_pem(RSA_KEY), algorithms=["RS256"], kid="main")
    assert with_kid.select({"kid": "main"}) is not None
    assert with_kid.select({"kid": "other"}) is None


# -- PEM ---------------------------------------------------------------------------------------

def _pem(private: Any) -> bytes:
    return bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))


def test_from_pem_rsa_ec_and_certificate() -> None:
    rsa_key = KeySet.from_pem(_pem(RSA_KEY).decode(), algorithms=["RS256", "ES256"]).select({})
    assert rsa_key is not None
    assert rsa_key.algorithms == {"RS256"}
    assert rsa_key.verify(*_signed("RS256", RSA_KEY))
    ec_key = KeySet.from_pem(_pem(EC_KEY), algorithms=["RS256", "ES256"]).select({})
    assert ec_key is not None
    assert ec_key.verify(*_signed("ES256", EC_KEY))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(RSA_KEY.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(RSA_KEY, hashes.SHA256()))
    cert_key = KeySet.from_pem(cert.public_bytes(serialization.Encoding.PEM),
                               algorithms=["RS256"]).select({})
    assert cert_key is not None
    assert cert_key.verify(*_signed("RS256", RSA_KEY))


def test_from_pem_refuses_private_keys_garbage_small_rsa_and_unfit_algorithms() -> None:
    private_pem = RSA_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    small = SMALL_RSA_KEY
    for pem, algs in [(private_pem, ["RS256"]), (b"-----BEGIN PUBLIC KEY-----\nnope\n", ["RS256"]),
                      (_pem(small), ["RS256"]), (_pem(EC_KEY), ["RS256"]), (_pem(RSA_KEY), ["HS256"])]:
        with pytest.raises(ConfigurationError):
            KeySet.from_pem(pem, algorithms=algs)


# -- secrets -----------------------------------------------------------------------------------

def _hs(alg: str, secret: str | bytes) -> tuple[str, bytes, bytes]:
    return _signed(alg, secret)


def test_secret_keys_verify_with_any_configured_secret() -> None:
    new, old = "n" * 64, b"o" * 64
    source = SecretKeys([new, old], algorithms=["HS256", "HS512", "RS256"])
    candidates = source.keys_for({"alg": "HS256"})
    assert len(candidates) == 2
    for secret in (new, old):
        signed = _hs("HS512", secret)
        assert any(k.verify(*signed) for k in candidates)
    assert not any(k.verify(*_hs("HS256", "w" * 32)) for k in candidates)
    assert not any(k.verify(*_hs("HS384", new)) for k in candidates)  # HS384 not allowed
    assert all(k.algorithms == {"HS256", "HS512"} for k in candidates)


def test_str_secrets_are_utf8() -> None:
    secret = "é" * 16  # 32 bytes in UTF-8, 16 characters
    key = SecretKeys([secret], algorithms=["HS256"]).keys_for({})[0]
    assert key.verify(*_hs("HS256", secret.encode("utf-8")))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_short_secrets_need_an_explicit_opt_in() -> None:
    with pytest.raises(ConfigurationError):
        SecretKeys(["x" * 31], algorithms=["HS256"])
    key = SecretKeys(["x" * 8], algorithms=["HS256"], allow_short_secret=True).keys_for({})[0]
    assert key.verify(*_hs("HS256", "x" * 8))


@pytest.mark.parametrize(("secrets", "algs"),
                         [([], ["HS256"]), ([""], ["HS256"]), (["x" * 32], ["RS256"]), ([5], ["HS256"])])
def test_secret_configuration_errors(secrets: list[Any], algs: list[str]) -> None:
    with pytest.raises(ConfigurationError):
        SecretKeys(secrets, algorithms=algs, allow_short_secret=True)


def _public_key_texts() -> list[str]:
    ssh = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key())
    return [pem, "\n" + pem, ssh, jwk]


@pytest.mark.parametrize("secret", _public_key_texts(), ids=["pem", "pem-after-newline", "openssh", "jwk"])
def test_a_public_key_is_refused_as_an_hmac_secret(secret: str) -> None:
    # RFC 8725 §2.1: HS tokens "signed" with a published key are forgeable by anyone.
    for form in (secret, secret.encode()):
        with pytest.raises(ConfigurationError, match="a published key is not an HMAC secret"):
            SecretKeys([form], algorithms=["HS256"], allow_short_secret=True)
    with pytest.raises(ConfigurationError, match="a published key is not an HMAC secret"):
        Verifier(secrets=["s" * 32, secret], algorithms=["HS256"])


def test_a_secret_merely_mentioning_key_words_is_still_a_secret() -> None:
    for secret in ("ssh-rsa" + "x" * 32, "kty-" * 10, "{" + "q" * 40, "BEGIN-----" * 4):
        assert len(SecretKeys([secret], algorithms=["HS256"])) == 1


# -- static source -----------------------------------------------------------------------------

def test_static_source_returns_the_selected_key_or_unknown() -> None:
    source = StaticKeySource(_two())
    (key,) = source.keys_for({"kid": "a"})
    assert isinstance(key, VerificationKey)
    with pytest.raises(UnknownKeyError):
        source.keys_for({"kid": "zzz"})
    source.prefetch()
    with pytest.raises(KeysUnavailableError):
        StaticKeySource(KeySet([])).keys_for({"kid": "a"})


def test_fixed_sources_are_always_fresh_unless_they_hold_no_key() -> None:
    # The verifier's per-request question; None sends it to prefetch(), which raises for an empty set.
    assert StaticKeySource(_two()).fresh_generation() == StaticKeySource(_two()).generation == 0
    assert StaticKeySource(KeySet([])).fresh_generation() is None
    secrets = SecretKeys(["s" * 32], algorithms=["HS256"])
    assert secrets.fresh_generation() == secrets.generation == 0


def test_jwks_round_trip_through_json() -> None:
    # A document as it arrives off the wire (JSON-decoded) is accepted as is.
    doc = json.loads(json.dumps({"keys": [_jwk(RSA_KEY, kid="a", alg="RS256", use="sig")]}))
    assert KeySet.from_jwks(doc, algorithms=["RS256"]).select({"kid": "a"}) is not None


# -- keys with known weaknesses: RSA under 2048 bits and ROCA (CVE-2017-15361) ----------------------------
# roca_key (tests/conftest.py) is a real ROCA-structured key, so real signed tokens go through.


def test_the_roca_fingerprint_finds_roca_moduli_and_passes_ordinary_ones(roca_key: rsa.RSAPrivateKey) -> None:
    assert roca_key.key_size == 2048
    assert roca_vulnerable(roca_key.public_key().public_numbers().n)
    for key in (RSA_KEY, rsa.generate_private_key(public_exponent=65537, key_size=3072)):
        assert not roca_vulnerable(key.public_key().public_numbers().n)


def test_a_jwks_skips_and_logs_its_roca_key_and_serves_the_others(
        roca_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture) -> None:
    jwks = {"keys": [_jwk(roca_key, kid="weak", alg="RS256"), _jwk(SMALL_RSA_KEY, kid="small"),
                     _jwk(RSA_KEY, kid="good")]}
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        keys = KeySet.from_jwks(jwks, algorithms=["RS256"])
    assert ("weak", "rsa_roca") in keys.skipped
    assert ("small", "rsa_too_small") in keys.skipped
    assert [k.kid for k in keys] == ["good"]
    assert "rsa_roca" in caplog.text
    assert "rsa_too_small" in caplog.text
    # Through the verifier, with real signed tokens: the good key verifies, the weak one is unknown.
    verifier = Verifier(jwks=jwks, require_audience=False)
    good = jwt.encode({"sub": "a", "exp": 4102444800}, RSA_KEY, algorithm="RS256", headers={"kid": "good"})
    assert verifier.verify(good)["sub"] == "a"
    for private, kid in ((roca_key, "weak"), (SMALL_RSA_KEY, "small")):
        forged = jwt.encode({"sub": "a", "exp": 4102444800}, private, algorithm="RS256", headers={"kid": kid})
        with pytest.raises(UnknownKeyError):
            verifier.verify(forged)


def test_a_key_set_full_of_weak_keys_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    weak = [_jwk(SMALL_RSA_KEY, kid=f"small-{i}") for i in range(2500)]
    jwks = {"keys": [*weak, _jwk(RSA_KEY, kid="good")]}
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        keys = KeySet.from_jwks(jwks, algorithms=["RS256"])
    assert [k.kid for k in keys] == ["good"]
    assert len(keys.skipped) == 2500
    (record,) = caplog.records
    assert "small-0" in record.getMessage()
    assert record.getMessage().endswith("and 2495 more")


def test_a_jwks_publishing_private_or_secret_keys_logs_one_warning_without_the_keys(
        caplog: pytest.LogCaptureFixture) -> None:
    # A published private key (or an oct secret) is an incident at the provider: it was skipped in
    # silence, while a weak key was logged.
    private = {**RSAAlgorithm.to_jwk(RSA_KEY, as_dict=True), "kid": "leaked"}
    secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"
    jwks = {"keys": [private, {"kty": "oct", "k": secret, "kid": "shared"}, _jwk(EC_KEY, kid="ec", d="AQAB"),
                     _jwk(RSA_KEY, kid="good")]}
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        keys = KeySet.from_jwks(jwks, algorithms=["RS256", "ES256"])
    assert [k.kid for k in keys] == ["good"]
    (record,) = caplog.records
    assert record.name == "serverless_jwt.keys"
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("JWKS keys skipped as published private or secret keys")
    for words in ("private_members (kid 'leaked')", "symmetric (kid 'shared')", "private_members (kid 'ec')"):
        assert words in message
    for member in ("d", "p", "q", "dp", "dq", "qi", "n"):  # never key material
        assert private[member] not in caplog.text
    assert secret not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        KeySet.from_jwks({"keys": [_jwk(RSA_KEY, kid="good"), _jwk(SMALL_RSA_KEY, kid="small")]},
                         algorithms=["RS256"])
    weak = "JWKS keys skipped as weak: rsa_too_small (kid 'small')"  # the weak-key line as it was
    assert [r.getMessage() for r in caplog.records] == [weak]


def test_a_roca_pem_or_certificate_is_refused_at_configuration(roca_key: rsa.RSAPrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(roca_key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(RSA_KEY, hashes.SHA256()))
    for pem in (_pem(roca_key), cert.public_bytes(serialization.Encoding.PEM)):
        with pytest.raises(ConfigurationError, match="ROCA"):
            KeySet.from_pem(pem, algorithms=["RS256"])
        with pytest.raises(ConfigurationError, match="ROCA"):
            Verifier(public_key=pem, require_audience=False)
    with pytest.raises(ConfigurationError, match="2048"):
        Verifier(public_key=_pem(SMALL_RSA_KEY), require_audience=False)


# Ed25519 public keys of small order (y = 1, p - 1, 0 or +-y8; x of either sign; y read modulo p, as the
# non-canonical encodings p and p + 1 decode): no private key makes one, and with one h*A is a point the
# forger knows, so (R, S = 0) verifies for every message (the identity) or for one message in 2 to 8.
_P25519 = 2**255 - 19
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
SMALL_ORDER_ED25519 = [
    (y | sign << 255).to_bytes(32, "little")
    for y in (1, _P25519 - 1, 0, _Y8, _P25519 - _Y8, _P25519, _P25519 + 1) for sign in (0, 1)]


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(kid: str, signature: bytes, sub: str = "x") -> str:
    """An EdDSA token whose signature is ``signature``: (R = the identity, S = 0) as a forger sends it."""
    head = _b64e(json.dumps({"alg": "EdDSA", "kid": kid}).encode())
    return f"{head}.{_b64e(json.dumps({'sub': sub, 'exp': 4102444800}).encode())}.{_b64e(signature)}"


def test_small_order_ed25519_keys_are_skipped_and_forge_nothing(caplog: pytest.LogCaptureFixture) -> None:
    identity = SMALL_ORDER_ED25519[0]
    forged = _forged("weak", bytes([1]) + bytes(63))
    # The danger is real: this primitive accepts the forgery under the identity key.
    signing_input, signature = forged.rsplit(".", 1)
    ed25519.Ed25519PublicKey.from_public_bytes(identity).verify(_b64d(signature), signing_input.encode())
    good = ed25519.Ed25519PrivateKey.generate()
    weak = [{"kty": "OKP", "crv": "Ed25519", "kid": f"weak-{i}", "x": _b64e(x)}
            for i, x in enumerate(SMALL_ORDER_ED25519)]
    jwks = {"keys": [{**weak[0], "kid": "weak"}, *weak[1:], _jwk(good, kid="good")]}
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        keys = KeySet.from_jwks(jwks, algorithms=ALL_ASYMMETRIC)
    assert [k.kid for k in keys] == ["good"]
    assert {reason for _, reason in keys.skipped} == {"ed25519_small_order"}
    assert "ed25519_small_order" in caplog.text
    verifier = Verifier(jwks=jwks, require_audience=False)
    with pytest.raises(UnknownKeyError):
        verifier.verify(forged)
    assert verifier.verify(jwt.encode({"sub": "a", "exp": 4102444800}, good, algorithm="EdDSA",
                                      headers={"kid": "good"}))["sub"] == "a"


def test_small_order_ed448_keys_forge_nothing_at_the_signature_check() -> None:
    # Not listed in _jwk.py: OpenSSL's Ed448 verification refuses these keys' (R, S = 0) forgeries itself.
    p = 2**448 - 2**224 - 1
    for y in (1, p - 1, 0):
        for sign in (0, 1):
            x = y.to_bytes(56, "little") + bytes([sign << 7])
            jwk = {"kty": "OKP", "crv": "Ed448", "kid": "weak", "x": _b64e(x)}
            verifier = Verifier(jwks={"keys": [jwk]}, require_audience=False)
            for i in range(16):
                with pytest.raises(InvalidSignatureError):
                    verifier.verify(_forged("weak", bytes([1]) + bytes(113), sub=str(i)))


def test_a_small_order_ed25519_pem_is_refused_at_configuration() -> None:
    pem = ed25519.Ed25519PublicKey.from_public_bytes(SMALL_ORDER_ED25519[0]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ConfigurationError, match="small order"):
        KeySet.from_pem(pem, algorithms=["EdDSA"])
    with pytest.raises(ConfigurationError, match="small order"):
        Verifier(public_key=pem, require_audience=False)


# -- Project Wycheproof JWS / JWK vectors (C2SP/wycheproof testvectors_v1, Apache-2.0) --------------------
# tests/fixtures/wycheproof/*.json name the upstream file and commit. Their payloads ("foo") are not JSON
# claim sets, so these run the layers below the claims: strict compact parsing (token.py), the key rules
# (a configured secret, or a JWKS that never supplies an oct key) and the signature.

WYCHEPROOF = Path(__file__).resolve().parent / "fixtures" / "wycheproof"
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth"}

# Where the library's answer differs from the vector's, and why; nothing else. Every stricter case is a
# refusal; the two defective vectors repeat a valid one byte for byte, so they are accepted like it.
WYCHEPROOF_DIVERGENCES: dict[int, tuple[bool, str]] = {
    259: (False, "empty payload: a JWT always carries a claims set, so an empty segment is malformed"),
    264: (False, "empty payload"), 268: (False, "empty payload"), 272: (False, "empty payload"),
    320: (False, "empty payload"), 325: (False, "empty payload"),
    346: (False, "the JWK says alg PS256, the header PS384: a JWK's own alg pins the key to it"),
    350: (False, "the JWK says alg PS256, the header PS384 (as 346)"),
    347: (False, "the JWK's alg is 'ES521', not a JWS algorithm: the key is unusable"),
    351: (False, "the JWK's alg is 'ES521' (as 347)"),
    367: (True, "defective vector: byte-identical to the valid tcId 357 in this file version"),
    370: (True, "defective vector: byte-identical to the valid tcId 357 in this file version"),
    372: (False, "'?' is outside the base64url alphabet: the strict parser refuses the header"),
    373: (False, "'?' is outside the base64url alphabet: the strict parser refuses the payload"),
}
WYCHEPROOF_JWK_DIVERGENCES = {
    4: "two configured secrets may share a kid: secrets are tried in turn (rotation) and kids are not "
       "read; a JWKS with a duplicate kid is refused (test_duplicate_kid_drops_both_keys)",
}


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _wycheproof_verdict(jws: str, keys: list[dict[str, Any]]) -> bool:
    """Whether the library accepts this JWS for this key set, through its own parsing and key rules."""
    try:
        data, h64, p64, s64 = token.split(jws)
        header = token.decode_header(h64)
        token._b64decode(p64)  # the payload's base64url, held to the same strict rules
        signature = token.decode_signature(s64)
    except MalformedTokenError:
        return False
    alg = header["alg"]
    source: Any
    if all(k.get("kty") == "oct" for k in keys):
        # Configured shared secrets (never from a JWKS): the JWKs meant for signing with this alg, under
        # SecretKeys' length rules.
        secrets = [_b64url(k["k"]) for k in keys if k.get("alg", alg) == alg and k.get("use", "sig") == "sig"]
        try:
            source = SecretKeys(secrets, algorithms=[alg])
        except ConfigurationError:
            return False
    else:
        public = [{m: v for m, v in k.items() if m not in _PRIVATE_MEMBERS} for k in keys]
        allowed = ALL_ASYMMETRIC
        source = StaticKeySource(KeySet.from_jwks({"keys": public}, algorithms=allowed))
        if alg not in allowed:
            return False
    try:
        candidates = source.keys_for(header)
    except (UnknownKeyError, KeysUnavailableError, MalformedTokenError):
        return False
    return any(key.verify(alg, data[: len(h64) + 1 + len(p64)], signature) for key in candidates)


def _vectors(name: str) -> list[Any]:
    document = json.loads((WYCHEPROOF / name).read_text())
    cases = [pytest.param(group.get("keys") or [group["key"]], case, id=f"tc{case['tcId']}-{case['comment']}")
             for group in document["testGroups"] for case in group["tests"]]
    assert len(cases) == document["numberOfTests"]
    return cases


@pytest.mark.parametrize(("keys", "case"), _vectors("json_web_signature_test.json"))
def test_wycheproof_json_web_signature_vectors(keys: list[dict[str, Any]], case: dict[str, Any]) -> None:
    expected = case["result"] == "valid"
    if case["tcId"] in WYCHEPROOF_DIVERGENCES:
        expected = WYCHEPROOF_DIVERGENCES[case["tcId"]][0]
    assert _wycheproof_verdict(case["jws"], keys) is expected


@pytest.mark.parametrize(("keys", "case"), _vectors("json_web_key_test.json"))
def test_wycheproof_json_web_key_vectors(keys: list[dict[str, Any]], case: dict[str, Any]) -> None:
    # Includes Wycheproof's own ROCA key (tcId 7), 1024-bit RSA, e=1, and HS keys shorter than the hash.
    verdict = _wycheproof_verdict(case["jws"], keys)
    if case["tcId"] in WYCHEPROOF_JWK_DIVERGENCES:
        assert verdict is True  # documented above; flips if the rule changes, so the note stays true
        return
    assert verdict is (case["result"] == "valid")


# Ported from awslabs/aws-jwt-verify tests/unit/jwk.test.ts ("validate", awslabs/aws-jwt-verify@a7fce8e):
# a JWKS document that is not {"keys": [...]} is unusable as a whole; a JWK that is not an object, or
# whose alg is not a string, is skipped (the set's other keys still serve).
@pytest.mark.parametrize("jwks", [{}, {"keys": 123}, "", "foo", [], None])
def test_aws_jwt_verify_malformed_jwks_documents(jwks: Any) -> None:
    with pytest.raises(KeysUnavailableError):
        KeySet.from_jwks(jwks, algorithms=ALL_ASYMMETRIC)


def test_aws_jwt_verify_malformed_jwks_entries_are_skipped() -> None:
    good = _jwk(RSA_KEY, kid="good")
    bad_alg = {**_jwk(RSA_KEY, kid="n0o3"), "alg": 123}
    keys = KeySet.from_jwks({"keys": ["", "foobar", bad_alg, good]}, algorithms=ALL_ASYMMETRIC)
    assert [k.kid for k in keys] == ["good"]
    assert ("n0o3", "bad_alg") in keys.skipped
    assert len(KeySet.from_jwks({"keys": []}, algorithms=ALL_ASYMMETRIC)) == 0  # a valid, empty JWKS


# Wycheproof's key policy cases from its signature files (see tests/test_checkers.py for the vectors):
# RSA keys under 2048 bits and HMAC keys shorter than the hash are refused, as typed errors, on every path.
def _wycheproof_groups(name: str) -> list[dict[str, Any]]:
    document = json.loads((WYCHEPROOF / name).read_text())
    groups: list[dict[str, Any]] = document["testGroups"]
    assert sum(len(g["tests"]) for g in groups) == document["numberOfTests"] > 0
    return groups


def test_wycheproof_1024_bit_rsa_keys_are_refused_though_their_signatures_verify() -> None:
    groups = _wycheproof_groups("rsa_pkcs1_1024_sig_gen_test.json")
    for group in groups:
        jwk = {**group["keyJwk"], "kid": "small"}
        public = serialization.load_pem_public_key(group["keyPem"].encode())
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == 1024
        digests = {"SHA-256": hashes.SHA256(), "SHA-384": hashes.SHA384(), "SHA-512": hashes.SHA512()}
        digest = digests[group["sha"]]
        for case in group["tests"]:
            # Real PKCS#1 v1.5 signatures ("acceptable" only for the key size): refused by policy alone.
            public.verify(bytes.fromhex(case["sig"]), bytes.fromhex(case["msg"]),
                          padding.PKCS1v15(), digest)
        keys = KeySet.from_jwks({"keys": [jwk]}, algorithms=ALL_ASYMMETRIC)
        assert len(keys) == 0
        assert keys.skipped == (("small", "rsa_too_small"),)
        with pytest.raises(ConfigurationError, match="2048"):
            KeySet.from_pem(group["keyPem"], algorithms=["RS256"])
        with pytest.raises(ConfigurationError, match="2048"):
            Verifier(public_key=group["keyPem"], require_audience=False)
        with pytest.raises(ConfigurationError, match="rsa_too_small"):
            Verifier(jwks={"keys": [jwk]}, require_audience=False)
    assert len(groups) == 3  # SHA-256, SHA-384, SHA-512 (the fixture keeps only JWS hashes)


@pytest.mark.parametrize("bits", [256, 384, 512])
def test_wycheproof_hmac_keys_shorter_than_the_hash_need_allow_short_secret(bits: int) -> None:
    checked = 0
    for group in _wycheproof_groups(f"hmac_sha{bits}_test.json"):
        for case in group["tests"]:
            secret, alg = bytes.fromhex(case["key"]), f"HS{bits}"
            if len(secret) * 8 < bits:
                with pytest.raises(ConfigurationError, match="at least"):
                    SecretKeys([secret], algorithms=[alg])
                short = SecretKeys([secret], algorithms=[alg], allow_short_secret=True)
                (key,) = short.keys_for({"alg": alg})
            else:
                (key,) = SecretKeys([secret], algorithms=[alg]).keys_for({"alg": alg})
            full_tag = group["tagSize"] == bits
            expected = case["result"] == "valid" and full_tag
            assert key.verify(alg, bytes.fromhex(case["msg"]), bytes.fromhex(case["tag"])) is expected
            checked += len(secret) * 8 < bits
    assert checked == 6  # the two groups whose key is half the hash's length, three vectors each


# -- RSA exponents below 3 (e = 1: the "signature" is the padded hash itself, anyone can forge) ------------
def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    head = bytes([size]) if size < 0x80 else bytes([0x80 | (size.bit_length() + 7) // 8]) + size.to_bytes(
        (size.bit_length() + 7) // 8, "big")
    return bytes([tag]) + head + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _rsa_pems(n: int, e: int) -> list[bytes]:
    """PKCS#1 and SubjectPublicKeyInfo PEMs for (n, e), written by hand: cryptography refuses e < 3."""
    pkcs1 = _der(0x30, _der_int(n) + _der_int(e))
    spki = _der(0x30, _der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
                + _der(0x03, b"\x00" + pkcs1))
    return [b"-----BEGIN %s-----\n%s-----END %s-----\n" % (label, base64.encodebytes(der), label)
            for label, der in ((b"RSA PUBLIC KEY", pkcs1), (b"PUBLIC KEY", spki))]


@pytest.mark.parametrize("e", [1, 2])
def test_rsa_jwks_with_an_exponent_below_3_are_skipped_and_logged_as_weak(
        e: int, caplog: pytest.LogCaptureFixture) -> None:
    n = RSA_KEY.public_key().public_numbers().n
    weak = {"kty": "RSA", "kid": "weak", "n": _b64e(n.to_bytes(256, "big")), "e": _b64e(bytes([e]))}
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        keys = KeySet.from_jwks({"keys": [weak, _jwk(RSA_KEY, kid="good")]}, algorithms=["RS256"])
    assert [k.kid for k in keys] == ["good"]
    assert list(keys.skipped) == [("weak", "rsa_small_exponent")]
    assert "rsa_small_exponent (kid 'weak')" in caplog.text


def test_a_tiny_rsa_modulus_is_weak_even_when_its_exponent_exceeds_it(
        caplog: pytest.LogCaptureFixture) -> None:
    # n = 3233 < e = 65537: cryptography refuses such numbers, which read as "malformed" and went unlogged.
    tiny = {"kty": "RSA", "kid": "tiny", "n": _b64e((3233).to_bytes(2, "big")), "e": "AQAB"}
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        keys = KeySet.from_jwks({"keys": [tiny, _jwk(RSA_KEY, kid="good")]}, algorithms=["RS256"])
    assert list(keys.skipped) == [("tiny", "rsa_too_small")]
    assert "rsa_too_small" in caplog.text


@pytest.mark.parametrize("e", [1, 2])
def test_a_pem_rsa_key_with_an_exponent_below_3_is_refused_by_name(e: int) -> None:
    # The PEM is well formed: "not a PEM public key" would send its owner looking for a formatting slip.
    for pem in _rsa_pems(RSA_KEY.public_key().public_numbers().n, e):
        with pytest.raises(ConfigurationError, match="exponent"):
            KeySet.from_pem(pem, algorithms=["RS256"])
        with pytest.raises(ConfigurationError, match="exponent"):
            Verifier(public_key=pem, require_audience=False)
    # Hand-written DER that cryptography does read loads as usual (the helper itself is sound).
    for pem in _rsa_pems(RSA_KEY.public_key().public_numbers().n, 65537):
        assert len(KeySet.from_pem(pem, algorithms=["RS256"])) == 1


def _rsa_key_as_loaded_with_exponent(e: int) -> rsa.RSAPublicKey:
    """An RSA public key object whose exponent is ``e``, as cryptography 42 to 49 hand one over for a
    PEM or certificate with e < 3 (50 refuses to load it, and every release refuses the numbers):
    the real key's operations, reporting ``e``."""
    real = RSA_KEY.public_key()
    methods: dict[str, Any] = {
        name: (lambda _self, *args, _name=name, **kwargs: getattr(real, _name)(*args, **kwargs))
        for name in rsa.RSAPublicKey.__abstractmethods__}
    methods["key_size"] = property(lambda _self: real.key_size)
    methods["public_numbers"] = lambda _self: rsa.RSAPublicNumbers(e, real.public_numbers().n)
    key: rsa.RSAPublicKey = type("LoadedRSAPublicKey", (rsa.RSAPublicKey,), methods)()
    return key


@pytest.mark.parametrize("e", [1, 2])
def test_a_loaded_rsa_key_with_an_exponent_below_3_is_refused_whatever_cryptography_loads(e: int) -> None:
    # The PEM and certificate paths judge the loaded key: cryptography before 50 loads e = 1, and then
    # the padded hash is its own signature (a token signed by nobody verified).
    with pytest.raises(ConfigurationError, match="exponent is below 3"):
        public_key_algorithms(_rsa_key_as_loaded_with_exponent(e))
    assert public_key_algorithms(_rsa_key_as_loaded_with_exponent(65537))[0] == "RSA"


def _loaded_rsa_key(n: int, e: int) -> rsa.RSAPublicKey:
    """An RSA public key object reporting (n, e), as an older cryptography hands one over for a PEM it
    loads and a newer one refuses: the real key's operations, these numbers."""
    real = RSA_KEY.public_key()
    methods: dict[str, Any] = {
        name: (lambda _self, *args, _name=name, **kwargs: getattr(real, _name)(*args, **kwargs))
        for name in rsa.RSAPublicKey.__abstractmethods__}
    methods["key_size"] = property(lambda _self: n.bit_length())
    methods["public_numbers"] = lambda _self: rsa.RSAPublicNumbers(e, n)
    key: rsa.RSAPublicKey = type("LoadedRSAPublicKey", (rsa.RSAPublicKey,), methods)()
    return key


_N = RSA_KEY.public_key().public_numbers().n


_BAD_NUMBERS = {"e=4": (_N, 4), "e=65536": (_N, 65536), "e=n-1": (_N, _N - 1), "e=n": (_N, _N),
                "e=n+2": (_N, _N + 2), "even-n": (_N + 1, 65537)}


@pytest.mark.parametrize(("n", "e"), list(_BAD_NUMBERS.values()), ids=list(_BAD_NUMBERS))
def test_an_rsa_pem_with_an_even_or_oversized_exponent_or_an_even_modulus_is_refused(n: int, e: int) -> None:
    # No RSA key has such numbers, and the JWK path skips them as malformed. cryptography 42 to 49 load
    # such a PEM or certificate (50 refuses the exponents, and loads an even modulus still), and the
    # key was accepted for every RS and PS algorithm.
    for pem in _rsa_pems(n, e):
        with pytest.raises(ConfigurationError, match="not a valid RSA public key"):
            KeySet.from_pem(pem, algorithms=["RS256"])
        with pytest.raises(ConfigurationError, match="not a valid RSA public key"):
            Verifier(public_key=pem, require_audience=False)
    with pytest.raises(ConfigurationError, match="not a valid RSA public key"):
        public_key_algorithms(_loaded_rsa_key(n, e))
    jwk = {"kty": "RSA", "kid": "bad", "n": _b64e(n.to_bytes(256, "big")), "e": _b64e(_int_bytes(e))}
    assert list(_only(jwk).skipped) == [("bad", "malformed")]


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _factorable_moduli() -> dict[str, tuple[int, int]]:
    """Moduli of 2048 bits and more, each with a multiple of its lambda(n): a prime squared and a prime
    cubed (their private exponents are anyone's: p is the square or cube root), and 751 * p * q."""
    p = RSA_KEY.private_numbers().p  # 1024 bits, top two bits set: p * p has 2048
    # Only its 684-bit prime is used, cubed: 2052 bits.
    cube = rsa.generate_private_key(public_exponent=65537, key_size=1368).private_numbers().p  # noqa: S505
    big = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    return {"p*p": (p * p, p * (p - 1)), "p*p*p": (cube**3, cube * cube * (cube - 1)),
            "751*p*q": (751 * big.p * big.q, 750 * (big.p - 1) * (big.q - 1))}


@pytest.mark.parametrize("label", ["p*p", "p*p*p", "751*p*q"])
def test_an_rsa_modulus_with_a_small_or_repeated_prime_factor_is_refused_as_weak(
        label: str, caplog: pytest.LogCaptureFixture) -> None:
    # p*p and p*p*p: p is the root of n, so anyone computes the private exponent; a small factor makes
    # the key anyone's when its cofactor is prime, and SP 800-89 5.3.3 refuses any factor below 752
    # (cheaper than telling the cases apart). No cryptography release refuses these moduli, and each
    # key verified a token signed with the private exponent its numbers give away.
    n, lam = _factorable_moduli()[label]
    e = 65537
    size = (n.bit_length() + 7) // 8
    head = _b64e(json.dumps({"alg": "RS256", "kid": "weak"}).encode())
    body = _b64e(json.dumps({"sub": "forged", "exp": 4102444800}).encode())
    digest = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(
        f"{head}.{body}".encode()).digest()
    padded = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    signature = pow(int.from_bytes(padded, "big"), pow(e, -1, lam), n).to_bytes(size, "big")
    forged = f"{head}.{body}.{_b64e(signature)}"
    jwk = {"kty": "RSA", "kid": "weak", "n": _b64e(_int_bytes(n)), "e": "AQAB"}
    with caplog.at_level(logging.WARNING, logger="serverless_jwt.keys"):
        keys = KeySet.from_jwks({"keys": [jwk, _jwk(RSA_KEY, kid="good")]}, algorithms=["RS256"])
    assert [k.kid for k in keys] == ["good"]
    assert list(keys.skipped) == [("weak", "rsa_factorable")]
    assert "rsa_factorable (kid 'weak')" in caplog.text
    with pytest.raises(UnknownKeyError):
        Verifier(jwks={"keys": [jwk, _jwk(RSA_KEY, kid="good")]}, require_audience=False).verify(forged)
    for pem in _rsa_pems(n, e):
        with pytest.raises(ConfigurationError, match="prime factor"):
            Verifier(public_key=pem, require_audience=False)
    with pytest.raises(ConfigurationError, match="prime factor"):
        public_key_algorithms(_loaded_rsa_key(n, e))


def test_a_pem_that_is_no_key_is_still_called_one() -> None:
    for pem in (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", b"not a key at all"):
        with pytest.raises(ConfigurationError, match="not a PEM public key"):
            KeySet.from_pem(pem, algorithms=["RS256"])
