"""Lambda authorizers: outputs in the shapes API Gateway documents, and the backend reading them back."""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import secrets
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from serverless_jwt.adapters._context import ENCODING_KEY, claims_from_context, context_from_claims
from serverless_jwt.adapters.authorizer import Unauthorized, authorizer, policy_resource
from serverless_jwt.adapters.decorators import require_auth
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import (
    ConfigurationError,
    ForbiddenError,
    InvalidTokenError,
    KeysUnavailableError,
)
from serverless_jwt.verifier import Verifier

EVENTS = Path(__file__).resolve().parents[2] / "events"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
HTTP_AUTHORIZER_EVENT: dict[str, Any] = {
    "version": "2.0", "type": "REQUEST",
    "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
    "identitySource": ["Bearer x"], "routeKey": "GET /request", "rawPath": "/request",
    "rawQueryString": "", "headers": {},
    "requestContext": {"accountId": "123456789012", "apiId": "abcdef123", "stage": "test",
                       "http": {"method": "GET", "path": "/request"}},
}


@pytest.fixture
def verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)


def token_event(token: str | None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "authorizer-token.json").read_text())
    event["authorizationToken"] = f"Bearer {token}" if token is not None else ""
    return event


def request_event(token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "authorizer-request.json").read_text())
    event["headers"]["Authorization"] = f"Bearer {token}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {token}"]
    return event


def http_event(token: str) -> dict[str, Any]:
    # As API Gateway sends it with identity source $request.header.Authorization: the header's value is
    # both in headers and in identitySource (the cache key).
    event = copy.deepcopy(HTTP_AUTHORIZER_EVENT)
    event["headers"]["authorization"] = f"Bearer {token}"
    event["identitySource"] = [f"Bearer {token}"]
    return event


def assert_policy(response: Mapping[str, Any], effect: str, resource: str, principal: str) -> None:
    assert set(response) <= {"principalId", "policyDocument", "context", "usageIdentifierKey"}
    assert response["principalId"] == principal
    doc = response["policyDocument"]
    assert doc["Version"] == "2012-10-17"
    assert doc["Statement"] == [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]
    for name, value in response.get("context", {}).items():
        # REST contexts accept only string, number and boolean values.
        assert isinstance(name, str)
        assert isinstance(value, (str, int, float, bool))


def test_rest_token_allow_for_exact_method_arn(issuer: DevIssuer, verifier: Verifier) -> None:
    handler = authorizer(verifier, kind="rest_token")
    event = token_event(issuer.mint(sub="alice", scopes=["read"]))
    response = handler(event, None)
    assert_policy(response, "Allow", event["methodArn"], "alice")
    assert response["context"]["sub"] == "alice"
    assert response["context"]["scope"] == "read"


@pytest.mark.parametrize("value", [None, "not-a-jwt", "Basic dXNlcjpwYXNz"])
def test_rest_token_invalid_or_missing_raises_unauthorized(verifier: Verifier, value: str | None) -> None:
    event = token_event(None)
    if value is not None:
        event["authorizationToken"] = value if " " in value else f"Bearer {value}"
    with pytest.raises(Unauthorized) as err:
        authorizer(verifier, kind="rest_token")(event, None)
    assert str(err.value) == "Unauthorized"  # exactly: API Gateway's 401 contract


def test_expired_token_is_unauthorized_and_token_not_logged(issuer: DevIssuer, verifier: Verifier,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    token = issuer.mint(now=0, lifetime_seconds=60)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unauthorized):
        authorizer(verifier)(token_event(token), None)
    assert "token_expired" in caplog.text
    assert token not in caplog.text


def test_missing_scope_is_explicit_deny(issuer: DevIssuer, verifier: Verifier) -> None:
    handler = authorizer(verifier, kind="rest_request", scopes=["write:shows"], resource="stage")
    event = request_event(issuer.mint(sub="bob", scopes=["read:shows"]))
    response = handler(event, None)
    assert_policy(response, "Deny", "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*/*", "bob")
    assert response["context"]["error"] == "insufficient_scope"


def test_role_check_allows_and_denies(issuer: DevIssuer, verifier: Verifier) -> None:
    handler = authorizer(verifier, kind="rest_request", roles=["admins"], roles_claim="cognito:groups")
    ok = handler(request_event(issuer.mint(claims={"cognito:groups": ["admins"]})), None)
    assert ok["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    no = handler(request_event(issuer.mint(claims={"cognito:groups": ["staff"]})), None)
    assert no["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_keys_unavailable_fails_the_invocation_and_logs_why(issuer: DevIssuer, verifier: Verifier,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    issuer.fault = "503"
    token = issuer.mint()
    with pytest.raises(KeysUnavailableError) as err:
        authorizer(verifier)(token_event(token), None)
    assert str(err.value) != "Unauthorized"  # anything else is API Gateway's 500
    assert "keys_unavailable" in caplog.text
    assert token not in caplog.text


def test_invalid_token_deny_mode_answers_403(verifier: Verifier) -> None:
    response = authorizer(verifier, kind="rest_token", reject_with="deny")(token_event("a.b.c"), None)
    assert_policy(response, "Deny", token_event(None)["methodArn"], "unauthorized")


@pytest.mark.parametrize(("resource", "expected"), [
    ("method", "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/GET/shows/1"),
    ("stage", "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/*/*"),
    ("api", "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/*/*/*"),
    ("arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/GET/*",
     "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/GET/*"),
])
def test_policy_resource_keeps_partition(resource: str, expected: str) -> None:
    arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/GET/shows/1"
    assert policy_resource(arn, resource) == expected


def _iam_matches(pattern: str, arn: str) -> bool:
    # IAM's Resource wildcards: "*" any run of characters ("/" included), "?" any one character.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn, re.DOTALL) is not None


@pytest.mark.parametrize("kind", ["http_iam", "http_iam_v1"])
@pytest.mark.parametrize("resource", ["stage", "api"])
def test_http_api_cached_policy_covers_the_default_route(issuer: DevIssuer, verifier: Verifier,
                                                          kind: str, resource: str) -> None:
    # An HTTP API's $default (catch-all) route has a two-segment ARN: ".../{stage}/$default". A
    # ".../{stage}/*/*" Allow never matched it, so every request there was a 403, and with caching an
    # Allow made on another route was reused for it and refused too.
    api = "arn:aws:execute-api:us-east-1:123456789012:abcdef123"
    token = issuer.mint(sub="alice")
    handler = authorizer(verifier, kind="http_iam", resource=resource)
    for route in ("$default/$default", "$default/GET/shows/1", "prod/$default"):
        event = http_event(token)
        if kind == "http_iam_v1":  # payload 1.0: methodArn, one comma-joined identitySource string
            event = {**event, "version": "1.0", "identitySource": f"Bearer {token}"}
            del event["routeArn"]
            event["methodArn"] = f"{api}/{route}"
        else:
            event["routeArn"] = f"{api}/{route}"
        allowed = handler(event, None)["policyDocument"]["Statement"][0]["Resource"]
        for other in (route, "$default/$default", "$default/POST/shows", "$default/GET/"):
            covered = other.split("/")[0] == route.split("/")[0] or resource == "api"
            assert _iam_matches(allowed, f"{api}/{other}") is covered, (allowed, other)
        assert not _iam_matches(allowed, f"{api}2/{route}")  # never another API
    assert policy_resource(f"{api}/$default/$default", "stage", http_api=True) == f"{api}/$default/*"


def test_gov_cloud_partition_in_policy(issuer: DevIssuer, verifier: Verifier) -> None:
    event = token_event(issuer.mint())
    event["methodArn"] = "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abc/prod/GET/x"
    response = authorizer(verifier, resource="stage")(event, None)
    resource = response["policyDocument"]["Statement"][0]["Resource"]
    assert resource == "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abc/prod/*/*"


def test_http_simple_response(issuer: DevIssuer, verifier: Verifier) -> None:
    handler = authorizer(verifier, kind="http_simple", scopes=["read"])
    ok = handler(http_event(issuer.mint(sub="carol", scopes=["read"])), None)
    assert set(ok) == {"isAuthorized", "context"}
    assert ok["isAuthorized"] is True
    assert ok["context"]["sub"] == "carol"
    denied = handler(http_event(issuer.mint(scopes=["other"])), None)
    assert denied["isAuthorized"] is False


def test_http_iam_response_uses_route_arn(issuer: DevIssuer, verifier: Verifier) -> None:
    response = authorizer(verifier, kind="http_iam")(http_event(issuer.mint(sub="dave")), None)
    assert_policy(response, "Allow", HTTP_AUTHORIZER_EVENT["routeArn"], "dave")


def test_http_iam_reads_a_payload_1_0_event(issuer: DevIssuer, verifier: Verifier) -> None:
    # Payload format 1.0, as AWS documents it for HTTP API Lambda authorizers: methodArn, and the
    # identity sources' values joined by commas in one identitySource string.
    token = issuer.mint(sub="dave")
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request"
    event = {
        "version": "1.0", "type": "REQUEST", "methodArn": arn,
        "identitySource": f"Bearer {token}", "authorizationToken": f"Bearer {token}",
        "resource": "/request", "path": "/request", "httpMethod": "GET",
        "headers": {"Authorization": f"Bearer {token}"}, "queryStringParameters": {},
        "requestContext": {"path": "/request", "accountId": "123456789012", "stage": "test",
                           "resourcePath": "/request", "httpMethod": "GET", "apiId": "abcdef123"},
    }
    handler = authorizer(verifier, kind="http_iam")
    assert_policy(handler(event, None), "Allow", arn, "dave")
    with pytest.raises(Exception, match="Unauthorized"):  # a second credential among the sources
        handler({**event, "identitySource": f"Bearer {token},Bearer {issuer.mint()}"}, None)
    with pytest.raises(Exception, match="Unauthorized"):
        handler({**event, "identitySource": "", "authorizationToken": ""}, None)
    # Two Authorization headers joined by the gateway: refused, as require_auth answers them 400.
    for joined in (f"Basic eA==,Bearer {token}", f'Digest username="u", Bearer {token}'):
        with pytest.raises(Exception, match="Unauthorized"):
            handler({**event, "identitySource": joined}, None)
    # Another identity source's value beside the token (an API key) is no credential.
    assert_policy(handler({**event, "identitySource": f"Bearer {token},key-123"}, None), "Allow", arn, "dave")
    # Payload 1.0 has no simple responses: an Allow from http_simple would fail in API Gateway.
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer(verifier, kind="http_simple")(event, None)
    cookie_handler = authorizer(verifier, kind="http_iam", cookie_name="nf_jwt")
    assert_policy(cookie_handler({**event, "identitySource": f"theme=dark; nf_jwt={token}"}, None),
                  "Allow", arn, "dave")


def test_enrich_and_context_claims(issuer: DevIssuer, verifier: Verifier) -> None:
    handler = authorizer(verifier, context_claims=["sub"], enrich=lambda claims, event: {"tenant": "t1"})
    ctx = handler(token_event(issuer.mint(sub="eve", scopes=["x"])), None)["context"]
    assert {k: v for k, v in ctx.items() if k != ENCODING_KEY} == {"sub": "eve", "tenant": "t1"}


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_enrich_non_finite_number_is_a_clear_error_not_an_answer_api_gateway_cannot_parse(
        issuer: DevIssuer, verifier: Verifier, value: float) -> None:
    # Lambda's runtime writes NaN / Infinity bare, which is not JSON: API Gateway would answer 500 with
    # nothing in the authorizer's log saying why.
    token = issuer.mint()
    for kind, event in (("rest_token", token_event(token)), ("http_simple", http_event(token))):
        with pytest.raises(ValueError, match="finite"):
            authorizer(verifier, kind=kind, enrich=lambda claims, event: {"score": value})(event, None)
    finite = authorizer(verifier, enrich=lambda claims, event: {"score": 1.5})(token_event(token), None)
    assert json.loads(json.dumps(finite, allow_nan=False))["context"]["score"] == 1.5


@pytest.mark.parametrize("returned", [["tenant", "t1"], [], "tenant=t1", None, 7])
def test_enrich_returning_no_mapping_is_a_type_error_naming_enrich_and_the_type_not_the_value(
        issuer: DevIssuer, verifier: Verifier, returned: Any) -> None:
    # Not an AttributeError from deep inside the context builder; the value may hold claim data.
    token = issuer.mint(sub="secret-subject")
    for kind, event in (("rest_token", token_event(token)), ("http_simple", http_event(token))):
        handler = authorizer(verifier, kind=kind, enrich=lambda claims, event: returned)
        with pytest.raises(TypeError, match=r"^enrich must return a mapping") as caught:
            handler(event, None)
        assert type(returned).__name__ in str(caught.value)
        assert "t1" not in str(caught.value)
        assert "secret-subject" not in str(caught.value)


def test_a_hook_refusing_with_an_auth_error_is_answered_as_under_require_auth(issuer: DevIssuer,
                                                                             verifier: Verifier) -> None:
    # As require_auth answers any AuthError from claims_mapper: a ForbiddenError is a Deny (403) and an
    # InvalidTokenError a 401, never an escaped exception API Gateway turns into a 500.
    def blocked_tenant(claims: Mapping[str, Any]) -> Mapping[str, Any]:
        if claims.get("tenant") == "blocked":
            raise ForbiddenError("Tenant suspended")
        if claims.get("tenant") == "revoked":
            raise InvalidTokenError("Session revoked")
        return claims

    def enrich(claims: Mapping[str, Any], event: Mapping[str, Any]) -> Mapping[str, str]:
        raise ForbiddenError("No profile")

    blocked, revoked = (issuer.mint(claims={"tenant": t}) for t in ("blocked", "revoked"))
    arn = token_event(blocked)["methodArn"]
    deny = authorizer(verifier, claims_mapper=blocked_tenant)(token_event(blocked), None)
    assert_policy(deny, "Deny", arn, "dev-user")
    assert deny["context"]["error_description"] == "Tenant suspended"
    simple = authorizer(verifier, kind="http_simple", claims_mapper=blocked_tenant)(http_event(blocked), None)
    assert simple["isAuthorized"] is False
    enriched = authorizer(verifier, enrich=enrich)(token_event(issuer.mint()), None)
    assert_policy(enriched, "Deny", arn, "dev-user")
    with pytest.raises(Unauthorized):
        authorizer(verifier, claims_mapper=blocked_tenant)(token_event(revoked), None)
    deny_mode = authorizer(verifier, claims_mapper=blocked_tenant, reject_with="deny")
    refused = deny_mode(token_event(revoked), None)
    assert_policy(refused, "Deny", arn, "unauthorized")


def test_usage_identifier_key_from_a_claim_or_a_function_on_rest_allows(issuer: DevIssuer,
                                                                         verifier: Verifier) -> None:
    # A usage plan with API key source AUTHORIZER reads the caller's API key from usageIdentifierKey.
    token = issuer.mint(sub="alice", claims={"api_key": "k-123"})
    by_claim = authorizer(verifier, kind="rest_token", usage_identifier_key="api_key")
    response = by_claim(token_event(token), None)
    assert_policy(response, "Allow", token_event(token)["methodArn"], "alice")
    assert response["usageIdentifierKey"] == "k-123"
    by_request = authorizer(verifier, kind="rest_request",
                            usage_identifier_key=lambda claims, event: f"{claims['sub']}:{event['path']}")
    assert by_request(request_event(token), None)["usageIdentifierKey"] == "alice:/request"
    # No key (claim absent, not a string): none is sent, API Gateway then refuses key-requiring methods.
    for claims in ({}, {"api_key": 5}, {"api_key": ""}):
        assert "usageIdentifierKey" not in by_claim(token_event(issuer.mint(claims=claims)), None)
    # A Deny carries none.
    denied = authorizer(verifier, scopes=["admin"], usage_identifier_key="api_key")(token_event(token), None)
    assert "usageIdentifierKey" not in denied
    for options in ({"kind": "http_simple", "usage_identifier_key": "api_key"},
                    {"kind": "http_iam", "usage_identifier_key": "api_key"},
                    {"usage_identifier_key": ""}, {"usage_identifier_key": 5}):
        with pytest.raises(ConfigurationError, match="usage_identifier_key"):
            authorizer(verifier, **options)  # type: ignore[arg-type]


def test_configuration_errors(verifier: Verifier) -> None:
    with pytest.raises(ConfigurationError):
        authorizer(verifier, kind="websocket")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        authorizer(verifier, resource="arn:{nope}")
    with pytest.raises(ConfigurationError):
        authorizer(verifier, kind="http_simple", resource="stage")
    with pytest.raises(ConfigurationError):
        policy_resource("arn:aws:lambda:us-east-1:123456789012:function:f")
    for name, value in (("context_claims", "sub"), ("enrich", "not callable"), ("logger", "not a logger")):
        with pytest.raises(ConfigurationError, match=name):  # else a 500 (or no claims) per request
            authorizer(verifier, **{name: value})  # type: ignore[arg-type]
    for path in (5, None, [], ["app_metadata", 5]):  # else every token with roles to check failed (a 500)
        with pytest.raises(ConfigurationError, match="roles_claim"):
            authorizer(verifier, roles=["admin"], roles_claim=path)  # type: ignore[arg-type]


def test_context_encoding_round_trips_through_api_gateway_stringification() -> None:
    claims = {"sub": "u", "exp": 1700000000, "email_verified": True, "scp": ["a", "b"],
              "permissions": ["p:1"], "cognito:groups": ["g1", "g2"], "nested": {"x": [1, None]},
              "nothing": None, "ratio": 0.5, "principalId": "spoof"}
    ctx = context_from_claims(claims)
    assert ctx["scp"] == "a b"
    # API Gateway delivers every context value to the backend as a string.
    delivered = {k: v if isinstance(v, str) else json.dumps(v) for k, v in ctx.items()}
    expected = {k: v for k, v in claims.items() if k != "principalId"}
    assert claims_from_context(delivered) == expected


_DEEP = "[" * 100_000 + "]" * 100_000  # deeper than the json module can recurse


@pytest.mark.parametrize("authorizer_block", [
    {"principalId": "u", ENCODING_KEY: _DEEP},
    {"principalId": "u", ENCODING_KEY: '{"sub":"json"}', "sub": _DEEP},
    {"lambda": {ENCODING_KEY: '{"x":"json"}', "x": _DEEP}},
], ids=["encoding", "rest-value", "http-lambda-value"])
def test_a_bracket_bomb_in_a_forged_context_is_text_not_a_crash(authorizer_block: dict[str, Any]) -> None:
    # Our authorizer never writes such a value (the token parser refuses deep JSON), but a forged or
    # foreign context must not turn a trusted-authorizer request into a RecursionError (a 500).
    handler = require_auth(None, trust_authorizer=True)(lambda event, context: {"statusCode": 200})
    event = {"httpMethod": "GET", "headers": {}, "requestContext": {"authorizer": authorizer_block}}
    assert handler(event, None) == {"statusCode": 200}
    assert claims_from_context({ENCODING_KEY: '{"x":"json"}', "x": _DEEP}) == {"x": _DEEP}


# -- the backend: require_auth(trust_authorizer=True) reads the context back -----------------------

def _backend() -> Any:
    @require_auth(trust_authorizer=True, roles_claim="cognito:groups", scopes=["read"])
    def handler(event: Any, context: Any) -> dict[str, Any]:
        identity = context.identity_context
        return {"statusCode": 200, "identity": identity}

    return handler


def _claims(issuer: DevIssuer) -> str:
    return issuer.mint(sub="frank", scopes=["read", "write"],
                       claims={"cognito:groups": ["admins"], "scp": ["s1"], "amr": ["pwd"]})


def test_rest_backend_reads_authorizer_context(issuer: DevIssuer, verifier: Verifier) -> None:
    output = authorizer(verifier)(token_event(_claims(issuer)), None)
    event = json.loads((FIXTURES / "rest_v1.json").read_text())
    # What API Gateway puts in the proxy event: principalId, stringified context, integrationLatency.
    event["requestContext"]["authorizer"] = {
        "principalId": output["principalId"], "integrationLatency": 12,
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in output["context"].items()},
    }
    event["headers"] = {}
    event.pop("multiValueHeaders", None)
    response = _backend()(event, types.SimpleNamespace())
    assert response["statusCode"] == 200
    identity = response["identity"]
    assert identity.source == "authorizer"
    assert identity.subject == "frank"
    assert identity.roles == {"admins"}
    assert identity.scopes == {"read", "write", "s1"}
    assert identity.claims["amr"] == ["pwd"]
    assert isinstance(identity.claims["exp"], int)
    assert "principalId" not in identity.claims


def test_http_backend_reads_authorizer_lambda_context(issuer: DevIssuer, verifier: Verifier) -> None:
    output = authorizer(verifier, kind="http_simple")(http_event(_claims(issuer)), None)
    event = json.loads((FIXTURES / "http_v2.json").read_text())
    event["requestContext"]["authorizer"] = {"lambda": output["context"]}
    event["headers"] = {}
    response = _backend()(event, types.SimpleNamespace())
    assert response["statusCode"] == 200
    identity = response["identity"]
    assert identity.roles == {"admins"}
    assert identity.claims["cognito:groups"] == ["admins"]


# -- the cache key: only credentials API Gateway's identity source covers are read ---------------------


class AuthorizerCache:
    """API Gateway's authorizer cache: answers keyed by the identity source values, never by the token.

    As documented for Lambda authorizers: with caching on, a request missing a configured identity
    source gets 401 without the authorizer being called; otherwise the source values are the key.
    HTTP APIs also pass the values in the event's ``identitySource``.
    """

    def __init__(self, handler: Any, headers: list[str], *, http: bool) -> None:
        self.handler, self.headers, self.http = handler, headers, http
        self.answers: dict[tuple[str, ...], Any] = {}
        self.calls = 0

    def __call__(self, headers: dict[str, str]) -> Any:
        key = tuple(headers.get(h, "") for h in self.headers)
        if not all(key):
            return "401"
        if key not in self.answers:
            if self.http:
                event = copy.deepcopy(HTTP_AUTHORIZER_EVENT)
                event["headers"] = {k.lower(): v for k, v in headers.items()}
                event["identitySource"] = list(key)
            else:
                event = json.loads((EVENTS / "authorizer-request.json").read_text())
                event["headers"] = dict(headers)
                event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
            self.calls += 1
            try:
                self.answers[key] = self.handler(event, None)
            except Unauthorized:
                self.answers[key] = "401"
        return self.answers[key]


def _subject_of(answer: Any) -> str | None:
    if answer == "401":
        return None
    if "isAuthorized" in answer:
        return claims_from_context(answer["context"]).get("sub") if answer["isAuthorized"] else None
    allowed = answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    return str(answer["principalId"]) if allowed else None


@pytest.mark.parametrize(("kind", "sources", "options"), [
    ("http_simple", ["Authorization"], {}),
    ("http_simple", ["Authorization", "Cookie"], {}),
    ("http_iam", ["Authorization", "Cookie"], {}),
    ("rest_request", ["Authorization"], {"cookie_name": None}),
    ("rest_request", ["Authorization", "Cookie"],
     {"identity_source": ["method.request.header.Authorization", "method.request.header.Cookie"]}),
    ("rest_request", ["Cookie"], {"identity_source": "method.request.header.Cookie"}),
])
def test_no_caller_is_ever_answered_with_another_callers_identity(
        issuer: DevIssuer, verifier: Verifier, kind: str, sources: list[str],
        options: dict[str, Any]) -> None:
    alice, bob = issuer.mint(sub="alice"), issuer.mint(sub="bob")
    handler = authorizer(verifier, kind=kind, **{"cookie_name": "nf_jwt", **options})  # type: ignore[arg-type]
    cache = AuthorizerCache(handler, sources, http=kind.startswith("http"))
    gate = "Basic c2hhcmVkOmdhdGU="  # a shared Basic gate in front of the site: the same for everyone
    requests = [
        ("alice", {"Authorization": gate, "Cookie": f"theme=dark; nf_jwt={alice}"}),
        (None, {"Authorization": gate, "Cookie": "theme=dark"}),  # mallory: the gate, no token
        ("bob", {"Authorization": f"Bearer {bob}", "Cookie": "theme=dark"}),
        ("bob", {"Authorization": gate, "Cookie": f"nf_jwt={bob}"}),
        (None, {"Authorization": gate, "Cookie": f"nf_jwt={alice}x"}),
        ("alice", {"Authorization": gate, "Cookie": f"theme=dark; nf_jwt={alice}"}),
    ]
    for owner, headers in requests:
        answered = _subject_of(cache(headers))
        # A cached Allow may only ever name the caller whose own credential (in the key) it was made for.
        assert answered in (None, owner), (headers, answered)
    assert cache.calls >= 1


def test_http_authorizer_never_reads_a_header_outside_identity_source(issuer: DevIssuer,
                                                                       verifier: Verifier) -> None:
    handler = authorizer(verifier, kind="http_simple", cookie_name="nf_jwt")
    token = issuer.mint()
    event = http_event(token)
    assert handler(event, None)["isAuthorized"] is True
    for source in (["Basic c2hhcmVk"], [], None, ["theme=dark"], "Bearer " + token):
        event["identitySource"] = source
        event["cookies"] = [f"nf_jwt={token}"]
        with pytest.raises(Unauthorized):
            handler(event, None)
    event["identitySource"] = ["Basic c2hhcmVk", f"theme=dark; nf_jwt={token}"]  # Cookie is a source
    assert handler(event, None)["isAuthorized"] is True
    event["identitySource"] = [f"Bearer {token}", f"Bearer {issuer.mint(sub='other')}"]
    with pytest.raises(Unauthorized):
        handler(event, None)


def test_rest_request_identity_source_must_cover_what_is_read(verifier: Verifier) -> None:
    with pytest.raises(ConfigurationError, match=r"method\.request\.header\.Cookie"):
        authorizer(verifier, kind="rest_request", cookie_name="nf_jwt")
    with pytest.raises(ConfigurationError, match="Authorization"):
        authorizer(verifier, kind="rest_request", identity_source="method.request.header.X-Token")
    for bad in ("header.Authorization", "", ["method.request.header.Authorization", 3]):
        with pytest.raises(ConfigurationError):
            authorizer(verifier, kind="rest_request", identity_source=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        authorizer(verifier, kind="http_simple", identity_source="method.request.header.Authorization")
    with pytest.raises(ConfigurationError):
        authorizer(verifier, kind="rest_token", cookie_name="nf_jwt")
    authorizer(verifier, kind="rest_request", cookie_name="nf_jwt",
               identity_source=["method.request.header.authorization", "method.request.header.cookie"])


def test_rest_request_reads_the_cookie_only_when_it_is_the_source(issuer: DevIssuer,
                                                                  verifier: Verifier) -> None:
    token = issuer.mint(sub="carol")
    event = request_event(token)
    event["headers"]["Cookie"] = f"nf_jwt={token}"
    cookie_only = authorizer(verifier, kind="rest_request", cookie_name="nf_jwt",
                             identity_source="method.request.header.Cookie")
    event["headers"]["Authorization"] = "Basic c2hhcmVk"
    event["multiValueHeaders"]["Authorization"] = ["Basic c2hhcmVk"]
    assert cookie_only(event, None)["principalId"] == "carol"
    with pytest.raises(Unauthorized):
        authorizer(verifier, kind="rest_request")(event, None)  # Authorization only: the cookie is not read


# -- nothing in a request raises anything but Unauthorized / an answer ---------------------------------


@pytest.mark.parametrize("arn", [None, "", "arn:aws:lambda:us-east-1:123456789012:function:f", 12, ["x"]])
@pytest.mark.parametrize("reject_with", ["unauthorized", "deny"])
def test_an_event_without_a_usable_method_arn_is_a_logged_unauthorized(
        issuer: DevIssuer, verifier: Verifier, caplog: pytest.LogCaptureFixture, arn: Any,
        reject_with: str) -> None:
    caplog.set_level(logging.INFO)
    for kind, event in (("rest_token", token_event(issuer.mint())), ("rest_token", token_event("a.b.c")),
                        ("http_iam", http_event(issuer.mint()))):
        event.pop("methodArn", None)
        event.pop("routeArn", None)
        if arn is not None:
            event["methodArn"] = arn
        with pytest.raises(Unauthorized):
            authorizer(verifier, kind=kind, reject_with=reject_with)(event, None)  # type: ignore[arg-type]
    assert "methodArn/routeArn" in caplog.text
    # A simple HTTP API answer carries no policy, so it needs no ARN.
    event = http_event(issuer.mint())
    event.pop("routeArn")
    assert authorizer(verifier, kind="http_simple")(event, None)["isAuthorized"] is True


def test_each_rejection_is_one_structured_log_line_without_token_values(
        issuer: DevIssuer, verifier: Verifier, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="serverless_jwt")
    marker = "MARKER-aud-value"
    token = issuer.mint(audience=marker, sub="MARKER-sub")
    with pytest.raises(Unauthorized):
        authorizer(verifier)(token_event(token), None)
    records = [r for r in caplog.records if r.getMessage().startswith("request rejected")]
    assert len(records) == 1
    record = records[0]
    assert (record.auth_code, record.auth_status, record.auth_check, record.auth_issuer) == (  # type: ignore[attr-defined]
        "claims_invalid", 401, "aud:check_failed", issuer.issuer)
    assert "MARKER" not in caplog.text
    assert token not in caplog.text


def test_refusals_go_to_the_logger_given_such_as_powertools(issuer: DevIssuer, verifier: Verifier) -> None:
    from aws_lambda_powertools import Logger

    # A service of its own: Powertools keeps one handler per service name, and the sample authorizer
    # (imported by other tests in this process) already made "authorizer"'s, on another stream.
    stream = io.StringIO()
    logger = Logger(service=f"authorizer-{secrets.token_hex(4)}", level="INFO", stream=stream)
    token = issuer.mint(audience="another-api")
    with pytest.raises(Unauthorized):
        authorizer(verifier, logger=logger)(token_event(token), None)
    (line,) = [json.loads(raw) for raw in stream.getvalue().splitlines() if "request rejected" in raw]
    assert (line["level"], line["auth_code"], line["auth_check"]) == ("INFO", "claims_invalid",
                                                                      "aud:check_failed")
    assert token not in json.dumps(line)


METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/shows/1"


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


def _backend_r() -> Any:
    @require_auth(None, trust_authorizer=True)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        identity = context.identity_context
        return {"statusCode": 200, "claims": dict(identity.claims), "subject": identity.subject}

    return handler


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
    result = _backend_r()(_rest_backend_event(response), types.SimpleNamespace())
    assert result["statusCode"] == 200
    assert result["claims"]["role"] == '["admin"]'          # stays the string the issuer signed
    assert result["claims"]["scope"] == "read write"
    assert result["claims"]["groups"] == ["g1"]
    assert result["subject"] == "dev-user"


def test_rest_context_round_trip_restores_exact_claims(issuer: DevIssuer, verifier: Verifier) -> None:
    token = issuer.mint(sub="bob", scopes=["read:shows"], claims={"scp": ["x", "y"], "n": 3, "ok": False,
                                                                   "org": {"id": "o1"}})
    response = authorizer(verifier)(_rest_event(token), None)
    result = _backend_r()(_rest_backend_event(response), types.SimpleNamespace())
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
    result = _backend_r()(_rest_backend_event(response), types.SimpleNamespace())
    assert not isinstance(result["claims"]["tenant"], dict) or result["claims"]["tenant"] == {"id": "t1"}


def test_backend_subject_survives_context_claims_without_sub(issuer: DevIssuer, verifier: Verifier) -> None:
    response = authorizer(verifier, context_claims=["scope"])(_rest_event(issuer.mint(sub="carol")), None)
    result = _backend_r()(_rest_backend_event(response), types.SimpleNamespace())
    assert result["subject"] == "carol"


@pytest.mark.parametrize("template", [
    "{region.x}", "{partition[0]}",
    # Wider than this API: every API of the account, or every API whose id starts with this one's.
    "arn:{partition}:execute-api:{region}:{account}:*",
    "arn:{partition}:execute-api:{region}:{account}:{api_id}*",
])
def test_resource_template_must_produce_an_execute_api_arn_of_this_api(
        verifier: Verifier, template: str) -> None:
    with pytest.raises(ConfigurationError):
        authorizer(verifier, resource=template)
    authorizer(verifier, resource="arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/GET/*")


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


def test_a_multi_issuer_authorizer_takes_auth_options_and_reads_each_presets_roles(issuer: DevIssuer) -> None:
    # authorizer(multi, **multi.auth_options()) was a TypeError (no claims_mapper), and with only its
    # roles_claim an Auth0 token's namespaced roles were never found: the mapper that strips them is
    # what require_auth applies before reading roles.
    from serverless_jwt import presets
    from serverless_jwt.issuers import MultiIssuerVerifier

    pool = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
    multi = MultiIssuerVerifier([
        presets.cognito("eu-west-1", "eu-west-1_AbC", client_ids=["app"], jwks=issuer.jwks()),
        presets.auth0("tenant.eu.auth0.com", "https://api.example.com", namespace="https://ex.com/",
                      jwks=issuer.jwks()),
    ])
    handler = authorizer(multi, kind="http_simple", roles=["admin"], **multi.auth_options())
    access = {"client_id": "app", "token_use": "access"}
    auth0 = issuer.mint(sub="a0|1", issuer="https://tenant.eu.auth0.com/", audience="https://api.example.com",
                        claims={"https://ex.com/roles": ["admin"]})
    answer = handler(http_event(auth0), None)
    assert answer["isAuthorized"] is True
    assert claims_from_context(answer["context"])["roles"] == ["admin"]
    cognito = issuer.mint(issuer=pool, audience=None, claims={**access, "cognito:groups": ["admin"]})
    assert handler(http_event(cognito), None)["isAuthorized"] is True
    # Each issuer's roles only where its preset reads them.
    elsewhere = issuer.mint(issuer=pool, audience=None, claims={**access, "roles": ["admin"],
                                                                "https://ex.com/roles": ["admin"]})
    assert handler(http_event(elsewhere), None)["isAuthorized"] is False
    with pytest.raises(ConfigurationError, match="claims_mapper"):
        authorizer(multi, claims_mapper="strip")  # type: ignore[arg-type]


@pytest.mark.parametrize("exp", [10**30, 10**400, 1e308])
def test_a_numeric_date_far_beyond_datetimes_range_is_accepted_and_read_back_unchanged(
        issuer: DevIssuer, verifier: Verifier, exp: float) -> None:
    # RFC 7519 §2: a NumericDate is any JSON number; nothing here turns one into a datetime, so a
    # far-future exp is compared, delivered and read back as it came (never an OverflowError, a 500).
    token = issuer.mint(claims={"exp": exp, "iat": -10**400, "auth_time": -10**400})
    for kind, event in (("rest_token", token_event(token)), ("http_simple", http_event(token))):
        answer = authorizer(verifier, kind=kind)(event, None)
        assert claims_from_context(answer["context"])["exp"] == exp
    assert verifier.verify(token)["exp"] == exp == verifier.verify(token)["exp"]  # the cached path too


@pytest.mark.parametrize("kind", ["rest_token", "http_iam"])
def test_a_token_without_sub_is_refused_as_reject_with_says_and_logged_as_a_rejection(
        issuer: DevIssuer, verifier: Verifier, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    # An IAM-format answer needs principalId, so a verified token without a string sub gets no Allow.
    # It is refused like any other unusable token: with reject_with="deny" a Deny (403; HTTP APIs
    # document no 401 answer), not the Unauthorized it raised whatever reject_with said, and logged as
    # a rejection (code, failed check) rather than a free-text line.
    caplog.set_level(logging.INFO, logger="serverless_jwt")
    for sub in (None, "", 42):
        token = issuer.mint(claims={"sub": sub})
        event = token_event(token) if kind == "rest_token" else http_event(token)
        arn = event.get("methodArn", event.get("routeArn"))
        with pytest.raises(Unauthorized):
            authorizer(verifier, kind=kind)(event, None)
        response = authorizer(verifier, kind=kind, reject_with="deny")(event, None)
        assert_policy(response, "Deny", arn, "unauthorized")
        assert response["context"]["error"] == "invalid_token"
        assert token not in caplog.text
    assert caplog.text.count("check=sub:") == 6


@pytest.mark.parametrize("kind", ["rest_token", "http_iam"])
@pytest.mark.parametrize("resource", [
    "method", "arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path}"])
def test_a_policy_resource_is_at_most_512_characters_and_still_covers_the_request(
        issuer: DevIssuer, verifier: Verifier, kind: str, resource: str) -> None:
    # API Gateway takes a policy Resource of at most 512 characters (Lambda authorizer output docs),
    # while a methodArn may reach 1600 bytes: a long path (a long id in it) answered with its own ARN
    # got a policy API Gateway cannot use. Past 512 the ARN ends in "*" at character 512, so the Allow
    # (or Deny) still covers the request, and only paths that share those 511 characters besides.
    api = "arn:aws:execute-api:us-east-1:123456789012:abcdef123"
    token = issuer.mint(sub="alice")
    for length in (500, 512, 513, 1500):
        arn = f"{api}/prod/GET/items/" + "x" * (length - len(f"{api}/prod/GET/items/"))
        event = token_event(token) if kind == "rest_token" else http_event(token)
        event.pop("routeArn", None)
        event["methodArn" if kind == "rest_token" else "routeArn"] = arn
        for handler in (authorizer(verifier, kind=kind, resource=resource),
                        authorizer(verifier, kind=kind, resource=resource, scopes=["admin"])):
            allowed = handler(event, None)["policyDocument"]["Statement"][0]["Resource"]
            assert len(allowed) <= 512
            assert allowed == arn if len(arn) <= 512 else allowed == arn[:511] + "*"
            assert _iam_matches(allowed, arn)
    assert policy_resource(f"{api}/prod/GET/" + "y" * 600) == (f"{api}/prod/GET/" + "y" * 600)[:511] + "*"
