"""Per-header signature plans must never outlive the keys they were made from.

A Verifier remembers, per header segment, which signature checks apply (see ``Verifier._plan``). These
tests drive a real loopback issuer: rotation, an outage past the stale window, and forged tokens that
reuse a known header must all behave as if there were no plan at all.
"""

from __future__ import annotations

import base64
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
    InvalidClaimError,
    InvalidSignatureError,
    KeysUnavailableError,
    UnknownKeyError,
)
from serverless_jwt.issuers import MultiIssuerVerifier
from serverless_jwt.verifier import Verifier

SHORT = 0.05  # seconds: key-set age limits short enough to pass with a sleep
WAIT = 0.15  # any longer wait only makes the expired conditions truer: never flaky, never a timing test


def _verifier(dev: DevIssuer, **options: object) -> Verifier:
    settings: dict[str, object] = {"issuer": dev.issuer, "audience": dev.audience, "verified_cache_size": 0,
                                   "jwks_max_age_seconds": SHORT, "unknown_kid_cooldown_seconds": 0}
    settings.update(options)
    return Verifier(**settings)  # type: ignore[arg-type]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_key_dropped_by_rotation_stops_verifying_even_with_a_plan(issuer: DevIssuer) -> None:
    verifier = _verifier(issuer)
    old = issuer.mint()
    assert verifier.verify(old)["sub"] == "dev-user"
    assert verifier.verify(issuer.mint())["sub"] == "dev-user"  # same header: the plan is used
    issuer.rotate()  # the old key leaves the JWKS
    time.sleep(WAIT)
    with pytest.raises(UnknownKeyError):
        verifier.verify(old)
    assert verifier.verify(issuer.mint())["sub"] == "dev-user"


def test_a_plan_does_not_extend_the_stale_window(issuer: DevIssuer) -> None:
    verifier = _verifier(issuer, max_stale_seconds=SHORT)
    first, second = issuer.mint(), issuer.mint()
    assert verifier.verify(first)
    issuer.stop()
    time.sleep(WAIT)
    with pytest.raises(KeysUnavailableError):
        verifier.verify(second)


def test_a_known_header_with_a_forged_payload_or_signature_is_rejected(issuer: DevIssuer) -> None:
    verifier = _verifier(issuer)
    token = issuer.mint()
    assert verifier.verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = _b64(json.dumps({**claims, "sub": "admin"}).encode())
    with pytest.raises(InvalidSignatureError):
        verifier.verify(f"{header}.{forged}.{signature}")
    other_key_token = issuer.mint_with_foreign_key()
    with pytest.raises(InvalidSignatureError):
        verifier.verify(f"{header}.{other_key_token.split('.')[1]}.{other_key_token.split('.')[2]}")


def test_a_plan_is_per_verifier_and_follows_its_own_rules(issuer: DevIssuer) -> None:
    token = issuer.mint(alg="ES256")
    assert _verifier(issuer).verify(token)
    with pytest.raises(AlgorithmNotAllowedError):
        _verifier(issuer, algorithms=["RS256"]).verify(token)
    with pytest.raises(InvalidClaimError):
        _verifier(issuer, audience="https://another.example").verify(token)


def test_the_issuer_check_still_comes_before_any_key_work(issuer: DevIssuer) -> None:
    verifier = _verifier(issuer)
    assert verifier.verify(issuer.mint())
    fetches = dict(issuer.requests)
    time.sleep(WAIT)  # keys are due for a refresh now
    with pytest.raises(InvalidClaimError) as caught:
        verifier.verify(issuer.mint(issuer="https://someone-else.example"))
    assert caught.value.claim == "iss"
    assert dict(issuer.requests) == fetches  # a token for another issuer caused no fetch


SECRET = "shared-secret-" * 5  # 70 bytes: long enough for HS512 (RFC 7518 §3.2)


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


def test_the_cold_start_plan_and_cached_token_carry_the_keys_they_were_made_from(issuer: DevIssuer) -> None:
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)  # cold: no prefetch
    token = issuer.mint()
    verifier.verify(token)
    header = token.partition(".")[0].encode()
    assert verifier._plans[header][0] == verifier._keys.generation
    assert verifier._cache.get(token) == verifier._keys.generation
    original, checks = verifier._plan, []

    def planning(*args: Any) -> Any:
        checks.append(1)
        return original(*args)

    verifier._plan = planning  # type: ignore[method-assign]
    verifier.verify(issuer.mint())  # the same header: no second plan for the keys already read
    assert checks == []
