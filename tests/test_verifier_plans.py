"""Per-header signature plans must never outlive the keys they were made from.

A Verifier remembers, per header segment, which signature checks apply (see ``Verifier._plan``). These
tests drive a real loopback issuer: rotation, an outage past the stale window, and forged tokens that
reuse a known header must all behave as if there were no plan at all.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import (
    AlgorithmNotAllowedError,
    InvalidClaimError,
    InvalidSignatureError,
    KeysUnavailableError,
    UnknownKeyError,
)
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
