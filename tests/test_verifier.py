"""Verifier: configuration checks, the request path, and the verified-token cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets as _secrets
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from serverless_jwt import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidClaimError,
    InvalidSignatureError,
    KeysUnavailableError,
    MalformedTokenError,
    TokenExpiredError,
    UnknownKeyError,
    Verifier,
)
from serverless_jwt import token as token_module
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.keys import KeySet, SecretKeys

ISS = "https://issuer.example.com/"
AUD = "https://api.example.com"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(private_key: Any, kid: str) -> dict[str, Any]:
    alg = "RS256" if isinstance(private_key, rsa.RSAPrivateKey) else "ES256"
    jwk = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(private_key.public_key()))
    jwk.update(kid=kid, use="sig")
    return dict(jwk)


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "user-1", "iat": now, "exp": now + 600,
                           "scope": "read:shows"}
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


@pytest.fixture
def secret() -> bytes:
    return _secrets.token_bytes(32)


@pytest.fixture
def jwks_verifier(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Verifier:
    return Verifier(issuer=ISS, audience=AUD, algorithms=["RS256", "ES256"],
                    jwks={"keys": [_jwk(rsa_key, "r1"), _jwk(ec_key, "e1")]})


def _rs(key: rsa.RSAPrivateKey, claims: dict[str, Any] | None = None, kid: str = "r1", **hdr: Any) -> str:
    # Signed by hand (PyJWT refuses to encode some of the malformed claims these tests need).
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "typ": "JWT", "kid": kid, **hdr}
    header = {k: v for k, v in header.items() if v is not None}
    enc = jwt.utils.base64url_encode
    signing_input = enc(json.dumps(header).encode()) + b"." + enc(json.dumps(claims or _claims()).encode())
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + enc(signature)).decode()


# --- the happy paths -------------------------------------------------------------------------------


def test_rs256_token_from_static_jwks_is_verified(jwks_verifier: Verifier, rsa_key: Any) -> None:
    claims = jwks_verifier.verify(_rs(rsa_key))
    assert claims["sub"] == "user-1"
    assert claims["iss"] == ISS


def test_es256_token_from_static_jwks_is_verified(jwks_verifier: Verifier, ec_key: Any) -> None:
    token = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "e1"})
    assert jwks_verifier.verify(token)["aud"] == AUD


def test_pem_public_key_verifies(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    v = Verifier(issuer=ISS, audience=AUD, public_key=pem)
    assert v.verify(_rs(rsa_key, kid="anything"))["sub"] == "user-1"


def test_hs256_secret_verifies_tokens_without_iss(secret: bytes) -> None:
    v = Verifier(secrets=secret)
    token = jwt.encode(_claims(iss=None, aud=None), secret, algorithm="HS256")
    assert v.verify(token)["sub"] == "user-1"


def test_hs256_accepts_any_of_several_secrets_during_rotation(secret: bytes) -> None:
    old = _secrets.token_bytes(32)
    v = Verifier(secrets=[secret, old], audience=AUD)
    assert v.verify(jwt.encode(_claims(), old, algorithm="HS256"))["sub"] == "user-1"
    with pytest.raises(InvalidSignatureError):
        v.verify(jwt.encode(_claims(), _secrets.token_bytes(32), algorithm="HS256"))


# --- header and signature rejections -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_casing_is_rejected(jwks_verifier: Verifier, rsa_key: Any, alg: str) -> None:
    good = _rs(rsa_key)
    _h, p, _ = good.split(".")
    header = jwt.utils.base64url_encode(json.dumps({"alg": alg, "kid": "r1"}).encode()).decode()
    for token in (f"{header}.{p}.", f"{header}.{p}.{good.split('.')[2]}"):
        with pytest.raises((AlgorithmNotAllowedError, MalformedTokenError)):
            jwks_verifier.verify(token)


def test_public_key_used_as_hmac_secret_is_rejected(jwks_verifier: Verifier, rsa_key: Any) -> None:
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "r1"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(_claims()).encode())
    sig = jwt.utils.base64url_encode(hmac.new(pem, header + b"." + payload, hashlib.sha256).digest())
    with pytest.raises(AlgorithmNotAllowedError):
        jwks_verifier.verify(b".".join([header, payload, sig]).decode())


def test_alg_that_does_not_fit_the_key_is_rejected(rsa_key: Any, ec_key: Any) -> None:
    # An ES256 token whose kid names the RSA key: the alg does not fit the key type.
    jwks = {"keys": [_jwk(rsa_key, "r1")]}
    v = Verifier(issuer=ISS, audience=AUD, algorithms=["RS256", "ES256"], jwks=jwks)
    token = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "r1"})
    with pytest.raises(AlgorithmNotAllowedError):
        v.verify(token)


def test_alg_outside_the_allow_list_is_rejected(rsa_key: Any) -> None:
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_public))
    v = Verifier(issuer=ISS, audience=AUD, algorithms=["ES256"],
                 jwks={"keys": [_jwk(rsa_key, "r1"), {**ec_jwk, "kid": "e1"}]})
    with pytest.raises(AlgorithmNotAllowedError):
        v.verify(_rs(rsa_key))


@pytest.mark.parametrize(("jwks", "says"), [
    ({"keys": []}, "it has no keys"),
    ({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "kid": "bad"}]}, "jwks holds no key usable"),
    ({"jwks": []}, "must be a JWKS document"),
    ([], "must be a JWKS document"),
])
def test_a_static_jwks_without_a_usable_key_is_a_configuration_error(jwks: Any, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        Verifier(issuer=ISS, audience=AUD, jwks=jwks)


def test_a_static_jwks_the_allow_list_cannot_use_is_a_configuration_error(rsa_key: Any) -> None:
    with pytest.raises(ConfigurationError, match="no key usable with the allowed algorithms"):
        Verifier(issuer=ISS, audience=AUD, algorithms=["ES256"], jwks={"keys": [_jwk(rsa_key, "r1")]})


def test_tampered_payload_fails_the_signature(jwks_verifier: Verifier, rsa_key: Any) -> None:
    h, _, s = _rs(rsa_key).split(".")
    forged = jwt.utils.base64url_encode(json.dumps(_claims(sub="admin")).encode()).decode()
    with pytest.raises(InvalidSignatureError):
        jwks_verifier.verify(f"{h}.{forged}.{s}")


def test_token_signed_by_a_foreign_key_with_a_known_kid_fails(jwks_verifier: Verifier) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidSignatureError):
        jwks_verifier.verify(_rs(other))


def test_unknown_kid_in_static_jwks_is_rejected(jwks_verifier: Verifier, rsa_key: Any) -> None:
    with pytest.raises(UnknownKeyError):
        jwks_verifier.verify(_rs(rsa_key, kid="nope"))


def test_missing_kid_with_several_keys_is_rejected(jwks_verifier: Verifier, rsa_key: Any) -> None:
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256")
    with pytest.raises(UnknownKeyError):
        jwks_verifier.verify(token)


def test_header_key_pointers_are_never_trusted(jwks_verifier: Verifier) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = _jwk(attacker, "r1")
    token = _rs(attacker, jwk=jwk, jku="https://evil.example/jwks.json",
                x5u="https://evil.example/cert.pem")
    with pytest.raises(InvalidSignatureError):
        jwks_verifier.verify(token)


@pytest.mark.parametrize("typ", ["logout+jwt", "dpop+jwt", "secevent+jwt"])
def test_explicit_foreign_token_types_are_rejected(jwks_verifier: Verifier, rsa_key: Any, typ: str) -> None:
    with pytest.raises(InvalidClaimError) as e:
        jwks_verifier.verify(_rs(rsa_key, typ=typ))
    assert e.value.claim == "typ"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "application/at+jwt", "AT+JWT"])
def test_ordinary_token_types_are_accepted(jwks_verifier: Verifier, rsa_key: Any, typ: str) -> None:
    assert jwks_verifier.verify(_rs(rsa_key, typ=typ))["sub"] == "user-1"


def test_rfc9068_mode_requires_at_jwt(rsa_key: Any) -> None:
    v = Verifier(issuer=ISS, audience=AUD, jwks={"keys": [_jwk(rsa_key, "r1")]},
                 require_access_token_type=True)
    assert v.verify(_rs(rsa_key, typ="at+jwt"))["sub"] == "user-1"
    with pytest.raises(InvalidClaimError):
        v.verify(jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "r1", "typ": None}))


# --- claims ---------------------------------------------------------------------------------------------


def test_wrong_issuer_is_rejected_with_no_slash_tolerance(jwks_verifier: Verifier, rsa_key: Any) -> None:
    for iss in (ISS.rstrip("/"), ISS.upper(), ISS + "x", [ISS]):
        with pytest.raises(InvalidClaimError) as e:
            jwks_verifier.verify(_rs(rsa_key, _claims(iss=iss)))
        assert e.value.claim == "iss"


def test_wrong_or_missing_audience_is_rejected(jwks_verifier: Verifier, rsa_key: Any) -> None:
    for aud in ("https://other.example.com", ["x", "y"], None):
        with pytest.raises(InvalidClaimError) as e:
            jwks_verifier.verify(_rs(rsa_key, _claims(aud=aud)))
        assert e.value.claim == "aud"
    assert jwks_verifier.verify(_rs(rsa_key, _claims(aud=["x", AUD])))["sub"] == "user-1"


def test_expiry_honours_the_leeway(rsa_key: Any) -> None:
    clock = Clock()
    v = Verifier(issuer=ISS, audience=AUD, jwks={"keys": [_jwk(rsa_key, "r1")]}, clock=clock,
                 leeway_seconds=60, verified_cache_size=0)
    token = _rs(rsa_key, _claims(exp=int(clock.now) - 30))
    assert v.verify(token)["sub"] == "user-1"
    clock.now += 31
    with pytest.raises(TokenExpiredError):
        v.verify(token)


def test_missing_exp_is_rejected(jwks_verifier: Verifier, rsa_key: Any) -> None:
    with pytest.raises(InvalidClaimError) as e:
        jwks_verifier.verify(_rs(rsa_key, _claims(exp=None)))
    assert (e.value.claim, e.value.reason) == ("exp", "missing")


def test_auth_time_max_age_demands_reauthentication(rsa_key: Any) -> None:
    now = int(time.time())
    v = Verifier(issuer=ISS, audience=AUD, jwks={"keys": [_jwk(rsa_key, "r1")]},
                 max_age_seconds=300, max_age_claim="auth_time", leeway_seconds=0)
    assert v.verify(_rs(rsa_key, _claims(auth_time=now - 100)))["sub"] == "user-1"
    with pytest.raises(InvalidClaimError) as e:
        v.verify(_rs(rsa_key, _claims(auth_time=now - 1000)))
    assert e.value.claim == "auth_time"


def test_required_claims_are_enforced(rsa_key: Any) -> None:
    v = Verifier(issuer=ISS, audience=AUD, jwks={"keys": [_jwk(rsa_key, "r1")]}, required_claims=["email"])
    with pytest.raises(InvalidClaimError) as e:
        v.verify(_rs(rsa_key))
    assert (e.value.claim, e.value.reason) == ("email", "missing")


# --- the verified-token cache -------------------------------------------------------------------------


def test_cached_token_is_rechecked_for_expiry_on_every_hit(rsa_key: Any) -> None:
    clock = Clock()
    v = Verifier(issuer=ISS, audience=AUD, jwks={"keys": [_jwk(rsa_key, "r1")]}, clock=clock,
                 leeway_seconds=0)
    token = _rs(rsa_key, _claims(exp=int(clock.now) + 10))
    assert v.verify(token)["sub"] == "user-1"
    assert v.verify(token)["sub"] == "user-1"
    clock.now += 11
    with pytest.raises(TokenExpiredError):
        v.verify(token)


def test_mutating_returned_claims_does_not_poison_the_cache(jwks_verifier: Verifier, rsa_key: Any) -> None:
    token = _rs(rsa_key)
    first = jwks_verifier.verify(token)
    first.pop("exp")
    first["sub"] = "someone-else"
    again = jwks_verifier.verify(token)
    assert again["sub"] == "user-1"
    assert "exp" in again


def test_mutating_nested_claims_does_not_poison_the_cache(jwks_verifier: Verifier, rsa_key: Any) -> None:
    claims = {**_claims(), "aud": [AUD, "other"], "app_metadata": {"roles": ["reader"], "org": {"id": 1}}}
    token = _rs(rsa_key, claims)
    first = jwks_verifier.verify(token)  # a miss: the cache stores its own copy
    first["aud"].append("injected")
    first["app_metadata"]["roles"].append("admin")
    first["app_metadata"]["org"]["id"] = 2
    second = jwks_verifier.verify(token)  # a hit: handed out as a fresh copy
    assert second["app_metadata"] == {"roles": ["reader"], "org": {"id": 1}}
    assert second["aud"] == [AUD, "other"]
    second["app_metadata"]["roles"].append("admin")
    second["aud"].clear()
    third = jwks_verifier.verify(token)
    assert third == claims
    assert third is not second
    assert third["app_metadata"] is not second["app_metadata"]


def test_cache_never_admits_a_token_differing_in_one_char(jwks_verifier: Verifier, rsa_key: Any) -> None:
    token = _rs(rsa_key)
    jwks_verifier.verify(token)
    sig = token.rsplit(".", 1)[1]
    flipped = token[: -len(sig)] + ("A" if sig[0] != "A" else "B") + sig[1:]
    with pytest.raises((InvalidSignatureError, MalformedTokenError)):
        jwks_verifier.verify(flipped)


# --- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"issuer": "http://issuer.example.com", "audience": AUD},  # http, not loopback
        {"issuer": ISS, "audience": []},  # empty audience list
        {"issuer": ISS},  # audience required for public-key sources
        {"issuer": ISS, "audience": AUD, "algorithms": ["RS256", "HS256"]},  # HS mixed with JWKS
        {"issuer": ISS, "audience": AUD, "algorithms": ["none"]},
        {"issuer": ISS, "audience": AUD, "algorithms": []},
        {"secrets": "too-short"},  # RFC 7518 3.2
        {"secrets": "x" * 32, "algorithms": ["RS256"]},
        {"secrets": "x" * 32, "jwks_uri": "https://issuer.example.com/jwks"},
        {"issuer": ISS, "audience": AUD, "leeway_seconds": -1},
        {},
    ],
)
def test_unsafe_configuration_is_refused_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Verifier(**kwargs)


def test_short_legacy_secret_needs_the_loud_opt_in() -> None:
    v = Verifier(secrets="legacy-secret", allow_short_secret=True, audience=AUD)
    assert v.verify(jwt.encode(_claims(), "legacy-secret", algorithm="HS256"))["sub"] == "user-1"


@pytest.mark.parametrize(("alg", "size"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_each_hs_algorithm_needs_a_secret_as_long_as_its_hash(alg: str, size: int) -> None:
    # RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used".
    with pytest.raises(ConfigurationError, match=f"at least {size} bytes for {alg}"):
        Verifier(secrets="k" * (size - 1), algorithms=[alg])
    secret = _secrets.token_bytes(size)
    v = Verifier(secrets=secret, algorithms=[alg], audience=AUD)
    assert v.verify(jwt.encode(_claims(), secret, algorithm=alg))["sub"] == "user-1"
    # Allowing HS256 next to HS512 does not lower the bar: the longest hash decides.
    with pytest.raises(ConfigurationError, match="at least 64 bytes for HS512"):
        Verifier(secrets="k" * 63, algorithms=["HS256", "HS512"])
    legacy = "k" * (size - 1)
    v = Verifier(secrets=legacy, algorithms=[alg], allow_short_secret=True, audience=AUD)
    assert v.verify(jwt.encode(_claims(), legacy, algorithm=alg))["sub"] == "user-1"


def test_loopback_http_issuer_is_allowed() -> None:
    Verifier(issuer="http://127.0.0.1:9999", audience=AUD, jwks_uri="http://127.0.0.1:9999/jwks")


def test_an_issuer_that_is_no_parsable_url_is_a_configuration_error_not_a_value_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # urlsplit raises ValueError for an unclosed IPv6 bracket: still refused the way every setting is.
    with pytest.raises(ConfigurationError, match=r"^issuer must be an https URL"):
        Verifier(issuer="https://[::1/", audience=AUD)
    monkeypatch.setenv("JWT_ISSUER", "https://[::1/")
    monkeypatch.setenv("JWT_AUDIENCE", AUD)
    with pytest.raises(ConfigurationError, match=r"^JWT_ISSUER .* must be an https URL"):
        Verifier.from_env()


def test_an_issuer_written_with_an_upper_case_scheme_is_refused_and_a_host_warned_about(
        caplog: pytest.LogCaptureFixture) -> None:
    # iss is compared exactly: an issuer no provider writes would refuse every token as 401.
    with pytest.raises(ConfigurationError, match="'https://' in lower case"):
        Verifier(issuer="HTTPS://tenant.example.com/", audience=AUD)
    with caplog.at_level(logging.WARNING, logger="serverless_jwt"):
        Verifier(issuer="https://Tenant.example.com/", audience=AUD)
    assert "upper-case letters in its host" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="serverless_jwt"):
        Verifier(issuer="https://tenant.example.com/Pool_AbC", audience=AUD)  # a path keeps its case
    assert caplog.text == ""


@pytest.mark.parametrize(("setting", "message"), [
    ({"jwks_uri": 5}, "jwks_uri must be a string"),
    ({"public_key": 5}, "public_key must be PEM text or bytes"),
    ({"algorithms": 5}, "algorithms must be a list"),
    ({"claim_checks": 5}, "claim_checks and token_checks must be lists of callables"),
    ({"clock": 5}, "clock must be callable"),  # else a TypeError on every request
])
def test_a_setting_of_the_wrong_type_is_a_configuration_error_at_construction(
        setting: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Verifier(issuer="https://tenant.example.com/", audience=AUD, **setting)
    with pytest.raises(ConfigurationError, match="secret_from must be a string"):
        Verifier(secret_from=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("issuer", ["https://host:99999/", "https://host:port/"])
def test_an_issuer_with_an_impossible_port_is_named_as_such(issuer: str) -> None:
    with pytest.raises(ConfigurationError, match="port that is not a number from 0 to 65535"):
        Verifier(issuer=issuer, audience=AUD)


def test_repr_never_shows_secrets() -> None:
    secret = "s3cr3t-" + "q" * 40
    assert "s3cr3t" not in repr(Verifier(secrets=secret))


def test_from_env_reads_lambda_style_variables(secret: bytes) -> None:
    text = secret.hex()
    env = {"JWT_SECRET": text, "JWT_AUDIENCE": "", "JWT_ISSUER": "", "JWT_LEEWAY_SECONDS": "5"}
    v = Verifier.from_env(env)
    assert v.verify(jwt.encode(_claims(iss=None, aud=None), text, algorithm="HS256"))["sub"] == "user-1"
    v2 = Verifier.from_env({"JWT_ISSUER": ISS, "JWT_AUDIENCE": f"a, {AUD}",
                            "JWT_JWKS_URI": "https://issuer.example.com/jwks"})
    assert v2.issuer == ISS


def test_a_dpop_bound_token_is_refused_unless_allowed() -> None:
    secret = _secrets.token_urlsafe(32)  # text: it also travels through an environment variable
    token = jwt.encode(_claims(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}), secret,
                       algorithm="HS256")
    with pytest.raises(InvalidClaimError) as caught:
        Verifier(issuer=ISS, secrets=secret, audience=AUD).verify(token)
    assert caught.value.claim == "cnf"
    with pytest.raises(InvalidClaimError):
        Verifier.from_env({"JWT_ISSUER": ISS, "JWT_SECRET": secret, "JWT_AUDIENCE": AUD}).verify(token)
    allowed = Verifier(issuer=ISS, secrets=secret, audience=AUD, allow_sender_constrained=True)
    assert allowed.verify(token)["cnf"]
    assert Verifier.from_env({"JWT_ISSUER": ISS, "JWT_SECRET": secret, "JWT_AUDIENCE": AUD,
                              "JWT_ALLOW_SENDER_CONSTRAINED": "true"}).verify(token)["sub"] == "user-1"


@pytest.mark.parametrize(("option", "value", "says"), [
    ("accepted_types", "at+jwt", "accepted_types must be a collection of strings"),
    ("required_claims", "scope", "required_claims must be a collection of strings"),
    ("required_claims", ["sub", 7], "required_claims must contain only strings"),
    ("max_token_bytes", math.inf, "max_token_bytes must be a positive int"),
    ("max_token_bytes", math.nan, "max_token_bytes must be a positive int"),
    ("max_token_bytes", 0, "max_token_bytes must be a positive int"),
    ("max_token_bytes", True, "max_token_bytes must be a positive int"),
    ("verified_cache_size", math.nan, "verified_cache_size must be an int"),
    ("leeway_seconds", math.nan, "leeway_seconds must be a finite number"),
    ("leeway_seconds", "60", "leeway_seconds must be a finite number"),
    ("accept_any_audience", "false", "accept_any_audience must be True or False"),
    ("allow_sender_constrained", "no", "allow_sender_constrained must be True or False"),
    ("allow_short_secret", 1, "allow_short_secret must be True or False"),
    ("require_audience", None, "require_audience must be True or False"),
    ("secret_max_age_seconds", math.nan, "secret_max_age_seconds must be a finite number"),
    ("max_age_seconds", "10", "max_age_seconds must be positive"),
    ("max_age_seconds", math.nan, "max_age_seconds must be positive"),
    ("audience", 7, "audience must be a non-empty string or a non-empty list"),
    ("audience", [b"api"], "audience must be a non-empty string or a non-empty list"),
])
def test_option_values_that_would_silently_weaken_a_check_are_refused(option: str, value: Any,
                                                                       says: str) -> None:
    # A bare "scope" would otherwise require the claims "s", "c", "o", "p" and "e"; inf disables the cap.
    with pytest.raises(ConfigurationError, match=says):
        Verifier(**{"issuer": ISS, "secrets": "s" * 32, "audience": AUD, option: value})


@pytest.mark.parametrize(("option", "bound", "words"), [
    ("leeway_seconds", 300, "5 minutes"), ("jwks_max_age_seconds", 86400, "1 day"),
    ("secret_max_age_seconds", 86400, "1 day"), ("unknown_kid_cooldown_seconds", 3600, "1 hour"),
    ("max_stale_seconds", 7 * 86400, "7 days"),
])
def test_time_settings_past_their_bound_are_refused_as_they_would_turn_a_protection_off(
        option: str, bound: int, words: str) -> None:
    # Accepted, leeway_seconds=1e300 let every expired token through, and an infinite JWKS max age or
    # unknown-kid cool-down never fetched the keys again: a rotated key was never picked up.
    assert Verifier(issuer=ISS, audience=AUD, **{option: bound})  # the bound itself is a legitimate value
    for value in (bound + 1, 1e300, math.inf, math.nan):
        with pytest.raises(ConfigurationError, match=rf"^{option} must be"):
            Verifier(issuer=ISS, audience=AUD, **{option: value})
    with pytest.raises(ConfigurationError, match=rf"^{option} must be at most {bound} \({words}\)$"):
        Verifier(issuer=ISS, audience=AUD, **{option: 1e300})
    if option not in ("jwks_max_age_seconds", "unknown_kid_cooldown_seconds"):  # those of a JWKS only
        with pytest.raises(ConfigurationError, match=rf"^{option} must be at most"):  # any key source
            Verifier(secrets="s" * 32, **{option: bound + 1})


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("JWT_LEEWAY_SECONDS", "1e300", "JWT_LEEWAY_SECONDS must be at most 300 (5 minutes)"),
    ("JWT_LEEWAY_SECONDS", "301", "JWT_LEEWAY_SECONDS must be at most 300 (5 minutes)"),
    ("JWT_LEEWAY_SECONDS", "inf", "JWT_LEEWAY_SECONDS must be a finite number"),
    ("JWT_LEEWAY_SECONDS", "nan", "JWT_LEEWAY_SECONDS must be a finite number"),
    ("JWT_JWKS_MAX_AGE_SECONDS", "1e300", "JWT_JWKS_MAX_AGE_SECONDS must be at most 86400 (1 day)"),
    ("JWT_MAX_STALE_SECONDS", "604801", "JWT_MAX_STALE_SECONDS must be at most 604800 (7 days)"),
    ("JWT_UNKNOWN_KID_COOLDOWN_SECONDS", "86400",
     "JWT_UNKNOWN_KID_COOLDOWN_SECONDS must be at most 3600 (1 hour)"),
])
def test_from_env_names_the_variable_of_a_time_setting_past_its_bound(variable: str, value: str,
                                                                      says: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Verifier.from_env({"JWT_ISSUER": ISS, "JWT_AUDIENCE": AUD, variable: value})
    assert str(info.value).startswith(says)
    if variable in ("JWT_LEEWAY_SECONDS", "JWT_MAX_STALE_SECONDS"):  # a shared secret's settings too
        with pytest.raises(ConfigurationError, match=f"^{variable} must be"):
            Verifier.from_env({"JWT_SECRET": "x" * 40, variable: value})


@pytest.mark.parametrize("env", [
    {"JWT_SECRET": "x" * 40, "JWT_LEEWAY_SECONDS": "soon"},
    {"JWT_SECRET": "x" * 40, "JWT_PREFETCH": "maybe"},
    {"JWT_ISSUER": ISS},
    {},
])
def test_from_env_refuses_bad_variables(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Verifier.from_env(env)


@pytest.mark.parametrize(("env", "says"), [
    ({}, ["JWT_ISSUER (template parameter JwtIssuer)", "JWT_SECRET (template parameter JwtSecret)"]),
    ({"JWT_ISSUER": "", "JWT_AUDIENCE": "api"}, ["JWT_ISSUER", "JWT_SECRET"]),
    ({"JWT_SECRET": "too-short"}, ["JWT_SECRET (template parameter JwtSecret)", "at least 32 bytes",
                                   "JWT_ALLOW_SHORT_SECRET=true"]),
    ({"JWT_SECRET": "x" * 40, "JWT_ALGORITHMS": "HS512"}, ["JWT_SECRET", "at least 64 bytes for HS512"]),
    ({"JWT_ISSUER": ISS}, ["JWT_AUDIENCE (template parameter JwtAudience)", "JWT_REQUIRE_AUDIENCE=false"]),
    ({"JWT_ISSUER": "example.eu.auth0.com", "JWT_AUDIENCE": "api"}, ["JWT_ISSUER", "scheme is missing"]),
    ({"JWT_ISSUER": "http://issuer.example.com", "JWT_AUDIENCE": "api"}, ["JWT_ISSUER", "https"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_LEEWAY_SECONDS": "soon"},
     ["JWT_LEEWAY_SECONDS must be a number"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_ALGORITHMS": "HS256"}, ["JWT_ALGORITHMS"]),
    # Each key-fetch setting is named alone, by the variable that was set (not by a Python argument).
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_UNKNOWN_KID_COOLDOWN_SECONDS": "-1"},
     ["JWT_UNKNOWN_KID_COOLDOWN_SECONDS must be >= 0"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_TIMEOUT_SECONDS": "0"},
     ["JWT_TIMEOUT_SECONDS must be > 0"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_TIMEOUT_SECONDS": "86401"},  # the README's bound
     ["JWT_TIMEOUT_SECONDS must be at most 86400"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_MAX_TOKEN_BYTES": "0"}, ["JWT_MAX_TOKEN_BYTES must be"]),
    ({"JWT_JWKS_URI": "ftp://keys.example", "JWT_AUDIENCE": "api"}, ["JWT_JWKS_URI must use https"]),
    # A host name getaddrinfo refuses: a 503 on every request before, now refused here by its variable.
    ({"JWT_JWKS_URI": "https://keys..example/jwks", "JWT_AUDIENCE": "api"},
     ["JWT_JWKS_URI has a host name no resolver accepts"]),
    ({"JWT_ISSUER": "https://" + "a" * 64 + ".example/", "JWT_AUDIENCE": "api"},
     ["JWT_ISSUER (template parameter JwtIssuer) has a host name no resolver accepts"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_MAX_AGE_CLAIM": "auth_time"},
     ["JWT_MAX_AGE_CLAIM needs JWT_MAX_AGE_SECONDS"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_ALGORITHMS": "rs256"},
     ["JWT_ALGORITHMS has unsupported values: ['rs256']; names are case-sensitive: RS256"]),
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_ALGORITHMS": "RS256,none"},
     ["'none' is never accepted"]),
    # Named by the variables, not by the Python arguments they become.
    ({"JWT_SECRET": "x" * 40, "JWT_ALGORITHMS": "RS256"}, ["JWT_ALGORITHMS must be HS256/HS384/HS512"]),
    ({"JWT_SECRET": "x" * 40, "JWT_JWKS_URI": "https://keys.example/jwks.json"},
     ["Set one key source, not JWT_SECRET and JWT_JWKS_URI"]),
    ({"JWT_SECRET": "x" * 40, "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"}, ["JWT_PUBLIC_KEY"]),
    # JWT_ACCEPTED_TYPES was ignored in silence beside JWT_REQUIRE_ACCESS_TOKEN_TYPE=true.
    ({"JWT_SECRET": "x" * 40, "JWT_ACCEPTED_TYPES": "JWT", "JWT_REQUIRE_ACCESS_TOKEN_TYPE": "true"},
     ["JWT_ACCEPTED_TYPES cannot be combined with JWT_REQUIRE_ACCESS_TOKEN_TYPE=true"]),
    # Only commas: no type left, so every token would be a 401.
    ({"JWT_SECRET": "x" * 40, "JWT_ACCEPTED_TYPES": ","}, ["JWT_ACCEPTED_TYPES must name at least one type"]),
    # A previous secret alone would be ignored: no current one to rotate from.
    ({"JWT_ISSUER": ISS, "JWT_AUDIENCE": "api", "JWT_SECRET_PREVIOUS": "x" * 40},
     ["JWT_SECRET_PREVIOUS is set without JWT_SECRET"]),
])
def test_from_env_errors_name_the_variable_and_template_parameter(env: dict[str, str],
                                                                  says: list[str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Verifier.from_env(env)
    for words in says:
        assert words in str(info.value)
    assert "allow_short_secret" not in str(info.value)
    assert "require_audience" not in str(info.value)


@pytest.mark.parametrize("secrets", [5, object(), None.__class__])
def test_secrets_that_are_no_text_or_list_are_a_configuration_error(secrets: Any) -> None:
    with pytest.raises(ConfigurationError, match="secrets must be"):
        Verifier(issuer=ISS, secrets=secrets)


def test_from_env_overrides_are_named_as_arguments_not_variables() -> None:
    with pytest.raises(ConfigurationError) as info:
        Verifier.from_env({"JWT_SECRET": "x" * 40}, secrets="short")
    assert "allow_short_secret=True" in str(info.value)


def test_shared_secret_from_env_with_an_audience_matches_supabase_tokens() -> None:
    secret = _secrets.token_urlsafe(32)
    env = {"JWT_SECRET": secret, "JWT_AUDIENCE": "authenticated"}
    token = jwt.encode(_claims(iss=None, aud="authenticated"), secret, algorithm="HS256")
    assert Verifier.from_env(env).verify(token)["aud"] == "authenticated"
    with pytest.raises(InvalidClaimError) as info:
        Verifier.from_env({"JWT_SECRET": secret}).verify(token)  # aud carried, none configured
    assert (info.value.claim, info.value.reason) == ("aud", "check_failed")
    opted_out = Verifier.from_env({"JWT_SECRET": secret, "JWT_ACCEPT_ANY_AUDIENCE": "true"})
    assert opted_out.verify(token)["sub"] == "user-1"
    assert Verifier.from_env({"JWT_SECRET": secret}).verify(
        jwt.encode(_claims(iss=None, aud=None), secret, algorithm="HS256"))["sub"] == "user-1"


def test_accept_any_audience_beside_an_audience_is_a_configuration_error_naming_both() -> None:
    # Before, the audience was still checked and the opt-out ignored in silence.
    secret = _secrets.token_urlsafe(32)
    with pytest.raises(ConfigurationError, match="accept_any_audience=True cannot be combined with audience"):
        Verifier(secrets=secret, audience="api", accept_any_audience=True)
    with pytest.raises(ConfigurationError) as info:
        Verifier.from_env({"JWT_SECRET": secret, "JWT_AUDIENCE": "api", "JWT_ACCEPT_ANY_AUDIENCE": "true"})
    assert "JWT_ACCEPT_ANY_AUDIENCE=true cannot be combined with JWT_AUDIENCE" in str(info.value)
    with pytest.raises(ConfigurationError, match=r"accept_any_audience=True cannot be combined with "
                       r"JWT_AUDIENCE \(template parameter JwtAudience\)"):  # named as the user set each
        Verifier.from_env({"JWT_SECRET": secret, "JWT_AUDIENCE": "api"}, accept_any_audience=True)
    with pytest.raises(ConfigurationError, match=r"JWT_ACCEPT_ANY_AUDIENCE=true cannot be combined with "
                       r"audience,"):
        Verifier.from_env({"JWT_SECRET": secret, "JWT_ACCEPT_ANY_AUDIENCE": "true"}, audience="api")
    # Either alone, or the opt-out switched off, is fine.
    assert Verifier.from_env({"JWT_SECRET": secret, "JWT_AUDIENCE": "api",
                              "JWT_ACCEPT_ANY_AUDIENCE": "false"})
    assert Verifier(secrets=secret, audience="api", accept_any_audience=False)


COGNITO_ISS = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_aaaaaaaaa"


def _cognito_token(issuer: DevIssuer, **claims: Any) -> str:
    # As Cognito issues them: no typ, no nbf; access tokens carry client_id and no aud.
    shaped = {"nbf": None, "token_use": "access", "client_id": "client-1", "cognito:groups": ["admin"],
              "scope": "aws.cognito.signin.user.admin", "username": "alice", **claims}
    return issuer.mint(sub="uuid-1", issuer=COGNITO_ISS, audience=None, headers={"typ": None}, claims=shaped)


def test_from_env_with_a_cognito_issuer_matches_aud_or_else_an_access_tokens_client_id(
        issuer: DevIssuer) -> None:
    # The samples are configured only by JWT_ISSUER + JWT_AUDIENCE: a pool's access tokens (no aud)
    # must pass as API Gateway's JWT authorizer passes them, by client_id; ID tokens by aud.
    env = {"JWT_ISSUER": COGNITO_ISS, "JWT_AUDIENCE": "client-1,client-2", "JWT_JWKS_URI": issuer.jwks_uri}
    verifier = Verifier.from_env(env)
    assert verifier.verify(_cognito_token(issuer))["client_id"] == "client-1"
    id_token = _cognito_token(issuer, token_use="id", client_id=None, aud="client-2")
    assert verifier.verify(id_token)["aud"] == "client-2"
    refusals = {
        ("client_id", "check_failed"): _cognito_token(issuer, client_id="another-app"),
        ("client_id", "missing"): _cognito_token(issuer, client_id=None),
        ("aud", "check_failed"): _cognito_token(issuer, token_use="id", client_id=None, aud="another-app"),
        ("aud", "missing"): _cognito_token(issuer, token_use="id"),  # only access tokens lack aud
        ("aud", "invalid"): _cognito_token(issuer, token_use="id", aud=5),
        ("iss", "invalid"): issuer.mint(issuer=COGNITO_ISS + "x", audience=None,
                                        claims={"token_use": "access", "client_id": "client-1"}),
    }
    for (claim, reason), token in refusals.items():
        with pytest.raises(InvalidClaimError) as info:
            verifier.verify(token)
        assert (info.value.claim, info.value.reason) == (claim, reason)
    # Any other issuer keeps the strict rule: a token without aud is refused where one is configured.
    strict = Verifier.from_env({"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": "client-1"})
    with pytest.raises(InvalidClaimError) as info:
        strict.verify(issuer.mint(audience=None, claims={"token_use": "access", "client_id": "client-1"}))
    assert (info.value.claim, info.value.reason) == ("aud", "missing")


def test_errors_never_echo_the_token(jwks_verifier: Verifier, rsa_key: Any) -> None:
    for token in (_rs(rsa_key, _claims(exp=1)), _rs(rsa_key, _claims(iss="https://evil/")),
                  _rs(rsa_key, kid="zzz-unknown"), "abc.def", _rs(rsa_key)[:-5] + "AAAAA"):
        try:
            jwks_verifier.verify(token)
        except Exception as err:
            text = str(err) + repr(err)
            for part in token.split("."):
                if len(part) > 6:
                    assert part not in text
            assert "evil" not in text
            assert "zzz" not in text
        else:
            pytest.fail("accepted a bad token")


def test_prefetch_loads_keys_at_construction_and_survives_an_outage(issuer: Any) -> None:
    from serverless_jwt.dev.issuer import JWKS_PATH

    Verifier(issuer=issuer.issuer, audience=issuer.audience, prefetch=True)
    assert issuer.requests[JWKS_PATH] == 1  # fetched during the "cold start", before any request
    from serverless_jwt.jwks import clear_shared_cache

    clear_shared_cache()
    issuer.fault = "503"
    down = Verifier(issuer=issuer.issuer, audience=issuer.audience, prefetch=True)  # does not raise
    assert down.prefetch() is False
    issuer.fault = None
    # Nothing cached yet: the first request tries again at once and the recovered issuer serves it.
    assert down.verify(issuer.mint())["sub"] == "dev-user"


def test_default_algorithms_accept_each_key_in_every_algorithm_it_fits(rsa_key: Any, ec_key: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_jwk = json.loads(jwt.get_algorithm_by_name("EdDSA").to_jwk(ed_key.public_key()))
    ed_jwk["kid"] = "d1"
    v = Verifier(issuer=ISS, audience=AUD, jwks={"keys": [_jwk(rsa_key, "r1"), _jwk(ec_key, "e1"), ed_jwk]})
    for key, alg, kid in ((rsa_key, "RS256", "r1"), (rsa_key, "PS256", "r1"), (rsa_key, "RS512", "r1"),
                          (ec_key, "ES256", "e1"), (ed_key, "EdDSA", "d1")):
        assert v.verify(jwt.encode(_claims(), key, algorithm=alg, headers={"kid": kid}))["sub"] == "user-1"
    # Still only with a key the algorithm fits, and never HMAC.
    with pytest.raises(AlgorithmNotAllowedError):
        v.verify(jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "r1"}))
    with pytest.raises(AlgorithmNotAllowedError):
        v.verify(jwt.encode(_claims(), _secrets.token_bytes(32), algorithm="HS256", headers={"kid": "r1"}))


SECRET = "shared-secret-" * 5  # 70 bytes: long enough for HS512 (RFC 7518 §3.2)


NOW = 1_700_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _extend_session(claims: Any) -> bool:
    # A check that also adjusts the claims it is shown (e.g. a grace period for the handler).
    claims["exp"] = claims["exp"] + 3600
    return True


def _scopes_as_list(claims: Any) -> bool:
    claims["scope"] = claims["scope"].split()
    return True


def test_a_claim_check_that_edits_exp_cannot_keep_an_expired_token_alive(issuer: DevIssuer) -> None:
    now = [NOW]
    verifier = Verifier(secrets=SECRET, claim_checks=[_extend_session], leeway_seconds=0,
                        clock=lambda: now[0])
    token = issuer.mint(alg="HS256", secret=SECRET, issuer=None, audience=None, now=NOW,
                        lifetime_seconds=100)
    assert verifier.verify(token)["sub"] == "dev-user"
    now[0] = NOW + 500  # the signed exp passed 400 s ago
    with pytest.raises(TokenExpiredError):
        verifier.verify(token)


def test_a_cache_hit_shows_custom_checks_the_signed_claims(issuer: DevIssuer) -> None:
    verifier = Verifier(secrets=SECRET, claim_checks=[_scopes_as_list])
    token = issuer.mint(alg="HS256", secret=SECRET, issuer=None, audience=None, scopes=["a", "b"])
    assert verifier.verify(token)["scope"] == ["a", "b"]
    assert verifier.verify(token)["scope"] == ["a", "b"]


def test_without_the_cache_a_claim_check_edit_never_outlives_the_call(issuer: DevIssuer) -> None:
    # The same two checks with the cache off: the reference behaviour the findings above expect.
    now = [NOW]
    verifier = Verifier(secrets=SECRET, claim_checks=[_extend_session, _scopes_as_list],
                        leeway_seconds=0, verified_cache_size=0, clock=lambda: now[0])
    token = issuer.mint(alg="HS256", secret=SECRET, issuer=None, audience=None, now=NOW,
                        lifetime_seconds=100, scopes=["a"])
    assert verifier.verify(token)["scope"] == ["a"]
    assert verifier.verify(token)["scope"] == ["a"]
    now[0] = NOW + 500
    with pytest.raises(TokenExpiredError):
        verifier.verify(token)


def test_a_claim_check_that_edits_claims_never_excuses_a_bad_signature(issuer: DevIssuer) -> None:
    # Guard: whatever a check edits, a token whose payload was changed still needs a valid signature.
    verifier = Verifier(secrets=SECRET, claim_checks=[_extend_session])
    token = issuer.mint(alg="HS256", secret=SECRET, issuer=None, audience=None)
    assert verifier.verify(token)
    header, _, signature = token.split(".")
    forged = _b64(json.dumps({"sub": "admin", "exp": 9999999999}).encode())
    with pytest.raises(InvalidSignatureError):
        verifier.verify(f"{header}.{forged}.{signature}")
    with pytest.raises(InvalidSignatureError):
        verifier.verify(issuer.mint(alg="HS256", secret="x" * 32, issuer=None, audience=None))


# -- ported: PyJWT tests/test_api_jwt.py (jpadilla/pyjwt@dcc27a9) -----------------------------------------
# Each case is PyJWT's claims, re-signed here with an exp (ours is always required) and a 32-byte secret
# (PyJWT's "secret" is shorter than RFC 7518 allows), through the whole Verifier.
PYJWT_CASES = [
    ("test_decode_with_nonlist_aud_claim_throws_exception", {"aud": 1}, {"audience": "my_audience"},
     ("aud", "invalid")),
    ("test_decode_with_invalid_aud_list_member_throws_exception", {"aud": [1]}, {"audience": "my_audience"},
     ("aud", "invalid")),
    ("test_decode_raises_exception_if_exp_is_not_int", {"exp": "not-an-int"}, {}, ("exp", "invalid")),
    ("test_decode_raises_exception_if_iat_is_not_int", {"iat": "not-an-int"}, {}, ("iat", "invalid")),
    ("test_decode_raises_exception_if_nbf_is_not_int", {"nbf": "not-an-int"}, {}, ("nbf", "invalid")),
    ("test_check_audience_none_specified", {"aud": "urn:me"}, {}, ("aud", "check_failed")),
    ("test_raise_exception_invalid_audience_in_array", {"aud": ["urn:someone", "urn:someone-else"]},
     {"audience": "urn:me"}, ("aud", "check_failed")),
    ("test_raise_exception_token_without_audience", {}, {"audience": "urn:me"}, ("aud", "missing")),
    ("test_decode_invalid_int_sub_claim", {"sub": 1224344}, {}, ("sub", "invalid")),
    ("test_jti_claim_with_invalid_int_value", {"jti": 12223}, {}, ("jti", "invalid")),
    ("test_validate_iss_with_non_str", {"iss": 123}, {"issuer": "https://123.example"}, ("iss", "invalid")),
    ("test_rasise_exception_on_partial_issuer_match", {"iss": "urn:"}, {"issuer": "urn:foo"},
     ("iss", "invalid")),
    # Stricter than PyJWT, on purpose: a null aud is present and not a string (PyJWT: missing), and
    # RFC 7519 NumericDate is a JSON number, so "1638202770" is refused (PyJWT accepts a numeric string).
    ("test_raise_exception_token_with_aud_none_and_without_audience", {"aud": None}, {"audience": "urn:me"},
     ("aud", "invalid")),
    ("test_decode_works_if_iat_is_str_of_a_number", {"iat": "1638202770"}, {}, ("iat", "invalid")),
]


def _hs256(payload: dict[str, Any], secret: bytes) -> str:
    # Signed by hand: PyJWT's own encode refuses some of these payloads (a non-string iss).
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


@pytest.mark.parametrize(("name", "claims", "options", "expected"), PYJWT_CASES,
                         ids=[c[0] for c in PYJWT_CASES])
def test_pyjwt_claim_cases(name: str, claims: dict[str, Any], options: dict[str, Any],
                           expected: tuple[str, str]) -> None:
    secret = _secrets.token_bytes(32)
    payload = {"some": "payload", "exp": int(time.time()) + 600, **claims}
    verifier = Verifier(secrets=secret, **options)
    with pytest.raises(InvalidClaimError) as info:
        verifier.verify(_hs256(payload, secret))
    assert (info.value.claim, info.value.reason) == expected


def test_pyjwt_accepts_what_pyjwt_accepts_with_valid_claims() -> None:
    secret = _secrets.token_bytes(32)
    payload = {"some": "payload", "exp": int(time.time()) + 600, "aud": ["urn:me", "urn:someone-else"],
               "sub": "user", "jti": "id-1", "iss": "urn:foo"}
    token = jwt.encode(payload, secret, algorithm="HS256")
    assert Verifier(secrets=secret, audience="urn:me", issuer="urn:foo").verify(token)["jti"] == "id-1"


@pytest.mark.parametrize(("accepted", "typ", "ok"), [
    (None, "application/at+jwt", True),
    (None, "AT+JWT", True),
    (None, "application/application/jwt", False),
    (["text/jwt"], "text/jwt", True),
    (["text/jwt"], "application/text/jwt", False),   # RFC 7515 §4.1.9: the prefix is implied only without "/"
    (["application/text/jwt"], "text/jwt", False),
    (["urn:example:typ"], "application/urn:example:typ", True),
])
def test_typ_rule_with_real_signed_tokens(issuer: DevIssuer, accepted: list[str] | None, typ: str,
                                          ok: bool) -> None:
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, accepted_types=accepted)
    token = issuer.mint(headers={"typ": typ})
    if ok:
        assert verifier.verify(token)["sub"] == "dev-user"
    else:
        with pytest.raises(InvalidClaimError) as info:
            verifier.verify(token)
        assert (info.value.claim, info.value.reason) == ("typ", "invalid")


# -- no keys to be had: a token whose own claims fail is still a 401 -------------------------------

def test_with_no_key_to_be_had_a_token_failing_its_claims_is_refused_for_them_not_503(
        issuer: DevIssuer) -> None:
    # A client holding an expired token must get the 401 that makes it fetch a new one, not a 503 that
    # it retries with the same token until the issuer is back.
    issuer.fault = "503"
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)  # cold: nothing cached
    with pytest.raises(TokenExpiredError):
        verifier.verify(issuer.mint(now=time.time() - 7200))
    with pytest.raises(InvalidClaimError) as other:
        verifier.verify(issuer.mint(audience="someone-else"))
    assert other.value.claim == "aud"
    with pytest.raises(KeysUnavailableError):  # claims that pass: the signature decides, and cannot
        verifier.verify(issuer.mint())
    # Warm, then a rotation during an outage: the new kid cannot be checked (503) unless the claims fail.
    issuer.fault = None
    warm = Verifier(issuer=issuer.issuer, audience=issuer.audience, unknown_kid_cooldown_seconds=0)
    assert warm.verify(issuer.mint(sub="before"))["sub"] == "before"
    issuer.rotate()
    issuer.fault = "503"
    with pytest.raises(TokenExpiredError):
        warm.verify(issuer.mint(now=time.time() - 7200))
    with pytest.raises(KeysUnavailableError):
        warm.verify(issuer.mint())


# -- Outside vectors, end to end ---------------------------------------------------------------------------
# Wycheproof's signature files (tests/test_checkers.py) sign messages that are not JWS signing inputs, so
# here real header.payload tokens are signed and their signatures changed the ways those files change
# theirs; every change must be a typed refusal, and only ECDSA's (r, n - s) twin, a valid ECDSA signature
# that JWS does not exclude (RFC 7518 §3.4 has no low-s rule; Wycheproof's P1363 files call it valid),
# passes.

_ORDERS = {  # the curves' group orders n (SEC 2)
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
                 "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16),
    "ES512": int("01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
                 "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16),
}
_ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _ecdsa_changes(alg: str, sig: bytes) -> list[tuple[str, bytes]]:
    n, size = _ORDERS[alg], len(sig) // 2
    r, s = int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")

    def raw(a: int, b: int) -> bytes:
        width = max(size, (max(a, b).bit_length() + 7) // 8)
        return a.to_bytes(width, "big") + b.to_bytes(width, "big")

    return [("r + n", raw(r + n, s)), ("s + n", raw(r, s + n)), ("r = s = 0", raw(0, 0)),
            ("r = s = n", raw(n, n)), ("r = s = 1", raw(1, 1)), ("r, s swapped", raw(s, r)),
            ("r, n - s swapped", raw(n - s, r)),
            ("DER", encode_dss_signature(r, s)),
            ("a zero byte before r and s", b"\0" + sig[:size] + b"\0" + sig[size:]),
            ("appended zero", sig + b"\0"), ("last byte dropped", sig[:-1]), ("one byte", b"\0"),
            ("top bit of r flipped", bytes([sig[0] ^ 0x80]) + sig[1:])]


def _rsa_changes(key: rsa.RSAPrivateKey, sig: bytes) -> list[tuple[str, bytes]]:
    n, x = key.public_key().public_numbers().n, int.from_bytes(sig, "big")
    k = len(sig)
    return [("s + n", (x + n).to_bytes(k + 1, "big")), ("s = 0", bytes(k)), ("s = 1", (1).to_bytes(k, "big")),
            ("s = n - 1", (n - 1).to_bytes(k, "big")), ("s = n", n.to_bytes(k, "big")),
            ("leading zero added", b"\0" + sig), ("first byte dropped", sig[1:]),
            ("last bit flipped", sig[:-1] + bytes([sig[-1] ^ 1]))]


def _eddsa_changes(sig: bytes) -> list[tuple[str, bytes]]:
    half = len(sig) // 2
    changes = [("last byte dropped", sig[:-1]), ("appended zero", sig + b"\0"), ("all zero", bytes(len(sig))),
               ("R flipped", bytes([sig[0] ^ 1]) + sig[1:]),
               ("S flipped", sig[:half] + bytes([sig[half] ^ 1]) + sig[half + 1:])]
    if half == 32:  # Ed25519's malleable twin S + L (RFC 8032 §5.1.7 requires S < L)
        s_plus_l = int.from_bytes(sig[half:], "little") + _ED25519_ORDER
        changes.append(("S + L", sig[:half] + s_plus_l.to_bytes(32, "little")))
    return changes


def _signed(alg: str, private: Any, claims: dict[str, Any]) -> str:
    header = {"alg": alg, "kid": "k"}
    if alg in ("Ed25519", "Ed448"):  # RFC 9864's names, which PyJWT does not sign with
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{signing_input}.{_b64(private.sign(signing_input.encode()))}"
    return jwt.encode(claims, private, alg, headers={"kid": "k"})


def _mutation_cases() -> list[Any]:
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = [pytest.param(alg, ec.generate_private_key(curve()), id=alg)
             for alg, curve in (("ES256", ec.SECP256R1), ("ES384", ec.SECP384R1), ("ES512", ec.SECP521R1))]
    cases += [pytest.param(alg, rsa_private, id=alg)
              for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")]
    cases += [pytest.param(alg, ed25519.Ed25519PrivateKey.generate(), id=f"{alg}-ed25519")
              for alg in ("EdDSA", "Ed25519")]
    cases += [pytest.param(alg, ed448.Ed448PrivateKey.generate(), id=f"{alg}-ed448")
              for alg in ("EdDSA", "Ed448")]
    return cases


@pytest.mark.parametrize(("alg", "private"), _mutation_cases())
def test_wycheproof_style_signature_changes_are_refused_end_to_end(alg: str, private: Any) -> None:
    family = "RS256" if alg[0] in "RP" else "ES256" if alg.startswith("ES") else "EdDSA"
    jwk = json.loads(jwt.get_algorithm_by_name(family).to_jwk(private.public_key()))
    v = Verifier(issuer=ISS, audience=AUD, algorithms=[alg], jwks={"keys": [{**jwk, "kid": "k"}]})
    token = _signed(alg, private, _claims())
    assert v.verify(token)["sub"] == "user-1"
    signing_input, _, segment = token.rpartition(".")
    sig = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if alg.startswith("ES"):
        size = len(sig) // 2
        twin = sig[:size] + (_ORDERS[alg] - int.from_bytes(sig[size:], "big")).to_bytes(size, "big")
        assert v.verify(f"{signing_input}.{_b64(twin)}")["sub"] == "user-1"
        changes = _ecdsa_changes(alg, sig)
    elif alg[0] in "RP":
        changes = _rsa_changes(private, sig)
    else:
        changes = _eddsa_changes(sig)
    for what, changed in changes:
        assert changed != sig, what
        with pytest.raises(InvalidSignatureError):
            v.verify(f"{signing_input}.{_b64(changed)}")
    with pytest.raises(MalformedTokenError):
        v.verify(f"{signing_input}.")  # no signature at all
    assert len(changes) >= 5


def test_pss_tokens_signed_with_another_salt_or_mgf_hash_are_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    # RFC 7518 §3.5: PS* uses MGF1 with the same hash and a salt exactly the hash's length.
    v = Verifier(issuer=ISS, audience=AUD, algorithms=["PS256", "PS384", "PS512"],
                 jwks={"keys": [_jwk(rsa_key, "k")]})
    sha1 = hashes.SHA1()  # noqa: S303 - a wrong MGF hash, signed to be refused
    for alg, hash_type in (("PS256", hashes.SHA256), ("PS384", hashes.SHA384), ("PS512", hashes.SHA512)):
        header = _b64(json.dumps({"alg": alg, "kid": "k"}).encode())
        signing_input = f"{header}.{_b64(json.dumps(_claims()).encode())}".encode()
        for mgf_hash, salt in ((hash_type(), 0), (hash_type(), 20), (hash_type(), padding.PSS.MAX_LENGTH),
                               (sha1, hash_type.digest_size), (hash_type(), hash_type.digest_size)):
            sig = rsa_key.sign(signing_input, padding.PSS(padding.MGF1(mgf_hash), salt), hash_type())
            token = f"{signing_input.decode()}.{_b64(sig)}"
            if isinstance(mgf_hash, hash_type) and salt == hash_type.digest_size:
                assert v.verify(token)["sub"] == "user-1"
            else:
                with pytest.raises(InvalidSignatureError):
                    v.verify(token)


# RFC 7515 Appendix A and E, RFC 7520 §4 and RFC 8037 A.4: tests/fixtures/rfc/jws_examples.json names its
# sources. The RFC 7515 A.1-A.3 payload is a JWT claims set ({"iss":"joe","exp":1300819380,...}, CRLF
# whitespace in header and payload), so it verifies end to end on a clock set to March 2011; the others sign
# text ("Payload", Tolkien) that is no claims set, so the verifier refuses the token as malformed while the
# signature itself checks with the key it was made with.
RFC_EXAMPLES = json.loads((Path(__file__).resolve().parent / "fixtures" / "rfc" / "jws_examples.json")
                          .read_text())
RFC_7515_CLAIMS = {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
# name -> (what verify does, whether the signature checks with the example's key)
RFC_VERDICTS: dict[str, tuple[Any, bool | None]] = {
    "RFC 7515 A.1 (HS256)": ("claims", True), "RFC 7515 A.2 (RS256)": ("claims", True),
    "RFC 7515 A.3 (ES256)": ("claims", True), "RFC 7515 A.4 (ES512)": (MalformedTokenError, True),
    "RFC 7515 A.5 (none)": (MalformedTokenError, None),  # unsecured: an empty signature segment
    "RFC 7515 E (crit names an unknown extension)": (MalformedTokenError, None),
    "RFC 7520 4.1 (RS256)": (MalformedTokenError, True), "RFC 7520 4.2 (PS384)": (MalformedTokenError, True),
    "RFC 7520 4.3 (ES512)": (MalformedTokenError, True), "RFC 7520 4.4 (HS256)": (MalformedTokenError, True),
    "RFC 7520 4.5 (HS256, detached payload)": (MalformedTokenError, None),  # empty payload segment
    "RFC 8037 A.4 (EdDSA, Ed25519)": (MalformedTokenError, True),
}


def _rfc_verifier(example: dict[str, Any]) -> Verifier:
    key, march_2011 = example["key"], lambda: 1_300_819_000.0
    if key["kty"] == "oct":
        secret = base64.urlsafe_b64decode(key["k"] + "=" * (-len(key["k"]) % 4)) or b"\0" * 32
        return Verifier(issuer="joe", require_audience=False, secrets=secret, clock=march_2011)
    return Verifier(issuer="joe", require_audience=False, algorithms=[example["alg"]], jwks={"keys": [key]},
                    clock=march_2011)


def _rfc_key_and_parts(example: dict[str, Any]) -> tuple[Any, bytes, bytes]:
    data, h64, p64, s64 = token_module.split(example["token"])
    header, jwk, algs = token_module.decode_header(h64), example["key"], [example["alg"]]
    if jwk["kty"] == "oct":
        (key,) = SecretKeys([base64.urlsafe_b64decode(jwk["k"] + "==")], algorithms=algs).keys_for(header)
    else:
        key = KeySet.from_jwks({"keys": [jwk]}, algorithms=algs).select(header)
    return key, data[: len(h64) + 1 + len(p64)], token_module.decode_signature(s64)


@pytest.mark.parametrize("example", RFC_EXAMPLES["examples"], ids=lambda e: e["name"])
def test_rfc_jws_examples_get_their_verdicts(example: dict[str, Any]) -> None:
    outcome, signature_checks = RFC_VERDICTS[example["name"]]
    v = _rfc_verifier(example)
    if outcome == "claims":
        assert v.verify(example["token"]) == RFC_7515_CLAIMS
        signed, _, segment = example["token"].rpartition(".")
        sig = token_module.decode_signature(segment.encode())
        with pytest.raises(InvalidSignatureError):  # one bit of the signature changed
            v.verify(f"{signed}.{_b64(sig[:-1] + bytes([sig[-1] ^ 1]))}")
    else:
        with pytest.raises(outcome):
            v.verify(example["token"])
    if signature_checks is not None:
        # The layer below the claims: the key as the verifier builds it, and its signature check.
        key, signing_input, signature = _rfc_key_and_parts(example)
        alg = example["alg"]
        assert key.verify(alg, signing_input, signature) is signature_checks
        assert key.verify(alg, signing_input, signature[:-1] + bytes([signature[-1] ^ 1])) is False


@pytest.mark.parametrize("example", [e for e in RFC_EXAMPLES["examples"] if RFC_VERDICTS[e["name"]][1]],
                         ids=lambda e: e["name"])
def test_rfc_jws_examples_fail_after_any_tampering(example: dict[str, Any]) -> None:
    # Every bit of the signing input (header and payload) and of the signature matters, and the
    # signature is taken only at its exact length and under its own algorithm.
    key, signing_input, sig = _rfc_key_and_parts(example)
    alg = example["alg"]
    assert key.verify(alg, signing_input, sig)
    for i in range(len(signing_input)):
        for bit in (0x01, 0x20):
            tampered = signing_input[:i] + bytes([signing_input[i] ^ bit]) + signing_input[i + 1:]
            assert not key.verify(alg, tampered, sig), (i, bit)
    for i in range(len(sig)):
        assert not key.verify(alg, signing_input, sig[:i] + bytes([sig[i] ^ 0x80]) + sig[i + 1:]), i
    half = len(sig) // 2
    for other in (b"", sig[:-1], sig[1:], b"\0" + sig, sig + b"\0", sig[half:] + sig[:half], bytes(len(sig)),
                  signing_input + sig):
        assert not key.verify(alg, signing_input, other)
    for wrong_alg in ("RS256", "RS384", "PS256", "PS384", "ES256", "ES512", "HS256", "HS512", "EdDSA"):
        if wrong_alg != alg:
            assert not key.verify(wrong_alg, signing_input, sig), wrong_alg
    if key.kty == "EC":  # JWS carries raw r || s: the DER form OpenSSL takes is no JWS signature
        der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
        assert not key.verify(alg, signing_input, der)


def test_rfc_examples_are_all_exercised_and_the_rfc_7515_a1_token_is_the_rfcs() -> None:
    assert [e["name"] for e in RFC_EXAMPLES["examples"]] == list(RFC_VERDICTS)
    a1 = RFC_EXAMPLES["examples"][0]["token"]
    assert a1.startswith("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.")
    assert a1.endswith(".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")


def test_a_cached_token_whose_claims_fail_is_refused_for_them_when_no_key_can_be_had(
        issuer: DevIssuer) -> None:
    # The verified-token cache must answer as the uncached path does: once the keys are past the stale
    # window and the issuer is down, an expired token is the 401 that makes its client get a new one.
    clock = Clock()
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, clock=clock,
                        jwks_max_age_seconds=0.05, max_stale_seconds=0)
    token = issuer.mint(now=clock.now, lifetime_seconds=600)
    assert verifier.verify(token)["sub"] == "dev-user"  # now in the verified-token cache
    issuer.fault = "503"
    time.sleep(0.1)  # past max age + stale window: no servable keys left
    with pytest.raises(KeysUnavailableError):  # claims that pass: the signature decides, and cannot
        verifier.verify(token)
    clock.now += 7200
    with pytest.raises(TokenExpiredError):
        verifier.verify(token)


@pytest.mark.parametrize("verified_cache_size", [1024, 0])
def test_a_refresh_that_drops_a_known_kid_is_one_fetch_not_a_second_for_the_unknown_kid(
        issuer: DevIssuer, verified_cache_size: int) -> None:
    # A request whose header was planned (or whose token was cached) refreshes stale keys first; if the new
    # set lacks its kid, the unknown-kid refetch would bring that same set again, and hold the request for
    # a second fetch past its timeout_seconds.
    from serverless_jwt.dev.issuer import JWKS_PATH

    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, jwks_max_age_seconds=0.05,
                        verified_cache_size=verified_cache_size)
    old = issuer.mint()
    assert verifier.verify(old)["sub"] == "dev-user"
    issuer.rotate()  # the old key is no longer published
    time.sleep(0.1)  # past the max age: the next request refreshes
    before = issuer.requests[JWKS_PATH]
    with pytest.raises(UnknownKeyError):
        verifier.verify(old)
    assert issuer.requests[JWKS_PATH] == before + 1
    # A kid that never was in a set still gets its refetch (the cool-down allows one).
    with pytest.raises(UnknownKeyError):
        verifier.verify(issuer.mint(kid="never-published"))
    assert issuer.requests[JWKS_PATH] == before + 2


@pytest.mark.parametrize("verified_cache_size", [1024, 0])
def test_fresh_keys_cost_no_fetch_and_each_max_age_one_fetch_on_plan_and_cache_hits(
        issuer: DevIssuer, verified_cache_size: int) -> None:
    # The per-request freshness question must never skip a due refresh, nor fetch while keys are fresh.
    from serverless_jwt.dev.issuer import JWKS_PATH

    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, jwks_max_age_seconds=1,
                        verified_cache_size=verified_cache_size)
    token = issuer.mint()
    for expected_fetches in (1, 2):
        for _ in range(3):
            assert verifier.verify(token)["sub"] == "dev-user"
        assert issuer.requests[JWKS_PATH] == expected_fetches
        time.sleep(1.1)  # past the max age: the next request refreshes, once


@pytest.mark.parametrize("verified_cache_size", [1024, 0])
def test_a_set_another_verifier_refreshed_before_this_call_still_allows_its_unknown_kid_refetch(
        issuer: DevIssuer, verified_cache_size: int) -> None:
    # This call refreshed nothing (another verifier of the issuer did, earlier): its one fetch is the
    # refetch for the kid its plan (or cached token) knew, as when it had seen the new set itself.
    from serverless_jwt.dev.issuer import JWKS_PATH

    settings = {"issuer": issuer.issuer, "audience": issuer.audience, "jwks_max_age_seconds": 0.05,
                "verified_cache_size": verified_cache_size}
    first, other = Verifier(**settings), Verifier(**settings)
    old = issuer.mint()
    assert first.verify(old)["sub"] == "dev-user"
    issuer.rotate()  # the old key is no longer published
    time.sleep(0.1)
    assert other.verify(issuer.mint())["sub"] == "dev-user"  # its refresh brings the new set
    before = issuer.requests[JWKS_PATH]
    with pytest.raises(UnknownKeyError):
        first.verify(old)
    assert issuer.requests[JWKS_PATH] == before + 1


class _PlainSource:
    """A user-written key source: the KeySource protocol's three members and nothing else."""

    def __init__(self, keys: KeySet) -> None:
        self.keys, self.generation, self.prefetches = keys, 0, 0

    def keys_for(self, header: Any, *, refetch: bool = True) -> Any:
        key = self.keys.select(header)
        if key is None:
            raise UnknownKeyError()
        return (key,)

    def prefetch(self) -> None:  # returns None, as the protocol says
        self.prefetches += 1


@pytest.mark.parametrize("verified_cache_size", [1024, 0])
def test_a_key_source_without_fresh_generation_is_asked_prefetch_and_generation_per_request(
        rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey, verified_cache_size: int) -> None:
    verifier = Verifier(issuer=ISS, audience=AUD, algorithms=["RS256"], jwks={"keys": [_jwk(rsa_key, "r1")]},
                        verified_cache_size=verified_cache_size)
    source = verifier._keys = _PlainSource(KeySet.from_jwks({"keys": [_jwk(rsa_key, "r1")]},
                                                            algorithms=["RS256"]))
    token = _rs(rsa_key)
    for _ in range(3):  # planned, then plan (or cache) hits: each hit asks the source
        assert verifier.verify(token)["sub"] == "user-1"
    assert source.prefetches == 2
    # The source rotates: its new generation ends the plan and the cached admission.
    source.keys = KeySet.from_jwks({"keys": [_jwk(ec_key, "e1")]}, algorithms=["ES256"])
    source.generation = 1
    with pytest.raises(UnknownKeyError):
        verifier.verify(token)
