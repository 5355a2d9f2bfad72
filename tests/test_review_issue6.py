"""Security review of issue 6 (second reader): one test per attack on the multi-issuer front, the presets,
the API Gateway authorizers and their context codec, ALB ``x-amzn-oidc-data``, Netlify ``x-nf-sign`` and
the AWS secret store.

Real keys and tokens (DevIssuer, loopback key servers), moto for AWS. A hole found by the review is kept
as a strict xfail whose reason starts with ``HOLE:`` and points at the line to fix.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
import types
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, HMACAlgorithm

from serverless_jwt import presets
from serverless_jwt.adapters._context import ENCODING_KEY, context_from_claims
from serverless_jwt.adapters.authorizer import Unauthorized, authorizer, policy_resource
from serverless_jwt.adapters.decorators import require_auth
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
from serverless_jwt.issuers import MultiIssuerVerifier
from serverless_jwt.netlify import require_netlify_signature, signature_verifier
from serverless_jwt.secret_store import StoredSecretKeys
from serverless_jwt.verifier import Verifier

REGION = "eu-west-1"
POOL = "eu-west-1_AbCdEf"
COGNITO_ISS = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
OTHER_ALB = "arn:aws:elasticloadbalancing:eu-west-1:999999999999:loadbalancer/app/evil/1"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/shows/1"


# --------------------------------------------------------------------------------------- helpers


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


def _rest_event(token: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}


def _rest_backend_event(response: Mapping[str, Any]) -> dict[str, Any]:
    # What API Gateway hands a REST (1.0) proxy backend behind a Lambda authorizer: the context keys
    # flattened into requestContext.authorizer next to principalId, every value stringified.
    authorizer_ctx: dict[str, Any] = {"principalId": response["principalId"], "integrationLatency": 7}
    for name, value in response["context"].items():
        authorizer_ctx[name] = json.dumps(value) if isinstance(value, bool) else str(value)
    return {"resource": "/me", "path": "/me", "httpMethod": "GET", "headers": {},
            "requestContext": {"stage": "prod", "httpMethod": "GET", "authorizer": authorizer_ctx}}


def _backend() -> Any:
    @require_auth(None, trust_authorizer=True)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        identity = context.identity_context
        return {"statusCode": 200, "claims": dict(identity.claims), "subject": identity.subject}

    return handler


# ------------------------------------------------------------------------------- several issuers


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


# ----------------------------------------------------------------------------------------- presets


def _cognito_token(issuer: DevIssuer, *, token_use: str, client: str = "client-a",
                   iss: str = COGNITO_ISS, extra: dict[str, Any] | None = None) -> str:
    # Shaped like Cognito's: access tokens name the app client in client_id (no aud), id tokens in aud.
    if token_use == "access":
        body = {"token_use": "access", "client_id": client, "scope": "aws.cognito.signin.user.admin",
                "cognito:groups": ["admins"], **(extra or {})}
        return issuer.mint(issuer=iss, audience=None, claims=body)
    body = {"token_use": "id", "email": "a@example.com", **(extra or {})}
    return issuer.mint(issuer=iss, audience=client, claims=body)


def test_cognito_access_preset_refuses_id_tokens_wrong_clients_and_other_pools(issuer: DevIssuer) -> None:
    auth = presets.cognito(REGION, POOL, client_ids=["client-a"], jwks_uri=issuer.jwks_uri)
    assert auth.verify(_cognito_token(issuer, token_use="access"))["client_id"] == "client-a"
    refused = [
        _cognito_token(issuer, token_use="id"),                                     # id token as access
        _cognito_token(issuer, token_use="access", client="client-b"),              # another app client
        _cognito_token(issuer, token_use="access", extra={"client_id": None}),      # no client_id at all
        _cognito_token(issuer, token_use="access", extra={"client_id": ["client-a"]}),  # not a string
        _cognito_token(issuer, token_use="access", extra={"token_use": None}),      # no token_use
        _cognito_token(issuer, token_use="access", extra={"token_use": "ACCESS"}),  # case variant
        _cognito_token(issuer, token_use="access",
                       iss=f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Other"),  # another pool
    ]
    for token in refused:
        with pytest.raises(InvalidClaimError):
            auth.verify(token)


def test_cognito_id_preset_refuses_access_tokens_and_foreign_audiences(issuer: DevIssuer) -> None:
    auth = presets.cognito(REGION, POOL, client_ids=["client-a"], token_use="id", jwks_uri=issuer.jwks_uri)
    assert auth.verify(_cognito_token(issuer, token_use="id"))["email"] == "a@example.com"
    for token in (_cognito_token(issuer, token_use="access"),
                  _cognito_token(issuer, token_use="id", client="client-b"),
                  _cognito_token(issuer, token_use="id", extra={"token_use": "access"}),
                  _cognito_token(issuer, token_use="id", extra={"token_use": None})):
        with pytest.raises(InvalidClaimError):
            auth.verify(token)


def test_cognito_issuer_per_partition_and_pool_region_mismatch() -> None:
    assert presets.cognito("cn-north-1", "cn-north-1_Ab", client_ids=["c"]).verifier.issuer == (
        "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_Ab")
    assert presets.cognito("us-gov-west-1", "us-gov-west-1_Ab", client_ids=["c"]).verifier.issuer == (
        "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_Ab")
    for region, pool in (("eu-west-1", "us-east-1_Ab"), ("eu-west-1", "eu-west-1_Ab/../x"),
                         ("eu-west-1", "eu-west-1_Ab/.well-known")):
        with pytest.raises(ConfigurationError):
            presets.cognito(region, pool, client_ids=["c"])


def test_cognito_preset_accepts_static_keys_and_reports_conflicts_as_configuration_errors(
        issuer: DevIssuer) -> None:
    auth = presets.cognito(REGION, POOL, client_ids=["client-a"], jwks=issuer.jwks())
    assert auth.verify(_cognito_token(issuer, token_use="access"))["sub"] == "dev-user"
    with pytest.raises(ConfigurationError):
        presets.cognito(REGION, POOL, client_ids=["c"], require_audience=True)


def test_okta_cid_allow_list(issuer: DevIssuer) -> None:
    auth = presets.okta("dev-1.okta.com", "api://default", client_ids=["0oa-good"], jwks_uri=issuer.jwks_uri)
    iss = "https://dev-1.okta.com/oauth2/default"
    ok = issuer.mint(issuer=iss, audience="api://default", claims={"cid": "0oa-good", "scp": ["a", "b"]})
    assert auth.verify(ok)["scp"] == ["a", "b"]
    for cid in ("0oa-evil", None, ["0oa-good"], "0OA-GOOD"):
        token = issuer.mint(issuer=iss, audience="api://default", claims={"cid": cid} if cid else {})
        with pytest.raises(InvalidClaimError):
            auth.verify(token)
    # A token of the org authorization server (another iss) is not one of the custom server's.
    with pytest.raises(InvalidClaimError):
        auth.verify(issuer.mint(issuer="https://dev-1.okta.com", audience="api://default",
                                claims={"cid": "0oa-good"}))


def test_auth0_namespaced_claim_cannot_shadow_sub(issuer: DevIssuer) -> None:
    auth = presets.auth0("tenant.eu.auth0.com", "https://api.example.com", namespace="https://ex.com/",
                         jwks_uri=issuer.jwks_uri)
    token = issuer.mint(issuer="https://tenant.eu.auth0.com/", audience="https://api.example.com",
                        sub="auth0|real", claims={"https://ex.com/sub": "auth0|admin",
                                                  "https://ex.com/roles": ["editor"]})

    @auth.require_auth(roles=["editor"])
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    event = {"version": "2.0", "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET"}}}
    assert handler(event, types.SimpleNamespace())["body"] == "auth0|real"


def test_oidc_max_age_refuses_missing_or_old_auth_time(issuer: DevIssuer) -> None:
    auth = presets.oidc(issuer.issuer, issuer.audience, max_age_seconds=300, leeway_seconds=0)
    now = int(time.time())
    assert auth.verify(issuer.mint(claims={"auth_time": now - 10}))
    for extra in ({}, {"auth_time": now - 3600}, {"auth_time": "recent"}):
        with pytest.raises(InvalidTokenError):
            auth.verify(issuer.mint(claims=extra))


def test_netlify_preset_refuses_public_key_algorithms(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    auth = presets.netlify(secret)
    assert auth.verify(issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None))
    for token in (issuer.mint(issuer=None, audience=None),
                  issuer.mint(alg="none", issuer=None, audience=None),
                  _hs_token(secret, {"alg": "HS512"}, {"sub": "x", "exp": int(time.time()) + 60},
                            alg="HS512")):
        with pytest.raises((AlgorithmNotAllowedError, MalformedTokenError)):
            auth.verify(token)


# ------------------------------------------------------------------------------------- authorizers


@pytest.fixture
def verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)


def test_authorizer_principal_is_verified_sub_and_claim_cannot_replace_it(
        issuer: DevIssuer, verifier: Verifier) -> None:
    handler = authorizer(verifier)
    response = handler(_rest_event(issuer.mint(sub="alice", claims={"principalId": "admin"})), None)
    assert response["principalId"] == "alice"
    assert "principalId" not in response["context"]
    for sub in (None, "", 42, ["alice"]):
        with pytest.raises(Unauthorized):
            handler(_rest_event(issuer.mint(claims={"sub": sub} if sub is not None else {"sub": None})), None)


@pytest.mark.parametrize(("partition", "region"), [("aws", "us-east-1"), ("aws-cn", "cn-north-1"),
                                              ("aws-us-gov", "us-gov-west-1")])
def test_authorizer_default_policy_is_exact_method_arn_in_its_partition(
        issuer: DevIssuer, verifier: Verifier, partition: str, region: str) -> None:
    arn = f"arn:{partition}:execute-api:{region}:123456789012:abc123/prod/GET/shows/1"
    response = authorizer(verifier)({**_rest_event(issuer.mint()), "methodArn": arn}, None)
    assert response["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}]
    stage = f"arn:{partition}:execute-api:{region}:123456789012:abc123/prod/*/*"
    assert policy_resource(arn, "stage") == stage


def test_authorizer_context_is_flat_for_rest_whatever_the_claims(issuer: DevIssuer,
                                                                  verifier: Verifier) -> None:
    claims = {"nested": {"a": {"b": [1, {"c": None}]}}, "list": [1, "two", None], "flag": True, "num": 1.5,
              "null": None, "scp": ["a", "b"], "empty": [], "unicode": "é\u2028"}
    response = authorizer(verifier)(_rest_event(issuer.mint(claims=claims)), None)
    for name, value in response["context"].items():
        assert isinstance(name, str)
        assert isinstance(value, (str, int, float, bool)), name


def test_claim_named_like_the_marker_cannot_retype_other_claims(issuer: DevIssuer,
                                                                 verifier: Verifier) -> None:
    injected = {ENCODING_KEY: json.dumps({"role": "json", "scope": "spaces", "sub": "json"}),
                "role": '["admin"]', "scope": "read write", "groups": ["g1"]}
    response = authorizer(verifier)(_rest_event(issuer.mint(claims=injected)), None)
    result = _backend()(_rest_backend_event(response), types.SimpleNamespace())
    assert result["statusCode"] == 200
    assert result["claims"]["role"] == '["admin"]'          # stays the string the issuer signed
    assert result["claims"]["scope"] == "read write"
    assert result["claims"]["groups"] == ["g1"]
    assert result["subject"] == "dev-user"


def test_rest_context_round_trip_restores_exact_claims(issuer: DevIssuer, verifier: Verifier) -> None:
    token = issuer.mint(sub="bob", scopes=["read:shows"], claims={"scp": ["x", "y"], "n": 3, "ok": False,
                                                                   "org": {"id": "o1"}})
    response = authorizer(verifier)(_rest_event(token), None)
    result = _backend()(_rest_backend_event(response), types.SimpleNamespace())
    claims = result["claims"]
    assert (claims["scp"], claims["n"], claims["ok"], claims["org"]) == (["x", "y"], 3, False, {"id": "o1"})
    assert claims["sub"] == "bob"
    assert "principalId" not in claims
    assert "integrationLatency" not in claims


def test_forged_request_context_is_ignored_without_trust_authorizer(verifier: Verifier) -> None:
    @require_auth(verifier)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    ctx = context_from_claims({"sub": "admin", "scope": "admin"})
    forged = {"httpMethod": "GET", "headers": {},
              "requestContext": {"authorizer": {"principalId": "admin", **ctx,
                                                "lambda": {"sub": "admin"}, "jwt": {"claims": {"sub": "a"}}}}}
    assert handler(forged, types.SimpleNamespace())["statusCode"] == 401


def test_enrich_value_is_not_reinterpreted_as_a_json_claim(issuer: DevIssuer, verifier: Verifier) -> None:
    def enrich(claims: Mapping[str, Any], event: Mapping[str, Any]) -> Mapping[str, str]:
        return {"tenant": str(event.get("tenant", ""))}   # e.g. copied from a request header

    handler = authorizer(verifier, enrich=enrich)
    token = issuer.mint(claims={"tenant": {"id": "t1"}})
    response = handler({**_rest_event(token), "tenant": '{"id": "t2", "admin": true}'}, None)
    result = _backend()(_rest_backend_event(response), types.SimpleNamespace())
    assert not isinstance(result["claims"]["tenant"], dict) or result["claims"]["tenant"] == {"id": "t1"}


def test_backend_subject_survives_context_claims_without_sub(issuer: DevIssuer, verifier: Verifier) -> None:
    response = authorizer(verifier, context_claims=["scope"])(_rest_event(issuer.mint(sub="carol")), None)
    result = _backend()(_rest_backend_event(response), types.SimpleNamespace())
    assert result["subject"] == "carol"


@pytest.mark.parametrize("template", ["{region.x}", "{partition[0]}"])
def test_resource_template_must_produce_an_execute_api_arn(verifier: Verifier, template: str) -> None:
    with pytest.raises(ConfigurationError):
        authorizer(verifier, resource=template)


def test_authorizer_never_logs_or_returns_the_token(issuer: DevIssuer, verifier: Verifier,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    expired = issuer.mint(lifetime_seconds=-3600)
    unscoped = issuer.mint()
    outputs: list[Any] = []
    with pytest.raises(Unauthorized) as err:
        authorizer(verifier)(_rest_event(expired), None)
    outputs.append(str(err.value))
    outputs.append(authorizer(verifier, reject_with="deny")(_rest_event(expired), None))
    outputs.append(authorizer(verifier, scopes=["admin"])(_rest_event(unscoped), None))
    outputs.append(authorizer(verifier, kind="http_simple", reject_with="deny")(
        {"version": "2.0", "routeArn": METHOD_ARN, "headers": {"authorization": f"Bearer {expired}"}}, None))
    text = json.dumps(outputs) + caplog.text
    for token in (expired, unscoped):
        assert token not in text
        assert token.split(".")[2] not in text


def test_keys_unavailable_fails_the_invocation_not_401(issuer: DevIssuer) -> None:
    issuer.fault = "503"
    handler = authorizer(Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=1))
    with pytest.raises(KeysUnavailableError):
        handler(_rest_event(issuer.mint()), None)


# --------------------------------------------------------------------------------------------- ALB


class KeyServer:
    """Loopback stand-in for public-keys.auth.elb.<region>.amazonaws.com: GET /<kid> -> PEM, else 404."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.paths.append(self.path)
                key = owner.keys.get(self.path.lstrip("/"))
                if key is None:
                    self.send_response(404)
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
def alb_keys() -> Iterator[KeyServer]:
    server = KeyServer()
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
    signing_input = f"{_b64(head, padded=True)}.{_b64(body, padded=True)}"
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{_b64(signature, padded=True)}"


def _alb(server: KeyServer) -> AlbVerifier:
    return AlbVerifier(ALB_ARN, client_ids=["app-client"], issuer=COGNITO_ISS,
                       key_url_template=server.template)


@pytest.mark.parametrize("kid", ["../../etc/passwd", "a/b", "..", "%2e%2e", "a?b=c", "a#b", "x" * 129,
                                 "a b", "a\nb", "é", "", "@evil.example.com"])
def test_alb_kid_never_reaches_the_key_url_unless_plain(alb_keys: KeyServer, kid: str) -> None:
    token = _alb_token(ec.generate_private_key(ec.SECP256R1()), kid)
    with pytest.raises(InvalidTokenError):
        _alb(alb_keys).verify(token)
    assert alb_keys.paths == []


def test_alb_foreign_signer_costs_no_fetch_even_with_a_fresh_kid(alb_keys: KeyServer) -> None:
    kid = alb_keys.new_key()
    with pytest.raises(InvalidClaimError) as err:
        _alb(alb_keys).verify(_alb_token(alb_keys.keys[kid], str(uuid.uuid4()), header={"signer": OTHER_ALB}))
    assert err.value.claim == "signer"
    assert alb_keys.paths == []


@pytest.mark.parametrize(("field", "value"), [("signer", [ALB_ARN]), ("signer", {"arn": ALB_ARN}),
                                         ("client", ["app-client"])])
def test_alb_unhashable_header_values_are_refused_not_crashing(alb_keys: KeyServer, field: str,
                                                               value: Any) -> None:
    kid = alb_keys.new_key()
    with pytest.raises(InvalidClaimError):
        _alb(alb_keys).verify(_alb_token(alb_keys.keys[kid], kid, header={field: value}))


def test_alb_random_kid_does_not_lock_out_real_users(alb_keys: KeyServer) -> None:
    kid = alb_keys.new_key()
    verifier = _alb(alb_keys)
    attacker = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthError) as forged:
        verifier.verify(_alb_token(attacker, str(uuid.uuid4())))
    # The real user arriving right after the forged header must still get in ...
    assert verifier.verify(_alb_token(alb_keys.keys[kid], kid))["sub"] == "user-1"
    # ... and the forged header is a 401 (no key for that kid), not a 503 outage.
    assert isinstance(forged.value, UnknownKeyError)


def test_alb_signature_checked_even_when_key_cached(alb_keys: KeyServer) -> None:
    kid = alb_keys.new_key()
    verifier = _alb(alb_keys)
    assert verifier.verify(_alb_token(alb_keys.keys[kid], kid))["sub"] == "user-1"
    forged = _alb_token(ec.generate_private_key(ec.SECP256R1()), kid, claims={"sub": "admin"})
    with pytest.raises(InvalidSignatureError):
        verifier.verify(forged)
    assert len(alb_keys.paths) == 1


def test_alb_alg_confusion_and_expiry(alb_keys: KeyServer) -> None:
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
def test_alb_padding_is_exact(alb_keys: KeyServer, mutate: Any) -> None:
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


def _alb_event(value: str | None, *, forged: Mapping[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"httpMethod": "GET", "path": "/", "headers": {},
                             "requestContext": {"elb": {"targetGroupArn": "arn:tg"}}}
    if value is not None:
        event["headers"]["x-amzn-oidc-data"] = value
    if forged is not None:
        event["requestContext"]["authorizer"] = forged
    return event


def test_require_alb_auth_never_trusts_a_forged_authorizer_context(alb_keys: KeyServer) -> None:
    kid = alb_keys.new_key()

    @require_alb_auth(_alb(alb_keys))
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    forged = {"lambda": {"sub": "admin"}, "jwt": {"claims": {"sub": "admin"}}, "principalId": "admin"}
    assert handler(_alb_event(None, forged=forged), types.SimpleNamespace())["statusCode"] == 401
    assert handler(_alb_event("garbage", forged=forged), types.SimpleNamespace())["statusCode"] == 401
    ok = handler(_alb_event(_alb_token(alb_keys.keys[kid], kid), forged=forged), types.SimpleNamespace())
    assert ok == {"statusCode": 200, "body": "user-1"}


def test_alb_claims_are_not_decoded_as_an_authorizer_context(alb_keys: KeyServer) -> None:
    kid = alb_keys.new_key()

    @require_alb_auth(_alb(alb_keys), roles_claim="groups", roles=["admins"])
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    claims = {ENCODING_KEY: json.dumps({"groups": "json"}), "groups": '["admins"]'}
    event = _alb_event(_alb_token(alb_keys.keys[kid], kid, claims=claims))
    response = handler(event, types.SimpleNamespace())
    assert response["statusCode"] == 403


# ----------------------------------------------------------------------------------------- Netlify


def test_x_nf_sign_requires_iss_exp_and_hs256(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    verifier = signature_verifier(secret)
    now = int(time.time())
    good = {"iss": "netlify", "exp": now + 60, "site_url": "https://x.netlify.app"}
    assert verifier.verify(_hs_token(secret, {"alg": "HS256", "typ": "JWT"}, good))["iss"] == "netlify"
    refused = [
        _hs_token(secret, {"alg": "HS256"}, {**good, "iss": "other"}),
        _hs_token(secret, {"alg": "HS256"}, {k: v for k, v in good.items() if k != "iss"}),
        _hs_token(secret, {"alg": "HS256"}, {k: v for k, v in good.items() if k != "exp"}),
        _hs_token(secret, {"alg": "HS256"}, {**good, "exp": now - 3600}),
        _hs_token(secret, {"alg": "HS256"}, {**good, "exp": str(now + 60)}),
        _hs_token(secret, {"alg": "HS512"}, good, alg="HS512"),
        _hs_token("another-secret-of-enough-length-000", {"alg": "HS256"}, good),
        f"{_b64({'alg': 'none'})}.{_b64(good)}.",
        issuer.mint(issuer="netlify", audience=None),                    # RS256 with iss netlify
        issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None),  # an Identity token, no iss
    ]
    for token in refused:
        with pytest.raises(InvalidTokenError):
            verifier.verify(token)


def test_require_netlify_signature_answers_401_without_echoing(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)

    @require_netlify_signature(secret)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    expired = _hs_token(secret, {"alg": "HS256"}, {"iss": "netlify", "exp": int(time.time()) - 3600})
    for headers, status in (({}, 401), ({"x-nf-sign": expired}, 401), ({"x-nf-sign": "a.b"}, 401)):
        response = handler({"version": "2.0", "headers": headers,
                            "requestContext": {"http": {"method": "GET"}}}, None)
        assert response["statusCode"] == status
        assert expired not in json.dumps(response)
    multi = {"httpMethod": "GET", "multiValueHeaders": {"x-nf-sign": [expired, expired]}}
    assert handler(multi, None)["statusCode"] == 400


# ------------------------------------------------------------------------------------ secret store


class _Store:
    def __init__(self, value: str | None) -> None:
        self.value = value
        self.calls = 0

    def __call__(self, reference: str) -> str:
        self.calls += 1
        if self.value is None:
            raise RuntimeError(f"AccessDenied for {reference} with secret=topsecret")
        return self.value


def _hs_header() -> dict[str, Any]:
    return {"alg": "HS256"}


def test_secret_store_outage_at_cold_start_backs_off() -> None:
    store, now = _Store(None), [1000.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(KeysUnavailableError):
            keys.keys_for(_hs_header())
    assert store.calls == 1


def test_secret_store_serves_stale_then_gives_up_without_leaking() -> None:
    secret = secrets.token_urlsafe(32)
    store, now = _Store(secret), [0.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0],
                            max_age_seconds=300, max_stale_seconds=600)
    assert keys.keys_for(_hs_header())
    store.value = None
    now[0] = 301
    assert keys.keys_for(_hs_header())             # stale but within the window
    now[0] = 1000
    with pytest.raises(KeysUnavailableError) as err:
        keys.keys_for(_hs_header())
    assert "topsecret" not in str(err.value)
    assert secret not in repr(keys)
    assert err.value.__cause__ is None


def test_secret_store_unusable_new_value_keeps_the_good_one() -> None:
    good = secrets.token_urlsafe(32)
    store, now = _Store(good), [0.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0],
                            max_age_seconds=10)
    first = keys.keys_for(_hs_header())
    store.value, now[0] = "short", 11
    assert keys.keys_for(_hs_header()) == first


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield boto3


def _http_call(handler: Any, token: str) -> dict[str, Any]:
    event = {"version": "2.0", "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET"}}}
    result: dict[str, Any] = handler(event, types.SimpleNamespace())
    return result


def _hs_handler(verifier: Verifier) -> Any:
    @require_auth(verifier)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    return handler


def test_missing_secret_is_503_and_says_nothing_about_it(aws: Any, issuer: DevIssuer) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:does-not-exist-AbCdEf"
    handler = _hs_handler(Verifier.from_env({"JWT_SECRET": arn}))
    response = _http_call(handler, issuer.mint(alg="HS256", secret="x" * 32, issuer=None, audience=None))
    assert response["statusCode"] == 503
    assert "does-not-exist" not in json.dumps(response)


def test_rotation_accepts_both_stored_values_and_nothing_else(aws: Any, issuer: DevIssuer) -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    aws.client("ssm").put_parameter(Name="/jwt/secret", Value=f"{new}\n{old}\n", Type="SecureString")
    handler = _hs_handler(Verifier.from_env({"JWT_SECRET": "ssm:/jwt/secret"}))
    for secret, sub in ((old, "old"), (new, "new")):
        token = issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None, sub=sub)
        assert _http_call(handler, token)["body"] == sub
    forged = issuer.mint(alg="HS256", secret=secrets.token_urlsafe(32), issuer=None, audience=None)
    assert _http_call(handler, forged)["statusCode"] == 401


def test_stored_secret_never_verifies_public_key_algorithms(aws: Any, issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    arn = aws.client("secretsmanager").create_secret(Name="jwt", SecretString=secret)["ARN"]
    verifier = Verifier.from_env({"JWT_SECRET": arn})
    with pytest.raises(AuthError):
        verifier.verify(issuer.mint(issuer=None, audience=None))
    with pytest.raises(ConfigurationError):
        Verifier(secret_from=arn, algorithms=["RS256"])
