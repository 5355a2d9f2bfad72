"""ALB x-amzn-oidc-data: padded ES256 tokens, signer/client/iss checks, per-kid PEM keys from loopback."""

from __future__ import annotations

import base64
import json
import math
import secrets
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, HMACAlgorithm

from serverless_jwt import token as strict
from serverless_jwt.adapters._context import ENCODING_KEY
from serverless_jwt.alb import AlbVerifier, default_key_url, require_alb_auth
from serverless_jwt.dev.issuer import DevIssuer
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
from serverless_jwt.verifier import Verifier

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
OTHER_ARN = "arn:aws:elasticloadbalancing:eu-west-1:999999999999:loadbalancer/app/evil/1"
ISS = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "events"


class KeyServer:
    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.requests = 0
        self.fail = False
        self.fail_status = 503  # what a failing endpoint answers, with this Retry-After if set
        self.retry_after: str | None = None
        self.before_answer: Callable[[str], None] | None = None  # called with the kid asked for
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests += 1
                if owner.before_answer is not None:
                    owner.before_answer(self.path.lstrip("/"))
                key = owner.keys.get(self.path.lstrip("/"))
                if key is None or owner.fail:
                    self.send_response(404 if key is None else owner.fail_status)
                    if key is not None and owner.retry_after is not None:
                        self.send_header("Retry-After", owner.retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
                self.send_response(200)
                self.send_header("Content-Length", str(len(pem)))
                self.end_headers()
                self.wfile.write(pem)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{{kid}}"

    def new_key(self) -> str:
        kid = str(uuid.uuid4())
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return kid


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode()  # with padding, as the ALB sends it


def alb_token(server: KeyServer, kid: str, *, signer: str = ARN, client: str = "app-client",
              exp: float | None = None, claims: dict[str, Any] | None = None) -> str:
    expires = int(exp if exp is not None else time.time() + 120)
    header = {"typ": "JWT", "kid": kid, "alg": "ES256", "iss": ISS, "client": client, "signer": signer,
              "exp": expires}
    payload = {"sub": "user-1", "email": "u@example.com", "exp": expires, "iss": ISS, **(claims or {})}
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), server.keys[kid])
    return f"{signing_input}.{_b64(signature)}"


def _verifier(server: KeyServer, **kw: Any) -> AlbVerifier:
    return AlbVerifier(ARN, client_ids=["app-client"], issuer=ISS, key_url_template=server.template, **kw)


def _padded(token: str) -> bool:
    return any(part.endswith("=") for part in token.split("."))


def padded_token(server: KeyServer, kid: str) -> str:
    # One of three payload lengths is not a multiple of 3 bytes: its base64 carries '='.
    for n in range(3):
        token = alb_token(server, kid, claims={"pad": "x" * n})
        if _padded(token):
            return token
    raise AssertionError("no padded token")


def test_valid_header_verifies_and_key_is_cached_per_kid(keys: KeyServer) -> None:
    kid = keys.new_key()
    verifier = _verifier(keys)
    for _ in range(3):
        token = padded_token(keys, kid)
        assert verifier.verify(token)["email"] == "u@example.com"
    assert keys.requests == 1


def test_padding_stays_rejected_by_the_strict_parser(keys: KeyServer) -> None:
    kid = keys.new_key()
    token = padded_token(keys, kid)
    with pytest.raises(MalformedTokenError):
        strict.parse(token)


def test_wrong_signer_is_rejected_before_any_fetch(keys: KeyServer) -> None:
    kid = keys.new_key()
    with pytest.raises(InvalidClaimError) as err:
        _verifier(keys).verify(alb_token(keys, kid, signer=OTHER_ARN))
    assert err.value.claim == "signer"
    assert keys.requests == 0


def test_wrong_client_and_issuer(keys: KeyServer) -> None:
    kid = keys.new_key()
    with pytest.raises(InvalidClaimError) as err:
        _verifier(keys).verify(alb_token(keys, kid, client="other"))
    assert err.value.claim == "client"
    with pytest.raises(InvalidClaimError) as err:
        AlbVerifier(ARN, issuer="https://other.example", key_url_template=keys.template).verify(
            alb_token(keys, kid))
    assert err.value.claim == "iss"


def test_expired_header_is_rejected(keys: KeyServer) -> None:
    kid = keys.new_key()
    with pytest.raises(TokenExpiredError):
        _verifier(keys, leeway_seconds=0).verify(alb_token(keys, kid, exp=time.time() - 10))


def test_tampered_payload_fails_signature(keys: KeyServer) -> None:
    kid = keys.new_key()
    h, _, s = alb_token(keys, kid).split(".")
    forged = f"{h}.{_b64({'sub': 'admin', 'exp': int(time.time()) + 60})}.{s}"
    with pytest.raises(InvalidSignatureError):
        _verifier(keys).verify(forged)


@pytest.mark.parametrize("bad", ["a.b", "a=.b.c", "ab=c.d.e", "é.b.c"])
def test_malformed_headers(keys: KeyServer, bad: str) -> None:
    with pytest.raises(MalformedTokenError):
        _verifier(keys).verify(bad)


def test_key_endpoint_down_is_503_with_cooldown(keys: KeyServer) -> None:
    kid = keys.new_key()
    keys.fail = True
    verifier = _verifier(keys)
    for _ in range(3):
        with pytest.raises(KeysUnavailableError):
            verifier.verify(alb_token(keys, kid))
    assert keys.requests == 1


def test_key_url_per_partition() -> None:
    assert default_key_url("cn-north-1") == "https://public-keys.auth.elb.cn-north-1.amazonaws.com.cn/{kid}"
    assert default_key_url("us-gov-west-1") == (
        "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/{kid}")


def test_require_alb_auth_exposes_identity(keys: KeyServer) -> None:
    kid = keys.new_key()

    @require_alb_auth(_verifier(keys))
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    event = json.loads((FIXTURES / "alb.json").read_text())
    event["headers"] = {"x-amzn-oidc-data": alb_token(keys, kid)}
    event.pop("multiValueHeaders", None)
    assert handler(event, types.SimpleNamespace())["body"] == "user-1"
    event["headers"] = {"x-amzn-oidc-data": alb_token(keys, kid, signer=OTHER_ARN)}
    denied = handler(event, types.SimpleNamespace())
    assert denied["statusCode"] == 401
    assert "statusDescription" in denied  # shaped for the ALB
    event["headers"] = {}
    assert handler(event, types.SimpleNamespace())["statusCode"] == 401


def test_the_earlier_of_header_and_payload_exp_rules(keys: KeyServer) -> None:
    kid = keys.new_key()
    # A payload that claims a long life cannot outlive the ALB's own header exp.
    token = alb_token(keys, kid, exp=time.time() - 10, claims={"exp": int(time.time()) + 3600})
    with pytest.raises(TokenExpiredError):
        _verifier(keys, leeway_seconds=0).verify(token)


# -- unknown-kid storms: bounded fetches per cool-down, the genuine new kid not starved ------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _forged(server: KeyServer) -> str:
    # The right signer, client and issuer (copied from any real header), a random kid, a foreign key.
    kid = str(uuid.uuid4())
    server.keys[kid] = ec.generate_private_key(ec.SECP256R1())
    token = alb_token(server, kid)
    del server.keys[kid]  # the key endpoint has never heard of it: 404
    return token


def test_a_storm_of_random_kids_costs_a_bounded_number_of_fetches_per_cooldown(keys: KeyServer) -> None:
    clock = Clock()
    verifier = _verifier(keys, clock=clock, unknown_kid_cooldown_seconds=30, max_unknown_kid_fetches=4)
    storm = [_forged(keys) for _ in range(300)]
    for window in range(3):
        before = keys.requests
        for token in storm[window * 100:(window + 1) * 100]:
            with pytest.raises(UnknownKeyError):
                verifier.verify(token)
        assert keys.requests - before <= 3  # the budget less the slot kept for the most wanted kid
        clock.now += 31
    assert keys.requests <= 9


def test_a_genuine_new_kid_is_not_starved_by_a_storm(keys: KeyServer) -> None:
    clock = Clock()
    verifier = _verifier(keys, clock=clock, max_unknown_kid_fetches=4)
    old = keys.new_key()
    assert verifier.verify(alb_token(keys, old))["sub"] == "user-1"
    storm = [_forged(keys) for _ in range(200)]
    for token in storm[:100]:
        with pytest.raises(UnknownKeyError):
            verifier.verify(token)
    rotated = keys.new_key()  # the ALB rotates its key in the middle of the storm
    answers = []
    for i, token in enumerate(storm[100:]):
        with pytest.raises(UnknownKeyError):
            verifier.verify(token)
        if i % 20 == 0:  # real users keep coming, all with the new kid
            try:
                answers.append(verifier.verify(alb_token(keys, rotated))["sub"])
            except UnknownKeyError:
                answers.append(None)
    # At most its first request is refused (asked for once, like a forged kid); then it is fetched.
    assert answers[1:] == ["user-1"] * (len(answers) - 1)
    assert keys.requests <= 1 + 4  # the old key, then at most one window's budget
    assert verifier.verify(alb_token(keys, old))["sub"] == "user-1"  # cached keys never wait


def test_a_slow_fetch_of_one_kid_never_queues_the_fetch_of_another(keys: KeyServer) -> None:
    # Each kid's fetch runs on its own: a request for the ALB's new key must not wait out the fetch of
    # another kid first (a forged one on a slow key endpoint), or its wait is one deadline per kid queued.
    # Here the endpoint answers the first kid only once the second kid's request has reached it.
    verifier = _verifier(keys, timeout_seconds=5)
    first, second = keys.new_key(), keys.new_key()
    asked = {first: threading.Event(), second: threading.Event()}

    def before_answer(kid: str) -> None:
        asked[kid].set()
        if kid == first:
            asked[second].wait(10)

    keys.before_answer = before_answer
    answers: dict[str, Any] = {}

    def verify(kid: str) -> None:
        try:
            answers[kid] = verifier.verify(alb_token(keys, kid))["sub"]
        except AuthError as exc:
            answers[kid] = type(exc).__name__

    threads = [threading.Thread(target=verify, args=(kid,)) for kid in (first, second)]
    threads[0].start()
    assert asked[first].wait(10)  # the first kid's fetch is in flight
    threads[1].start()
    for thread in threads:
        thread.join(20)
    assert answers == {first: "user-1", second: "user-1"}
    assert keys.requests == 2


def test_requests_for_a_kid_being_fetched_share_its_fetch_and_its_failure(keys: KeyServer) -> None:
    verifier = _verifier(keys, timeout_seconds=5)
    kid, forged = keys.new_key(), _forged(keys)
    release = threading.Event()

    def before_answer(_: str) -> None:
        release.wait(10)

    keys.before_answer = before_answer
    answers: list[Any] = []

    def verify(token: str) -> None:
        try:
            answers.append(verifier.verify(token)["sub"])
        except AuthError as exc:
            answers.append(type(exc).__name__)

    for token, expected in ((alb_token(keys, kid), ["user-1"] * 4), (forged, ["UnknownKeyError"] * 4)):
        answers.clear()
        release.clear()
        before = keys.requests
        threads = [threading.Thread(target=verify, args=(token,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        while keys.requests == before:
            time.sleep(0.01)
        release.set()
        for thread in threads:
            thread.join(20)
        assert answers == expected
        assert keys.requests == before + 1  # one fetch per kid, whoever asked


def test_max_unknown_kid_fetches_is_validated(keys: KeyServer) -> None:
    for bad in (0, 1, -3, True, 2.5):
        with pytest.raises(ConfigurationError):
            _verifier(keys, max_unknown_kid_fetches=bad)


@pytest.mark.parametrize("setting", [{"timeout_seconds": 0}, {"timeout_seconds": -1},
                                     {"timeout_seconds": math.nan}, {"timeout_seconds": "3"},
                                     {"timeout_seconds": 1e10},  # an OverflowError (500) per key fetch
                                     {"unknown_kid_cooldown_seconds": -1},
                                     {"unknown_kid_cooldown_seconds": math.nan},
                                     {"unknown_kid_cooldown_seconds": math.inf},
                                     # an hour at most: a rotated ALB key is fetched again within it
                                     {"unknown_kid_cooldown_seconds": 3601},
                                     # 5 minutes at most: 1e300 accepted every expired header
                                     {"leeway_seconds": 301}, {"leeway_seconds": 1e300}])
def test_timeout_cooldown_and_leeway_are_validated(keys: KeyServer, setting: dict[str, Any]) -> None:
    # Accepted, a zero or NaN deadline made every request a 503 (and a NaN cool-down a window that
    # never ends: no unknown kid fetched again, not even the ALB's rotated one).
    with pytest.raises(ConfigurationError):
        _verifier(keys, **setting)


@pytest.mark.parametrize("setting", [{"clock": 5}, {"issuer": 5}, {"client_ids": 5}, {"client_ids": []},
                                     {"client_ids": [5]}, {"key_url_template": 5}, {"leeway_seconds": None},
                                     {"leeway_seconds": math.inf}])
def test_settings_of_the_wrong_type_are_configuration_errors(keys: KeyServer,
                                                             setting: dict[str, Any]) -> None:
    # As Verifier refuses them. Accepted, a clock that is no callable was a TypeError (a 500) on every
    # request, an issuer or client that is no string (or no client at all) a 401 for every token; the
    # rest were a TypeError or AttributeError here.
    settings = {"client_ids": ["app-client"], "issuer": ISS, "key_url_template": keys.template, **setting}
    with pytest.raises(ConfigurationError):
        AlbVerifier(ARN, **settings)
    kid = keys.new_key()
    assert _verifier(keys, clock=time.time, leeway_seconds=0).verify(alb_token(keys, kid))["sub"] == "user-1"


@pytest.mark.parametrize("template", ["https://" + "a" * 64 + ".example.com/{kid}",
                                      "https://keys..example.com/{kid}", "http://keys.example.com/{kid}"])
def test_a_key_url_no_fetch_accepts_is_refused_at_construction(template: str) -> None:
    # Accepted, every key fetch was refused (a host name getaddrinfo refuses, plain http off loopback):
    # a 503 on every request instead of an error at deploy time.
    with pytest.raises(ConfigurationError) as info:
        AlbVerifier(ARN, key_url_template=template)
    assert str(info.value).startswith("key_url_template ")


@pytest.mark.parametrize("cooldown", [5, 30, 600])
def test_outage_retry_after_counts_down_to_the_next_fetch_within_1_to_60(keys: KeyServer,
                                                                        cooldown: int) -> None:
    clock = Clock()
    verifier = _verifier(keys, clock=clock, unknown_kid_cooldown_seconds=cooldown)
    kid = keys.new_key()
    keys.fail = True
    waits = []
    for _ in range(2):
        with pytest.raises(KeysUnavailableError) as info:
            verifier.verify(alb_token(keys, kid))
        waits.append(info.value.retry_after_seconds)
        clock.now += 2
    assert waits == [min(cooldown, 60), min(cooldown - 2, 60)]
    assert keys.requests == 1


@pytest.mark.parametrize(("cooldown", "status", "retry_after", "pause"), [
    (5, 429, "20", 20),    # the endpoint's wait, longer than the cool-down: honoured
    (5, 503, "120", 60),   # at most a minute, as the JWKS source
    (5, 429, "2", 5),      # never shorter than the cool-down
    (5, 429, None, 5),     # no Retry-After: the cool-down
    (0, 429, "0", 1),      # at least a second, even with no cool-down
])
def test_the_key_endpoints_retry_after_sets_the_outage_pause_within_1_to_60(
        keys: KeyServer, cooldown: int, status: int, retry_after: str | None, pause: int) -> None:
    # A 429's Retry-After was ignored: fetching resumed after the cool-down, inside the endpoint's limit.
    clock = Clock()
    verifier = _verifier(keys, clock=clock, unknown_kid_cooldown_seconds=cooldown)
    kid = keys.new_key()
    keys.fail, keys.fail_status, keys.retry_after = True, status, retry_after
    with pytest.raises(KeysUnavailableError) as info:
        verifier.verify(alb_token(keys, kid))
    assert info.value.retry_after_seconds == pause  # the 503 says how long the pause is
    clock.now += pause - 0.5
    with pytest.raises(KeysUnavailableError):  # still paused: no fetch
        verifier.verify(alb_token(keys, kid))
    assert keys.requests == 1
    keys.fail = False
    clock.now += 0.5
    assert verifier.verify(alb_token(keys, kid))["sub"] == "user-1"
    assert keys.requests == 2


def test_a_wall_clock_stepped_back_never_stretches_the_outage_pause(keys: KeyServer) -> None:
    # The cool-down is read on the wall clock (as exp is): NTP stepping it back an hour must not turn a
    # 30 s pause into 503s for an hour and a half.
    clock = Clock()
    verifier = _verifier(keys, clock=clock, unknown_kid_cooldown_seconds=30)
    kid = keys.new_key()
    keys.fail = True
    with pytest.raises(KeysUnavailableError):
        verifier.verify(alb_token(keys, kid))
    keys.fail = False
    clock.now -= 3600
    assert verifier.verify(alb_token(keys, kid))["sub"] == "user-1"
    forged = _forged(keys)
    with pytest.raises(UnknownKeyError):
        verifier.verify(forged)  # 404: remembered for this kid for one cool-down
    clock.now -= 3600
    before = keys.requests
    with pytest.raises(UnknownKeyError):
        verifier.verify(forged)
    assert keys.requests == before + 1  # asked again, not refused for the hour the clock went back


REGION = "eu-west-1"


POOL = "eu-west-1_AbCdEf"


COGNITO_ISS = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"


ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"


OTHER_ALB = "arn:aws:elasticloadbalancing:eu-west-1:999999999999:loadbalancer/app/evil/1"


def _b64_r(data: dict[str, Any] | bytes, *, padded: bool = False) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")


def _hs_token(secret: str, header: dict[str, Any], payload: dict[str, Any], *, alg: str = "HS256") -> str:
    signing_input = f"{_b64_r(header)}.{_b64_r(payload)}"
    digest = {"HS256": HMACAlgorithm.SHA256, "HS512": HMACAlgorithm.SHA512}[alg]
    return f"{signing_input}.{_b64_r(HMACAlgorithm(digest).sign(signing_input.encode(), secret.encode()))}"


class KeyServerR:
    """Loopback stand-in for public-keys.auth.elb.<region>.amazonaws.com: GET /<kid> -> PEM, else 404."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.paths: list[str] = []
        self.missing_status = 404  # what an unknown kid gets
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.paths.append(self.path)
                key = owner.keys.get(self.path.lstrip("/"))
                if key is None:
                    self.send_response(owner.missing_status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
                self.send_response(200)
                self.send_header("Content-Length", str(len(pem)))
                self.end_headers()
                self.wfile.write(pem)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{{kid}}"

    def new_key(self) -> str:
        kid = str(uuid.uuid4())
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return kid


@pytest.fixture
def alb_keys() -> Iterator[KeyServerR]:
    server = KeyServerR()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _alb_token(key: ec.EllipticCurvePrivateKey, kid: str, *, header: dict[str, Any] | None = None,
               claims: dict[str, Any] | None = None) -> str:
    exp = int(time.time()) + 120
    head = {"typ": "JWT", "kid": kid, "alg": "ES256", "iss": COGNITO_ISS, "client": "app-client",
            "signer": ALB_ARN, "exp": exp, **(header or {})}
    body = {"sub": "user-1", "email": "u@example.com", "exp": exp, "iss": COGNITO_ISS, **(claims or {})}
    head = {k: v for k, v in head.items() if v is not None}
    body = {k: v for k, v in body.items() if v is not None}
    signing_input = f"{_b64_r(head, padded=True)}.{_b64_r(body, padded=True)}"
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{_b64_r(signature, padded=True)}"


def _alb(server: KeyServerR) -> AlbVerifier:
    return AlbVerifier(ALB_ARN, client_ids=["app-client"], issuer=COGNITO_ISS,
                       key_url_template=server.template)


def _alb_event(value: str | None, *, forged: Mapping[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"httpMethod": "GET", "path": "/", "headers": {},
                             "requestContext": {"elb": {"targetGroupArn": "arn:tg"}}}
    if value is not None:
        event["headers"]["x-amzn-oidc-data"] = value
    if forged is not None:
        event["requestContext"]["authorizer"] = forged
    return event


@pytest.mark.parametrize("kid", ["../../etc/passwd", "a/b", "..", "%2e%2e", "a?b=c", "a#b", "x" * 129,
                                 "a b", "a\nb", "é", "", "@evil.example.com"])
def test_alb_kid_never_reaches_the_key_url_unless_plain(alb_keys: KeyServerR, kid: str) -> None:
    token = _alb_token(ec.generate_private_key(ec.SECP256R1()), kid)
    with pytest.raises(InvalidTokenError):
        _alb(alb_keys).verify(token)
    assert alb_keys.paths == []


def test_alb_foreign_signer_costs_no_fetch_even_with_a_fresh_kid(alb_keys: KeyServerR) -> None:
    kid = alb_keys.new_key()
    with pytest.raises(InvalidClaimError) as err:
        _alb(alb_keys).verify(_alb_token(alb_keys.keys[kid], str(uuid.uuid4()), header={"signer": OTHER_ALB}))
    assert err.value.claim == "signer"
    assert alb_keys.paths == []


@pytest.mark.parametrize(("field", "value"), [("signer", [ALB_ARN]), ("signer", {"arn": ALB_ARN}),
                                         ("client", ["app-client"])])
def test_alb_unhashable_header_values_are_refused_not_crashing(alb_keys: KeyServerR, field: str,
                                                               value: Any) -> None:
    kid = alb_keys.new_key()
    with pytest.raises(InvalidClaimError):
        _alb(alb_keys).verify(_alb_token(alb_keys.keys[kid], kid, header={field: value}))


def test_alb_random_kid_does_not_lock_out_real_users(alb_keys: KeyServerR) -> None:
    kid = alb_keys.new_key()
    verifier = _alb(alb_keys)
    attacker = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthError) as forged:
        verifier.verify(_alb_token(attacker, str(uuid.uuid4())))
    # The real user arriving right after the forged header must still get in ...
    assert verifier.verify(_alb_token(alb_keys.keys[kid], kid))["sub"] == "user-1"
    # ... and the forged header is a 401 (no key for that kid), not a 503 outage.
    assert isinstance(forged.value, UnknownKeyError)


@pytest.mark.parametrize(("status", "outage"), [(400, False), (410, False), (403, False), (429, True),
                                              (500, True), (503, True)])
def test_alb_only_an_outage_pauses_key_fetches_for_everyone(alb_keys: KeyServerR, status: int,
                                                            outage: bool) -> None:
    kid = alb_keys.new_key()
    verifier = _alb(alb_keys)
    alb_keys.missing_status = status
    attacker = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthError) as forged:
        verifier.verify(_alb_token(attacker, str(uuid.uuid4())))
    assert isinstance(forged.value, KeysUnavailableError if outage else UnknownKeyError)
    if outage:  # fetching pauses: retries cannot make us a request amplifier
        with pytest.raises(KeysUnavailableError):
            verifier.verify(_alb_token(alb_keys.keys[kid], kid))
    else:  # a client error is about that kid alone: the real user still gets in
        assert verifier.verify(_alb_token(alb_keys.keys[kid], kid))["sub"] == "user-1"


def test_alb_signature_checked_even_when_key_cached(alb_keys: KeyServerR) -> None:
    kid = alb_keys.new_key()
    verifier = _alb(alb_keys)
    assert verifier.verify(_alb_token(alb_keys.keys[kid], kid))["sub"] == "user-1"
    forged = _alb_token(ec.generate_private_key(ec.SECP256R1()), kid, claims={"sub": "admin"})
    with pytest.raises(InvalidSignatureError):
        verifier.verify(forged)
    assert len(alb_keys.paths) == 1


def test_alb_alg_confusion_and_expiry(alb_keys: KeyServerR) -> None:
    kid = alb_keys.new_key()
    pem = alb_keys.keys[kid].public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    head = {"kid": kid, "alg": "HS256", "signer": ALB_ARN, "client": "app-client", "iss": COGNITO_ISS}
    hs = _hs_token(pem.decode(), head, {"sub": "admin", "exp": int(time.time()) + 60})
    with pytest.raises(AlgorithmNotAllowedError):
        _alb(alb_keys).verify(hs)
    stale = int(time.time()) - 3600
    with pytest.raises(TokenExpiredError):
        _alb(alb_keys).verify(_alb_token(alb_keys.keys[kid], kid, header={"exp": stale},
                                         claims={"exp": stale}))
    with pytest.raises(InvalidClaimError):
        # No exp anywhere: never accepted as "valid forever".
        _alb(alb_keys).verify(_alb_token(alb_keys.keys[kid], kid, header={"exp": None}, claims={"exp": None}))


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace("=", "") + "=",                      # padding on a segment that needs none
    lambda t: t.split(".")[0] + "===." + ".".join(t.split(".")[1:]),
    lambda t: t.replace(".", "=.", 1),
    lambda t: "+" + t[1:],                                   # standard-alphabet character
])
def test_alb_padding_is_exact(alb_keys: KeyServerR, mutate: Any) -> None:
    kid = alb_keys.new_key()
    token = _alb_token(alb_keys.keys[kid], kid)
    changed = mutate(token)
    if changed == token:
        pytest.skip("mutation did not apply to this token")
    with pytest.raises(InvalidTokenError):
        _alb(alb_keys).verify(changed)


def test_padding_tolerance_stays_out_of_bearer_verification(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    for n in range(3):
        token = issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None, claims={"p": "x" * n})
        head, body, sig = token.split(".")
        if len(body) % 4:
            break
    padded = f"{head}.{body}{'=' * (-len(body) % 4)}.{sig}"
    verifier = Verifier(secrets=[secret])
    assert verifier.verify(token)
    with pytest.raises(MalformedTokenError):
        verifier.verify(padded)


@pytest.mark.parametrize("region", ["us-gov-west-1", "us-gov-east-1"])
def test_alb_govcloud_key_endpoint(region: str) -> None:
    assert default_key_url(region) == (
        f"https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}/{{kid}}")


def test_require_alb_auth_never_trusts_a_forged_authorizer_context(alb_keys: KeyServerR) -> None:
    kid = alb_keys.new_key()

    @require_alb_auth(_alb(alb_keys))
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    forged = {"lambda": {"sub": "admin"}, "jwt": {"claims": {"sub": "admin"}}, "principalId": "admin"}
    assert handler(_alb_event(None, forged=forged), types.SimpleNamespace())["statusCode"] == 401
    assert handler(_alb_event("garbage", forged=forged), types.SimpleNamespace())["statusCode"] == 401
    ok = handler(_alb_event(_alb_token(alb_keys.keys[kid], kid), forged=forged), types.SimpleNamespace())
    assert ok == {"statusCode": 200, "body": "user-1"}


def test_alb_claims_are_not_decoded_as_an_authorizer_context(alb_keys: KeyServerR) -> None:
    kid = alb_keys.new_key()

    @require_alb_auth(_alb(alb_keys), roles_claim="groups", roles=["admins"])
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    claims = {ENCODING_KEY: json.dumps({"groups": "json"}), "groups": '["admins"]'}
    event = _alb_event(_alb_token(alb_keys.keys[kid], kid, claims=claims))
    response = handler(event, types.SimpleNamespace())
    assert response["statusCode"] == 403


# Ported from awslabs/aws-jwt-verify tests/unit/alb-verifier.test.ts ("validateAlbJwtParams",
# awslabs/aws-jwt-verify@a7fce8e): which load balancer ARNs a verifier may be built for.
@pytest.mark.parametrize(("arn", "valid"), [
    ("arn:aws:elasticloadbalancing", False),  # too short
    ("arn:aws:elasticloadbalancing:.:123456789012:loadbalancer/app/my-load-balancer/50dc6c495c0c9188", False),
    ("arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/my-load-balancer/"
     "50dc6c495c0c9188", True),
    ("arn:aws-us-gov:elasticloadbalancing:us-gov-east-1:123456789012:loadbalancer/app/my-load-balancer/"
     "50dc6c495c0c9188", True),
    ("arn:aws-unsupported:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-load-balancer/"
     "50dc6c495c0c9188", False),  # unsupported partition
    ("arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/my-load-balancer/1", True),
    ("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/my-nlb/1", False),  # not an ALB
])
def test_aws_jwt_verify_alb_arn_cases(arn: str, valid: bool) -> None:
    if valid:
        AlbVerifier(arn)
    else:
        with pytest.raises(ConfigurationError):
            AlbVerifier(arn)


def test_user_claims_carrying_an_aud_are_typed_but_not_matched(keys: KeyServer) -> None:
    # The ALB names its recipient in the header (signer, client); the payload is the IdP's user claims.
    kid = keys.new_key()
    verifier = _verifier(keys)
    assert verifier.verify(alb_token(keys, kid, claims={"aud": "idp-client"}))["aud"] == "idp-client"
    with pytest.raises(InvalidClaimError):
        verifier.verify(alb_token(keys, kid, claims={"aud": 7}))


@pytest.mark.parametrize("arn", [
    # A Unicode digit in the region made an IDNA key host (public-keys.auth.elb.xn--...): a 503 always.
    "arn:aws:elasticloadbalancing:eu-west-\u0661:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
    "arn:aws:elasticloadbalancing:eu-west-1:\u0661\u0662\u0663456789012:loadbalancer/app/web/50dc6c495c0c9188",
    # A region of another partition: no such load balancer, its keys from another partition's endpoint.
    "arn:aws-cn:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
    "arn:aws:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
    "arn:aws:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
    "arn:aws-us-gov:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
    # Never a signer: a 401 on every request.
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188 ",
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web",
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc/../x",
])
def test_an_alb_arn_naming_no_load_balancer_is_refused_at_construction(arn: str) -> None:
    with pytest.raises(ConfigurationError, match="alb_arns"):
        AlbVerifier(arn)


def test_a_refused_alb_arn_is_named_by_position_and_reason() -> None:
    good = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
    with pytest.raises(ConfigurationError, match=r"item 2: region cn-north-1 is not in partition aws$"):
        AlbVerifier([good, good.replace("eu-west-1", "cn-north-1")])
    with pytest.raises(ConfigurationError, match="item 1 is not an application load balancer ARN"):
        AlbVerifier([good.replace("app/", "net/"), good])


@pytest.mark.parametrize("option", [{"trust_authorizer": True}, {"cookie_name": "session"},
                                    {"token_source": lambda event: "x"}])
def test_require_alb_auth_refuses_options_that_read_another_credential(alb_keys: KeyServerR,
                                                                       option: dict[str, Any]) -> None:
    # trust_authorizer=True let an event's requestContext.authorizer pass for the user with no ALB header.
    with pytest.raises(ConfigurationError, match=next(iter(option))):
        require_alb_auth(_alb(alb_keys), **option)
    assert alb_keys.paths == []


def test_require_alb_auth_with_multi_value_headers_on_and_off(alb_keys: KeyServerR) -> None:
    kid = alb_keys.new_key()
    token = _alb_token(alb_keys.keys[kid], kid)

    @require_alb_auth(_alb(alb_keys))
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    multi = {"httpMethod": "GET", "path": "/", "requestContext": {"elb": {"targetGroupArn": "arn:tg"}},
             "multiValueHeaders": {"x-amzn-oidc-data": [token]}}
    assert handler(multi, types.SimpleNamespace()) == {"statusCode": 200, "body": "user-1"}
    twice = {**multi, "multiValueHeaders": {"x-amzn-oidc-data": [token, token]}}
    refused = handler(twice, types.SimpleNamespace())
    assert refused["statusCode"] == 400
    assert "multiValueHeaders" in refused  # answered in the event's shape
    assert token not in json.dumps(refused)
    alb_keys.server.shutdown()  # the key endpoint gone: a new kid is a 503, not a 401 or a 500
    alb_keys.server.server_close()
    other = ec.generate_private_key(ec.SECP256R1())
    down = handler(_alb_event(_alb_token(other, str(uuid.uuid4()))), types.SimpleNamespace())
    assert down["statusCode"] == 503
    assert down["headers"]["Retry-After"] == "30"  # the cool-down before the next fetch
