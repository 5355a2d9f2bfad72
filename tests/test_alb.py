"""ALB x-amzn-oidc-data: padded ES256 tokens, signer/client/iss checks, per-kid PEM keys from loopback."""

from __future__ import annotations

import base64
import json
import threading
import time
import types
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from serverless_jwt import token as strict
from serverless_jwt.alb import AlbVerifier, default_key_url, require_alb_auth
from serverless_jwt.errors import (
    ConfigurationError,
    InvalidClaimError,
    InvalidSignatureError,
    KeysUnavailableError,
    MalformedTokenError,
    TokenExpiredError,
    UnknownKeyError,
)

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
OTHER_ARN = "arn:aws:elasticloadbalancing:eu-west-1:999999999999:loadbalancer/app/evil/1"
ISS = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "events"


class KeyServer:
    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.requests = 0
        self.fail = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests += 1
                key = owner.keys.get(self.path.lstrip("/"))
                if key is None or owner.fail:
                    self.send_response(404 if key is None else 503)
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


def test_max_unknown_kid_fetches_is_validated(keys: KeyServer) -> None:
    for bad in (0, 1, -3, True, 2.5):
        with pytest.raises(ConfigurationError):
            _verifier(keys, max_unknown_kid_fetches=bad)
