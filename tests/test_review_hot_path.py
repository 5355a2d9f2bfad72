"""Second reading of the hot-path commits (2110d88, da96d84, b50752c): what they must not change.

Guards (pass): per-header plans never outlive a key change, never cross verifiers or issuers that
share a header segment, the module-wide header cache holds nothing verifier-specific, the JSON fast
path and the integer time fast path agree with the strict rules end to end, and concurrent first use
of a header admits nothing forged. The review's findings (the cache stored claims after custom checks
had edited them; the decode steps trusted split() to check the alphabet) are fixed and pinned here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from serverless_jwt import token as token_module
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import (
    AlgorithmNotAllowedError,
    AuthError,
    InvalidSignatureError,
    MalformedTokenError,
    TokenExpiredError,
)
from serverless_jwt.issuers import MultiIssuerVerifier
from serverless_jwt.token import MAX_JSON_DEPTH
from serverless_jwt.verifier import Verifier

SECRET = "review-secret-" * 3
NOW = 1_700_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs_token(payload: bytes, header: bytes = b'{"alg":"HS256","typ":"JWT"}', key: str = SECRET) -> str:
    signing_input = _b64(header) + "." + _b64(payload)
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def _outcome(verifier: Verifier | MultiIssuerVerifier, token: str) -> str:
    try:
        return "ok:" + str(verifier.verify(token).get("sub"))
    except AuthError as err:
        return type(err).__name__


def _remote(dev: DevIssuer, **options: Any) -> Verifier:
    settings: dict[str, Any] = {"issuer": dev.issuer, "audience": dev.audience, "verified_cache_size": 0,
                                "unknown_kid_cooldown_seconds": 0}
    settings.update(options)
    return Verifier(**settings)


# -- plans and key changes ---------------------------------------------------------------------

def test_an_unknown_kid_refetch_that_drops_a_key_ends_its_plan(issuer: DevIssuer) -> None:
    # No waiting for max age: the refetch for the new kid changes the generation by itself.
    verifier = _remote(issuer)
    old = issuer.mint(sub="old")
    assert _outcome(verifier, old) == "ok:old"
    assert _outcome(verifier, issuer.mint(sub="old2")) == "ok:old2"  # plan hit
    issuer.rotate()  # the old key leaves the JWKS
    assert _outcome(verifier, issuer.mint(sub="new")) == "ok:new"  # unknown kid: refetch
    assert _outcome(verifier, old) == "UnknownKeyError"


@pytest.mark.parametrize("cache", [0, 16])
def test_a_plan_for_a_kidless_header_ends_when_the_set_holds_two_keys(issuer: DevIssuer, cache: int) -> None:
    verifier = _remote(issuer, algorithms=["RS256"], verified_cache_size=cache)  # one usable key
    kidless = issuer.mint(headers={"kid": None}, sub="anon")
    assert _outcome(verifier, kidless) == "ok:anon"
    assert _outcome(verifier, kidless) == "ok:anon"
    issuer.rotate(keep_old=True)
    assert _outcome(verifier, issuer.mint(sub="new")) == "ok:new"  # refetch: two RSA keys now
    # Without a kid, choosing between two keys would be a guess: the plan must not make it.
    assert _outcome(verifier, kidless) == "UnknownKeyError"


def test_stored_secret_rotation_ends_plans_and_cached_admissions(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with moto.mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="review-jwt-secret", SecretString=f"{new}\n{old}")["ARN"]
        planned = Verifier(secret_from=arn, secret_max_age_seconds=0, verified_cache_size=0)
        cached = Verifier(secret_from=arn, secret_max_age_seconds=0)
        old_token = issuer.mint(alg="HS256", secret=old, issuer=None, audience=None, sub="old")
        for verifier in (planned, cached):
            assert _outcome(verifier, old_token) == "ok:old"
            assert _outcome(verifier, old_token) == "ok:old"  # plan hit / cache hit
        client.put_secret_value(SecretId=arn, SecretString=new)  # rotation finished
        for verifier in (planned, cached):
            assert _outcome(verifier, old_token) == "InvalidSignatureError"
            new_token = issuer.mint(alg="HS256", secret=new, issuer=None, audience=None, sub="new")
            assert _outcome(verifier, new_token) == "ok:new"


# -- plans and the module-wide header cache across verifiers -----------------------------------

@pytest.fixture
def twin_issuers() -> Iterator[tuple[DevIssuer, DevIssuer, Any, Any]]:
    """Two loopback issuers each publishing a different RSA key under the same kid."""
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
    with DevIssuer() as a, DevIssuer() as b:
        for dev, key in zip((a, b), keys, strict=True):
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            dev.extra_jwks_keys = [{**jwk, "kid": "shared", "use": "sig"}]
        yield a, b, keys[0], keys[1]


def _signed(dev: DevIssuer, key: Any, iss: str, sub: str) -> str:
    claims = {"iss": iss, "aud": dev.audience, "sub": sub, "exp": int(time.time()) + 600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "shared"})


def test_a_shared_header_segment_never_lends_one_issuers_key_to_another(
        twin_issuers: tuple[DevIssuer, DevIssuer, Any, Any]) -> None:
    a, b, key_a, key_b = twin_issuers
    va, vb = _remote(a), _remote(b)
    multi = MultiIssuerVerifier([va, vb])
    good_a, good_b = _signed(a, key_a, a.issuer, "a"), _signed(b, key_b, b.issuer, "b")
    assert good_a.split(".")[0] == good_b.split(".")[0]  # one header segment, two verifiers
    for _ in range(2):  # the second round runs on plans
        assert _outcome(multi, good_a) == "ok:a"
        assert _outcome(multi, good_b) == "ok:b"
    # A token claiming B signed with A's key (same kid, same header) must meet B's key only.
    assert _outcome(multi, _signed(b, key_a, b.issuer, "x")) == "InvalidSignatureError"
    assert _outcome(multi, _signed(a, key_b, a.issuer, "x")) == "InvalidSignatureError"
    assert _outcome(vb, _signed(b, key_a, b.issuer, "x")) == "InvalidSignatureError"


def test_a_header_cached_and_planned_by_one_verifier_is_judged_afresh_by_another(issuer: DevIssuer) -> None:
    lenient = _remote(issuer)
    token = issuer.mint()  # typ "JWT", alg RS256
    assert _outcome(lenient, token) == "ok:dev-user"
    assert _outcome(lenient, token) == "ok:dev-user"
    assert token.split(".")[0].encode() in token_module._HEADERS
    assert _outcome(_remote(issuer, require_access_token_type=True), token) == "InvalidClaimError"
    assert _outcome(_remote(issuer, algorithms=["PS256"]), token) == "AlgorithmNotAllowedError"
    assert _outcome(_remote(issuer, audience="someone-else"), token) == "InvalidClaimError"
    assert _outcome(lenient, token) == "ok:dev-user"


def test_mutating_a_parsed_header_changes_nothing_for_verifiers(issuer: DevIssuer) -> None:
    verifier = _remote(issuer, algorithms=["RS256"])
    token = issuer.mint()
    parsed = token_module.parse(token)
    parsed.header["alg"] = "HS256"
    parsed.header["kid"] = "attacker"
    assert token_module.parse(token).header["alg"] == "RS256"
    assert _outcome(verifier, token) == "ok:dev-user"
    hs = issuer.mint(alg="HS256", secret=SECRET, kid=issuer.kid())
    with pytest.raises(AlgorithmNotAllowedError):
        verifier.verify(hs)


def test_concurrent_first_use_of_a_header_admits_nothing_forged(issuer: DevIssuer) -> None:
    verifier = _remote(issuer)
    good = [issuer.mint(sub=f"u{i}") for i in range(8)]
    forged = [issuer.mint_with_foreign_key(sub=f"f{i}") for i in range(8)]
    assert good[0].split(".")[0] == forged[0].split(".")[0]
    results: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work(i: int) -> None:
        start.wait()
        for _ in range(25):
            for kind, token in (("good", good[i]), ("forged", forged[i])):
                outcome = _outcome(verifier, token)
                with lock:
                    results.append((kind, outcome))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 * 25 * 2
    assert {o for k, o in results if k == "good"} == {f"ok:u{i}" for i in range(8)}
    assert {o for k, o in results if k == "forged"} == {"InvalidSignatureError"}


# -- JSON and time claims end to end (valid signatures: only the parser and claim rules decide) ---

def _nested(depth: int) -> bytes:
    return b'{"exp":9999999999,"n":' + b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1) + b"}"


PAYLOADS = [
    (b'{"exp":9999999999,"sub":"a"}', "ok:a"),
    (b' {"exp":9999999999,"sub":"a"}\n', "ok:a"),  # whitespace around the object is JSON
    (b'\xef\xbb\xbf{"exp":9999999999}', "MalformedTokenError"),
    (b'{"exp":9999999999,"o":{"x":1,"x":2}}', "MalformedTokenError"),  # nested duplicate
    (b'{"exp":9999999999,"sub":"a","sub":"b"}', "MalformedTokenError"),
    (b'{"exp":1e400}', "MalformedTokenError"),
    (b'{"exp":-1e400}', "MalformedTokenError"),
    (b'{"exp":NaN}', "MalformedTokenError"),
    (b'{"exp":Infinity}', "MalformedTokenError"),
    (b'{"exp":9999999999,"sub":"\\ud800"}', "MalformedTokenError"),
    (b'{"exp":9999999999,"sub":"\\udc00\\ud800"}', "MalformedTokenError"),
    (b'{"exp":9999999999,"sub":"\\ud83d\\ude00"}', "ok:\U0001f600"),
    (b'{"exp":9999999999,"sub":"\\u0061"}', "ok:a"),
    (b'{"exp":9999999999,"sub":"a\x01"}', "MalformedTokenError"),  # raw control character
    (b'{"exp":9999999999,"sub":"\xc0\xaf"}', "MalformedTokenError"),  # overlong UTF-8
    (b'{"exp":9999999999,"sub":"\xed\xa0\x80"}', "MalformedTokenError"),  # encoded surrogate
    (b'{"exp":' + b"9" * 5000 + b"}", "MalformedTokenError"),  # beyond int()'s digit limit
    (_nested(MAX_JSON_DEPTH), "ok:None"),
    (_nested(MAX_JSON_DEPTH + 1), "MalformedTokenError"),
    (b'{"exp":9999999999,"s":"' + b"[" * 40 + b'"}', "ok:None"),  # brackets in a string
    (b'["exp"]', "MalformedTokenError"),
    (b'{"exp":9999999999}{}', "MalformedTokenError"),
    # time claims: exact ints take the fast path; everything else the full rule
    (b'{"exp":true}', "InvalidClaimError"),
    (b'{"exp":false}', "InvalidClaimError"),
    (b'{"exp":"9999999999"}', "InvalidClaimError"),
    (b'{"exp":null}', "InvalidClaimError"),
    (b'{"sub":"a"}', "InvalidClaimError"),
    (b'{"exp":-0}', "TokenExpiredError"),
    (b'{"exp":1e308,"sub":"f"}', "ok:f"),
    (b'{"exp":' + b"1" + b"0" * 400 + b',"sub":"big"}', "ok:big"),
    (b'{"exp":9999999999,"nbf":true}', "InvalidClaimError"),
    (b'{"exp":9999999999,"nbf":' + b"1" + b"0" * 400 + b"}", "InvalidClaimError"),
    (b'{"exp":9999999999,"iat":9999999999.5}', "InvalidClaimError"),
    (b'{"exp":9999999999,"iat":-0.0,"sub":"z"}', "ok:z"),
]


@pytest.mark.parametrize(("payload", "expected"), PAYLOADS)
def test_signed_edge_case_payloads_meet_the_strict_rules(payload: bytes, expected: str) -> None:
    token = _hs_token(payload)
    for cache in (0, 8):
        verifier = Verifier(secrets=SECRET, verified_cache_size=cache, clock=lambda: NOW)
        # Twice each: the second call runs on the plan (and on the verified cache when on).
        assert [_outcome(verifier, token), _outcome(verifier, token)] == [expected, expected]


HEADERS = [
    (b'{"alg":"HS256","typ":"JWT"}', "ok:a"),
    (b'{"alg":"HS256","alg":"HS256"}', "MalformedTokenError"),
    (b'{"alg":"HS256","x":1e400}', "MalformedTokenError"),
    (b'{"alg":"HS\\u0032\\u0035\\u0036"}', "ok:a"),  # escapes take the strict path, same meaning
    (b'{"alg":"HS256","kid":"\\ud800"}', "MalformedTokenError"),
    (b'{"alg":"HS256","crit":["exp"]}', "MalformedTokenError"),
    (b'{"alg":"HS256","typ":"dpop+jwt"}', "InvalidClaimError"),
    (b'{"alg":"HS384"}', "InvalidSignatureError"),  # allowed, but the signature is HS256's
    (b'{"alg":"none"}', "AlgorithmNotAllowedError"),
]


@pytest.mark.parametrize(("header", "expected"), HEADERS)
def test_signed_edge_case_headers_meet_the_strict_rules(header: bytes, expected: str) -> None:
    token = _hs_token(b'{"exp":9999999999,"sub":"a"}', header=header)
    verifier = Verifier(secrets=SECRET, algorithms=["HS256", "HS384"], verified_cache_size=0,
                        clock=lambda: NOW)
    assert [_outcome(verifier, token), _outcome(verifier, token)] == [expected, expected]


# -- findings ----------------------------------------------------------------------------------

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


@pytest.mark.parametrize("segment", [
    b"eyJzdWIiOiJhIn0=",  # padded
    base64.b64encode(b'{"sub":"a?>"}'),  # standard alphabet ('+' / '/')
    b"eyJzdWIi!!!!OiJhIn0",  # junk the lenient decoder skips
])
def test_decode_steps_refuse_what_parse_refuses(segment: bytes) -> None:
    with pytest.raises(MalformedTokenError):
        token_module.parse("eyJhbGciOiJIUzI1NiJ9." + segment.decode() + ".c2ln")
    with pytest.raises(MalformedTokenError):
        token_module.decode_payload(segment)


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
