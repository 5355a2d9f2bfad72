"""MultiIssuerVerifier: routing by exact iss before any fetch, per-issuer keys and rules."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from jwt.algorithms import HMACAlgorithm

from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer
from serverless_jwt.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidClaimError,
    InvalidSignatureError,
    KeysUnavailableError,
    MalformedTokenError,
    UnknownKeyError,
)
from serverless_jwt.issuers import MultiIssuerVerifier
from serverless_jwt.jwks import clear_shared_cache
from serverless_jwt.verifier import Verifier


@pytest.fixture
def other() -> Iterator[DevIssuer]:
    with DevIssuer(audience="other-api") as dev:
        yield dev


def _multi(a: DevIssuer, b: DevIssuer) -> MultiIssuerVerifier:
    return MultiIssuerVerifier([
        Verifier(issuer=a.issuer, audience=a.audience, jwks_uri=a.jwks_uri, timeout_seconds=2),
        Verifier(issuer=b.issuer, audience=b.audience, jwks_uri=b.jwks_uri, timeout_seconds=2),
    ])


def test_each_issuer_token_verifies_with_its_own_rules(issuer: DevIssuer, other: DevIssuer) -> None:
    multi = _multi(issuer, other)
    assert multi.verify(issuer.mint(sub="a"))["sub"] == "a"
    assert multi.verify(other.mint(sub="b"))["sub"] == "b"
    # Audiences are per issuer: the first issuer's audience is not accepted for the second.
    with pytest.raises(InvalidClaimError) as err:
        multi.verify(other.mint(audience=issuer.audience))
    assert err.value.claim == "aud"


def test_unknown_issuer_is_401_without_any_fetch(issuer: DevIssuer, other: DevIssuer) -> None:
    multi = _multi(issuer, other)
    token = issuer.mint(issuer="https://attacker.example")
    with pytest.raises(InvalidClaimError) as err:
        multi.verify(token)
    assert (err.value.claim, err.value.reason, err.value.status) == ("iss", "invalid", 401)
    assert "attacker" not in str(err.value)
    assert sum(issuer.requests.values()) == 0
    assert sum(other.requests.values()) == 0


@pytest.mark.parametrize("value", [None, 42, ["x"]])
def test_missing_or_non_string_iss_is_rejected_without_fetch(issuer: DevIssuer, other: DevIssuer,
                                                             value: object) -> None:
    multi = _multi(issuer, other)
    token = issuer.mint(issuer=None) if value is None else issuer.mint(claims={"iss": value})
    with pytest.raises(InvalidClaimError) as err:
        multi.verify(token)
    assert err.value.claim == "iss"
    assert err.value.reason == ("missing" if value is None else "invalid")
    assert sum(issuer.requests.values()) == 0


def test_an_explicit_null_iss_is_invalid_as_the_issuers_own_verifier_says() -> None:
    # "iss": null is present and not a string: "invalid", as Verifier.verify and check_claims say; only
    # an absent iss is "missing". The front and the verifier behind it must give one token one reason.
    secret = "s" * 32
    verifier = Verifier(issuer="https://a.example.com", audience="api", secrets=secret)
    multi = MultiIssuerVerifier([verifier])
    token = _hs_token(secret, {"alg": "HS256"}, {"iss": None, "aud": "api", "exp": int(time.time()) + 60})
    reasons = []
    for verify in (verifier.verify, multi.verify, multi._check_unverified):
        with pytest.raises(InvalidClaimError) as err:
            verify(token)
        reasons.append((err.value.claim, err.value.reason))
    assert reasons == [("iss", "invalid")] * 3


def test_iss_match_is_exact(issuer: DevIssuer, other: DevIssuer) -> None:
    multi = _multi(issuer, other)
    for spelled in (issuer.issuer + "/", issuer.issuer.upper(), " " + issuer.issuer):
        with pytest.raises(InvalidClaimError):
            multi.verify(issuer.mint(issuer=spelled))


def test_key_of_one_issuer_never_verifies_a_token_claiming_another(issuer: DevIssuer,
                                                                   other: DevIssuer) -> None:
    multi = _multi(issuer, other)
    # Signed by the first issuer's key (its kid), but claiming the second issuer.
    forged = issuer.mint(issuer=other.issuer, audience=other.audience)
    with pytest.raises(UnknownKeyError):
        multi.verify(forged)
    assert issuer.requests[JWKS_PATH] == 0  # only the claimed issuer's keys were consulted
    assert other.requests[JWKS_PATH] >= 1


def test_outage_of_one_issuer_does_not_affect_the_other(issuer: DevIssuer, other: DevIssuer) -> None:
    multi = _multi(issuer, other)
    other.fault = "503"
    with pytest.raises(KeysUnavailableError):
        multi.verify(other.mint())
    assert multi.verify(issuer.mint(sub="ok"))["sub"] == "ok"


def test_prefetch_loads_every_issuer_at_once_within_one_deadline(issuer: DevIssuer, other: DevIssuer) -> None:
    # Each key set is answered only once the other one has been asked for: issuers loaded one after the
    # other would cost a deadline each (the first times out waiting); loaded side by side, both arrive.
    asked = {"/a": threading.Event(), "/b": threading.Event()}
    documents = {"/a": json.dumps(issuer.jwks()).encode(), "/b": json.dumps(other.jwks()).encode()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            asked[self.path].set()
            asked["/b" if self.path == "/a" else "/a"].wait(10)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(documents[self.path])))
            self.end_headers()
            self.wfile.write(documents[self.path])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        multi = MultiIssuerVerifier([
            Verifier(issuer=issuer.issuer, audience=issuer.audience, jwks_uri=base + "/a", timeout_seconds=5),
            Verifier(issuer=other.issuer, audience=other.audience, jwks_uri=base + "/b", timeout_seconds=5),
        ])
        assert multi.prefetch() is True
    finally:
        server.shutdown()
        server.server_close()


def test_prefetch_out_of_threads_loads_each_issuer_in_turn_and_never_raises(
        issuer: DevIssuer, other: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # A thread that cannot start (out of threads: a pids limit, Lambda's 1,024) raised RuntimeError out
    # of prefetch(), which promises never to raise: a Lambda init error, and AsyncVerifier.prefetch()
    # raised it too instead of answering. The issuer without a thread is loaded here, in turn.
    start = threading.Thread.start

    class NoThreads(threading.Thread):
        def start(self) -> None:
            if self.name == "serverless-jwt-prefetch":
                raise RuntimeError("can't start new thread")
            start(self)

    multi = _multi(issuer, other)
    monkeypatch.setattr(threading, "Thread", NoThreads)
    assert multi.prefetch() is True
    assert (issuer.requests[JWKS_PATH], other.requests[JWKS_PATH]) == (1, 1)
    assert multi.verify(other.mint(sub="b"))["sub"] == "b"
    clear_shared_cache()
    other.fault = "503"
    assert _multi(issuer, other).prefetch() is False  # an outage is still an answer, not an exception


def test_shared_secret_issuer_listed_by_its_iss(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    multi = MultiIssuerVerifier({
        issuer.issuer: Verifier(issuer=issuer.issuer, audience=issuer.audience, jwks_uri=issuer.jwks_uri),
        "legacy-gotrue": Verifier(secrets=[secret]),
    })
    token = issuer.mint(alg="HS256", secret=secret, issuer="legacy-gotrue", sub="hs", audience=None)
    assert multi.verify(token)["sub"] == "hs"
    # The HS secret cannot vouch for the RSA issuer: that issuer only knows RS256.
    with pytest.raises(AlgorithmNotAllowedError):
        multi.verify(issuer.mint(alg="HS256", secret=secret))


def test_verified_tokens_are_served_from_the_issuers_cache(issuer: DevIssuer, other: DevIssuer) -> None:
    multi = _multi(issuer, other)
    token = issuer.mint()
    multi.verify(token)
    issuer.fault = "503"
    assert multi.verify(token)["sub"] == "dev-user"


def test_malformed_token_is_rejected_before_routing(issuer: DevIssuer, other: DevIssuer) -> None:
    with pytest.raises(MalformedTokenError):
        _multi(issuer, other).verify("not-a-token")


def test_common_settings_past_their_bound_are_refused_for_every_issuer() -> None:
    # leeway_seconds=1e300 in common turned exp off for every tenant; an infinite cool-down kept each
    # from ever picking up a rotated key.
    configs = [{"issuer": "https://a.example.com/", "audience": "api"}]
    for common in ({"leeway_seconds": 1e300}, {"unknown_kid_cooldown_seconds": float("inf")},
                   {"jwks_max_age_seconds": float("inf")}, {"max_stale_seconds": float("nan")}):
        with pytest.raises(ConfigurationError, match=f"^{next(iter(common))} must be"):
            MultiIssuerVerifier.from_configs(configs, **common)
    assert MultiIssuerVerifier.from_configs(configs, leeway_seconds=300).issuers


def test_configuration_is_checked() -> None:
    a = Verifier(issuer="https://a.example.com/", audience="api")
    with pytest.raises(ConfigurationError):
        MultiIssuerVerifier({})
    for nothing in (None, 5):  # a TypeError from iterating it
        with pytest.raises(ConfigurationError):
            MultiIssuerVerifier(nothing)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        MultiIssuerVerifier({"https://b.example.com/": a})
    with pytest.raises(ConfigurationError):
        MultiIssuerVerifier([Verifier(secrets=[secrets.token_bytes(32)])])
    for size in (float("nan"), True, 1.5, 0):  # nan would switch the size cap before parsing off
        with pytest.raises(ConfigurationError, match="max_token_bytes must be a positive int"):
            MultiIssuerVerifier([a], max_token_bytes=size)  # type: ignore[arg-type]
    built = MultiIssuerVerifier.from_configs(
        [{"issuer": "https://a.example.com/", "audience": "api"},
         {"issuer": "https://b.example.com/", "audience": "api"}], leeway_seconds=5)
    assert built.issuers == {"https://a.example.com/", "https://b.example.com/"}
    assert "secret" not in repr(built)


def _issuer_fleet(count: int, **verifier_options: object) -> tuple[dict[str, Verifier], dict[str, str]]:
    secrets_by_iss = {f"tenant-{i}": secrets.token_urlsafe(32) for i in range(count)}
    verifiers = {iss: Verifier(issuer=iss, secrets=secret, **verifier_options)  # type: ignore[arg-type]
                 for iss, secret in secrets_by_iss.items()}
    return verifiers, secrets_by_iss


def test_one_verified_token_budget_bounds_every_issuers_cache_together(issuer: DevIssuer) -> None:
    # Measured before: each issuer kept its own 1,024 entries, so memory grew with issuers x tokens.
    verifiers, keys = _issuer_fleet(40)
    multi = MultiIssuerVerifier(verifiers, verified_cache_size=500)
    for n in range(30):
        for iss, secret in keys.items():
            token = issuer.mint(alg="HS256", secret=secret, issuer=iss, audience=None, sub=f"u{n}")
            assert multi.verify(token)["iss"] == iss
    entries = sum(len(v._cache) for v in verifiers.values())
    assert entries <= 500  # 1,200 distinct verified tokens, one budget
    assert entries >= 400  # and the budget is actually used
    # The newest tokens are the ones kept, and a hit still re-checks nothing less.
    last = issuer.mint(alg="HS256", secret=keys["tenant-0"], issuer="tenant-0", audience=None, sub="again")
    multi.verify(last)
    assert last in verifiers["tenant-0"]._cache


def test_a_zero_budget_keeps_no_verified_tokens(issuer: DevIssuer) -> None:
    verifiers, keys = _issuer_fleet(3)
    multi = MultiIssuerVerifier(verifiers, verified_cache_size=0)
    for iss, secret in keys.items():
        multi.verify(issuer.mint(alg="HS256", secret=secret, issuer=iss, audience=None))
    assert sum(len(v._cache) for v in verifiers.values()) == 0
    for bad in (-1, True, 1.5):
        with pytest.raises(ConfigurationError):
            MultiIssuerVerifier(verifiers, verified_cache_size=bad)  # type: ignore[arg-type]


@pytest.fixture
def other_issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as dev_issuer:
        yield dev_issuer


def _requests(issuer: DevIssuer) -> int:
    return sum(issuer.requests.values())


def _b64(data: dict[str, Any] | bytes, *, padded: bool = False) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")


def _hs_token(secret: str, header: dict[str, Any], payload: dict[str, Any], *, alg: str = "HS256") -> str:
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    digest = {"HS256": HMACAlgorithm.SHA256, "HS512": HMACAlgorithm.SHA512}[alg]
    return f"{signing_input}.{_b64(HMACAlgorithm(digest).sign(signing_input.encode(), secret.encode()))}"


def test_multi_key_of_one_issuer_never_verifies_token_claiming_another(
        issuer: DevIssuer, other_issuer: DevIssuer) -> None:
    multi = MultiIssuerVerifier([
        Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2),
        Verifier(issuer=other_issuer.issuer, audience=other_issuer.audience, timeout_seconds=2),
    ])
    assert multi.verify(issuer.mint())["iss"] == issuer.issuer
    before = _requests(issuer)
    # Signed by A, claiming B, with A's kid and then with B's kid: only B's keys are ever asked.
    for kid in (issuer.kid(), other_issuer.kid()):
        forged = issuer.mint(issuer=other_issuer.issuer, audience=other_issuer.audience, kid=kid)
        with pytest.raises((UnknownKeyError, InvalidSignatureError)):
            multi.verify(forged)
    assert _requests(issuer) == before


@pytest.mark.parametrize("iss", ["https://unknown.example.com", None, 123, ["x"], {"a": 1}, ""])
def test_multi_unknown_missing_or_non_string_iss_fetches_nothing(
        issuer: DevIssuer, other_issuer: DevIssuer, iss: Any) -> None:
    multi = MultiIssuerVerifier([
        Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2),
        Verifier(issuer=other_issuer.issuer, audience=other_issuer.audience, timeout_seconds=2),
    ])
    token = issuer.mint(claims={"iss": iss}) if iss is not None else issuer.mint(issuer=None)
    with pytest.raises(InvalidClaimError) as err:
        multi.verify(token)
    assert err.value.claim == "iss"
    assert _requests(issuer) == 0
    assert _requests(other_issuer) == 0


@pytest.mark.parametrize("variant", ["{}/", "{}/.", "{} ", str.upper, "{}#x", "{}\u0000"])
def test_multi_issuer_lookalikes_are_refused_without_fetch(issuer: DevIssuer, variant: Any) -> None:
    multi = MultiIssuerVerifier([Verifier(issuer=issuer.issuer, audience=issuer.audience)])
    claimed = variant(issuer.issuer) if callable(variant) else variant.format(issuer.issuer)
    with pytest.raises(InvalidClaimError):
        multi.verify(issuer.mint(issuer=claimed))
    assert _requests(issuer) == 0


@pytest.mark.parametrize("token", [None, b"a.b.c", 5, "", "a.b", "é.b.c"])
def test_multi_garbage_token_is_malformed_not_a_crash(issuer: DevIssuer, token: Any) -> None:
    multi = MultiIssuerVerifier([Verifier(issuer=issuer.issuer, audience=issuer.audience)])
    with pytest.raises(MalformedTokenError):
        multi.verify(token)


def test_multi_hs_issuer_and_rs_issuer_never_cross(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    multi = MultiIssuerVerifier({
        "netlify-site": Verifier(secrets=[secret]),
        issuer.issuer: Verifier(issuer=issuer.issuer, audience=issuer.audience),
    })
    assert multi.verify(issuer.mint(alg="HS256", secret=secret, issuer="netlify-site", audience=None))[
        "sub"] == "dev-user"
    # HS256 keyed with the RS issuer's public PEM, claiming the RS issuer: the RS verifier allows no HS.
    pem = issuer.public_pem().decode()
    with pytest.raises(AlgorithmNotAllowedError):
        multi.verify(_hs_token(pem, {"alg": "HS256"}, {"iss": issuer.issuer, "aud": issuer.audience,
                                                        "exp": int(time.time()) + 60}))
    # An RS token claiming the HS issuer: the shared-secret verifier allows no RS.
    with pytest.raises(AlgorithmNotAllowedError):
        multi.verify(issuer.mint(issuer="netlify-site"))


def test_provider_presets_can_be_listed_as_they_are(issuer: DevIssuer) -> None:
    from serverless_jwt import presets

    with DevIssuer() as other:
        multi = MultiIssuerVerifier([
            presets.oidc(issuer.issuer, issuer.audience),
            presets.oidc(other.issuer, other.audience),
        ])
        assert multi.verify(issuer.mint(sub="a"))["sub"] == "a"
        assert multi.verify(other.mint(sub="b"))["sub"] == "b"
    with pytest.raises(ConfigurationError):
        MultiIssuerVerifier([object()])  # type: ignore[list-item]


def test_a_refresh_that_drops_a_cached_tokens_kid_costs_that_request_one_fetch(issuer: DevIssuer) -> None:
    # The cache hit refreshes stale keys; the set it brings lacks the token's kid: no second fetch for it.
    multi = MultiIssuerVerifier([Verifier(issuer=issuer.issuer, audience=issuer.audience,
                                          jwks_uri=issuer.jwks_uri, jwks_max_age_seconds=0.05)])
    old = issuer.mint()
    assert multi.verify(old)["sub"] == "dev-user"
    issuer.rotate()
    time.sleep(0.1)  # past the max age: the next request refreshes
    before = issuer.requests[JWKS_PATH]
    with pytest.raises(UnknownKeyError):
        multi.verify(old)
    assert issuer.requests[JWKS_PATH] == before + 1


def test_each_listed_preset_keeps_its_roles_claim_and_claims_mapper_for_its_own_tokens(
        issuer: DevIssuer) -> None:
    from serverless_jwt import presets

    pool = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
    multi = MultiIssuerVerifier([
        presets.cognito("eu-west-1", "eu-west-1_AbC", client_ids=["app"], jwks=issuer.jwks()),
        presets.auth0("tenant.eu.auth0.com", "https://api.example.com", namespace="https://ex.com/",
                      jwks=issuer.jwks()),
    ])

    @multi.require_auth(roles=["admin"])
    def handler(event: Any, context: Any) -> dict[str, Any]:
        identity = context.identity_context
        return {"statusCode": 200, "body": json.dumps([sorted(identity.roles), identity.claims.get("tier")])}

    def call(token: str) -> tuple[int, Any]:
        answer = handler({"headers": {"authorization": f"Bearer {token}"}}, type("Context", (), {})())
        return answer["statusCode"], json.loads(answer["body"]) if answer["statusCode"] == 200 else None

    cognito_access = {"client_id": "app", "token_use": "access"}
    assert call(issuer.mint(issuer=pool, audience=None, claims={
        **cognito_access, "cognito:groups": ["admin"]})) == (200, [["admin"], None])
    # Auth0: its namespace is stripped (its mapper) and roles are read where the preset reads them.
    assert call(issuer.mint(issuer="https://tenant.eu.auth0.com/", audience="https://api.example.com",
                            claims={"https://ex.com/roles": ["admin"], "https://ex.com/tier": "gold"})) == (
        200, [["admin"], "gold"])
    # Another issuer's roles claim grants nothing: a Cognito token is read only at cognito:groups.
    assert call(issuer.mint(issuer=pool, audience=None, claims={
        **cognito_access, "roles": ["admin"], "https://ex.com/roles": ["admin"]}))[0] == 403
    assert call(issuer.mint(issuer="https://tenant.eu.auth0.com/", audience="https://api.example.com",
                            claims={"cognito:groups": ["admin"]}))[0] == 403
    assert MultiIssuerVerifier([Verifier(issuer=issuer.issuer, audience="a")]).auth_options() == {}

