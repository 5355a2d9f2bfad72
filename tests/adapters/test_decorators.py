"""Each decorator behaviour through a real decorated handler, real Verifier, real tokens."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import io
import itertools
import json
import logging
import secrets
import sys
import time
import types
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from serverless_jwt.adapters.decorators import (
    IdentityContext,
    current_identity,
    require_auth,
    require_claims,
    require_role,
    require_scope,
)
from serverless_jwt.authz import strip_namespace
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import AuthError, ConfigurationError, ForbiddenError
from serverless_jwt.verifier import Verifier

EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)


@pytest.fixture
def secret() -> bytes:
    return secrets.token_bytes(32)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ctx() -> types.SimpleNamespace:
    return types.SimpleNamespace(function_name="fn", aws_request_id="req-1")


def echo(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Return what the handler saw."""
    identity: IdentityContext = context.identity_context
    return {"statusCode": 200, "sub": identity.subject, "scopes": identity.scopes, "roles": identity.roles}


def body(response: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response["body"])
    return data


def test_valid_token_reaches_handler_with_identity(
    kind: str, make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    token = issuer.mint(sub="alice", scopes=["read:shows"], roles=["admin"], claims={"azp": "spa"})
    seen: list[IdentityContext] = []

    @require_auth(verifier)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context.identity_context)
        return {"statusCode": 200}

    assert handler(make_event(kind, headers=bearer(token)), ctx()) == {"statusCode": 200}
    identity = seen[0]
    assert identity.subject == "alice"
    assert identity.scopes == {"read:shows"}
    assert identity.roles == {"admin"}
    assert identity.issuer == issuer.issuer
    assert identity.client_id == "spa"
    assert identity.token == token
    assert identity.claims["sub"] == "alice"
    assert identity.source == "token"
    assert token not in repr(identity)


def test_no_token_is_401_with_bare_challenge_and_handler_not_called(
    kind: str, make_event: EventFactory, verifier: Verifier
) -> None:
    calls: list[int] = []

    @require_auth(verifier, realm="shows")
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        calls.append(1)
        return {"statusCode": 200}

    response = handler(make_event(kind), ctx())
    assert response["statusCode"] == 401
    assert response["headers"]["WWW-Authenticate"] == 'Bearer realm="shows"'
    assert calls == []


def test_two_authorization_values_are_400(make_event: EventFactory, issuer: DevIssuer,
                                         verifier: Verifier) -> None:
    token = issuer.mint()
    event = make_event("rest_v1", headers=bearer(token), multi=True)
    event["multiValueHeaders"]["Authorization"].append(f"Bearer {token}")
    response = require_auth(verifier)(echo)(event, ctx())
    assert response["statusCode"] == 400
    assert body(response)["error"] == "invalid_request"
    assert token not in json.dumps(response)


def test_expired_token_is_401_invalid_token_and_never_echoed(
    kind: str, make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    token = issuer.mint(now=time.time() - 7200, lifetime_seconds=600)
    response = require_auth(verifier)(echo)(make_event(kind, headers=bearer(token)), ctx())
    assert response["statusCode"] == 401
    assert 'error="invalid_token"' in _challenge(response)
    assert token not in json.dumps(response)
    assert token.split(".")[1] not in json.dumps(response)


def _challenge(response: Mapping[str, Any]) -> str:
    if "multiValueHeaders" in response:
        value: str = response["multiValueHeaders"]["WWW-Authenticate"][0]
        return value
    header: str = response["headers"]["WWW-Authenticate"]
    return header


def test_forged_signature_is_401(make_event: EventFactory, issuer: DevIssuer, verifier: Verifier) -> None:
    token = issuer.mint_with_foreign_key(sub="mallory")
    response = require_auth(verifier)(echo)(make_event("http_v2", headers=bearer(token)), ctx())
    assert response["statusCode"] == 401


def test_alb_error_uses_status_description_and_the_request_header_style(
    make_event: EventFactory, verifier: Verifier
) -> None:
    handler = require_auth(verifier)(echo)
    multi = handler(make_event("alb", multi=True), ctx())
    assert multi["statusDescription"] == "401 Unauthorized"
    assert multi["multiValueHeaders"]["WWW-Authenticate"] == ["Bearer"]
    single = handler(make_event("alb"), ctx())
    assert single["headers"]["WWW-Authenticate"] == "Bearer"


def test_issuer_down_is_503_with_retry_after(make_event: EventFactory, issuer: DevIssuer,
                                            verifier: Verifier) -> None:
    token = issuer.mint()
    issuer.fault = "503"
    response = require_auth(verifier)(echo)(make_event("http_v2", headers=bearer(token)), ctx())
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"].isdigit()


def test_hs256_shared_secret(make_event: EventFactory, issuer: DevIssuer, secret: bytes) -> None:
    handler = require_auth(Verifier(secrets=[secret], algorithms=["HS256"], issuer=issuer.issuer))(echo)
    good = issuer.mint(alg="HS256", secret=secret, sub="netlify-user", audience=None)
    assert handler(make_event("function_url", headers=bearer(good)), ctx())["sub"] == "netlify-user"
    bad = issuer.mint(alg="HS256", secret=secrets.token_bytes(32))
    assert handler(make_event("function_url", headers=bearer(bad)), ctx())["statusCode"] == 401


def test_missing_scope_is_403_insufficient_scope_naming_it(
    kind: str, make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    handler = require_auth(verifier)(require_scope("read:shows")(echo))
    denied = handler(make_event(kind, headers=bearer(issuer.mint(scopes=["write:shows"]))), ctx())
    assert denied["statusCode"] == 403
    challenge = _challenge(denied)
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="read:shows"' in challenge
    assert body(denied)["error_description"] == "Token does not contain the required 'read:shows' scope"
    allowed = handler(make_event(kind, headers=bearer(issuer.mint(scopes=["read:shows"]))), ctx())
    assert allowed["statusCode"] == 200


def test_scopes_from_scp_and_permissions_and_any_of(make_event: EventFactory, issuer: DevIssuer,
                                                   verifier: Verifier) -> None:
    handler = require_auth(verifier)(require_scope("a", "b", any_of=True)(echo))
    okta = issuer.mint(claims={"scp": ["b"]})
    auth0 = issuer.mint(claims={"permissions": ["a"]})
    neither = issuer.mint(claims={"scp": ["A", "B"]})
    assert handler(make_event("rest_v1", headers=bearer(okta)), ctx())["statusCode"] == 200
    assert handler(make_event("rest_v1", headers=bearer(auth0)), ctx())["statusCode"] == 200
    assert handler(make_event("rest_v1", headers=bearer(neither)), ctx())["statusCode"] == 403


def test_require_role_default_netlify_path_and_custom_claims(
    make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    netlify = require_auth(verifier)(require_role("admin")(echo))
    admin = issuer.mint(roles=["admin"])
    assert netlify(make_event("http_v2", headers=bearer(admin)), ctx())["statusCode"] == 200
    denied = netlify(make_event("http_v2", headers=bearer(issuer.mint(roles=["user"]))), ctx())
    assert denied["statusCode"] == 403
    assert body(denied)["error"] == "forbidden"
    assert "WWW-Authenticate" not in denied["headers"]

    auth0 = require_auth(verifier)(require_role("editor", claim="https://example.com/roles")(echo))
    token = issuer.mint(claims={"https://example.com/roles": ["editor"]})
    assert auth0(make_event("http_v2", headers=bearer(token)), ctx())["statusCode"] == 200

    cognito = require_auth(verifier, roles_claim="cognito:groups")(require_role("ops")(echo))
    token = issuer.mint(claims={"cognito:groups": ["ops"]})
    assert cognito(make_event("http_v2", headers=bearer(token)), ctx())["statusCode"] == 200


def test_require_claims_false_or_raising_check_is_403(make_event: EventFactory, issuer: DevIssuer,
                                                     verifier: Verifier) -> None:
    handler = require_auth(verifier)(
        require_claims(lambda c: c["org"] == "acme", description="Members of acme only")(echo)
    )
    other = handler(make_event("rest_v1", headers=bearer(issuer.mint(claims={"org": "evil"}))), ctx())
    assert other["statusCode"] == 403
    assert body(other)["error_description"] == "Members of acme only"
    missing = handler(make_event("rest_v1", headers=bearer(issuer.mint())), ctx())
    assert missing["statusCode"] == 403
    ok = handler(make_event("rest_v1", headers=bearer(issuer.mint(claims={"org": "acme"}))), ctx())
    assert ok["statusCode"] == 200


def test_shortcut_scopes_and_roles_on_require_auth(make_event: EventFactory, issuer: DevIssuer,
                                                  verifier: Verifier) -> None:
    handler = require_auth(verifier, scopes=["read"], roles=["admin"])(echo)
    both = issuer.mint(scopes=["read"], roles=["admin"])
    scope_only = issuer.mint(scopes=["read"])
    assert handler(make_event("http_v2", headers=bearer(both)), ctx())["statusCode"] == 200
    assert handler(make_event("http_v2", headers=bearer(scope_only)), ctx())["statusCode"] == 403


def test_decorators_keep_name_doc_and_compose_in_any_authz_order(verifier: Verifier) -> None:
    handler = require_auth(verifier)(require_role("a")(require_scope("s")(echo)))
    assert handler.__name__ == "echo"
    assert handler.__doc__ == "Return what the handler saw."
    assert handler.__wrapped__.__wrapped__.__wrapped__ is echo  # type: ignore[attr-defined]


def test_authz_decorator_above_require_auth_is_a_configuration_error(verifier: Verifier) -> None:
    with pytest.raises(ConfigurationError):
        require_scope("s")(require_auth(verifier)(echo))


def test_authz_decorator_alone_answers_401_or_authenticates_with_verifier(
    make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    token = issuer.mint(scopes=["s"])
    alone = require_scope("s")(echo)
    assert alone(make_event("rest_v1", headers=bearer(token)), ctx())["statusCode"] == 401
    own = require_scope("s", verifier=verifier)(echo)
    assert own(make_event("rest_v1", headers=bearer(token)), ctx())["statusCode"] == 200
    assert own(make_event("rest_v1", headers=bearer(issuer.mint())), ctx())["statusCode"] == 403


def test_context_none_or_plain_object_never_crashes(make_event: EventFactory, issuer: DevIssuer,
                                                   verifier: Verifier) -> None:
    @require_auth(verifier)
    @require_scope("s")
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        identity = current_identity()
        assert identity is not None
        return {"statusCode": 200, "sub": identity.subject}

    event = make_event("http_v2", headers=bearer(issuer.mint(sub="bob", scopes=["s"])))
    assert handler(event, None)["sub"] == "bob"
    assert handler(event, object())["sub"] == "bob"
    assert current_identity() is None


def test_non_mapping_event_is_401_not_500(verifier: Verifier) -> None:
    handler = require_auth(verifier)(echo)
    assert handler([1, 2], ctx())["statusCode"] == 401  # type: ignore[arg-type]


def test_reused_context_shows_no_earlier_identity(make_event: EventFactory, issuer: DevIssuer,
                                                 verifier: Verifier) -> None:
    seen: list[Any] = []

    @require_auth(verifier, allow_preflight="handler")
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context.identity_context)
        return {"statusCode": 204}

    context = ctx()
    handler(make_event("http_v2", headers=bearer(issuer.mint(sub="first"))), context)
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    handler(make_event("http_v2", method="OPTIONS", headers=pre), context)
    assert seen[0].subject == "first"
    assert seen[1] is None


def test_preflight_passes_without_token_unless_disabled(kind: str, make_event: EventFactory,
                                                       verifier: Verifier) -> None:
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}

    ran: list[Any] = []

    def cors(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        ran.append(context.identity_context)
        return {"statusCode": 200, "body": "protected"}

    cors_headers = {"Access-Control-Allow-Origin": "https://app.example"}
    answered = require_auth(verifier, error_headers=cors_headers)(require_scope("s")(cors))(
        make_event(kind, method="OPTIONS", headers=pre), ctx())
    # Answered by the decorator (204, CORS headers, empty body): protected code never runs.
    assert answered["statusCode"] == 204
    assert answered["body"] == ""
    headers = answered.get("headers") or {k: v[0] for k, v in answered["multiValueHeaders"].items()}
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert ran == []
    opted_in = require_auth(verifier, allow_preflight="handler")(cors)
    assert opted_in(make_event(kind, method="OPTIONS", headers=pre), ctx())["statusCode"] == 200
    assert ran == [None]
    strict = require_auth(verifier, allow_preflight=False)(cors)
    assert strict(make_event(kind, method="OPTIONS", headers=pre), ctx())["statusCode"] == 401
    plain_options = require_auth(verifier)(cors)(make_event(kind, method="OPTIONS"), ctx())
    assert plain_options["statusCode"] == 401


def test_a_preflight_handed_to_the_handler_passes_the_authorization_decorators_below(
        make_event: EventFactory, verifier: Verifier) -> None:
    # allow_preflight="handler" promises the preflight to the handler. A require_scope / require_role /
    # require_claims below (found no caller and) answered it with a bare 204 instead: no CORS headers, so
    # the browser then refused the real request.
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}
    cors = {"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "DELETE"}
    ran: list[Any] = []

    def preflights(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        ran.append(context.identity_context)
        return {"statusCode": 204, "headers": cors, "body": ""}

    def passes_through(wrapped: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(wrapped)
        def own(event: Mapping[str, Any], context: Any) -> Any:
            return wrapped(event, context)
        return own

    for below in (require_scope("s"), require_role("r"), require_claims(lambda claims: True),
                  require_scope("s", verifier=verifier)):
        for stack in (below(preflights), passes_through(below(preflights))):
            handler = require_auth(verifier, allow_preflight="handler")(stack)
            answered = handler(make_event("http_v2", method="OPTIONS", headers=pre), ctx())
            assert answered == {"statusCode": 204, "headers": cors, "body": ""}
    assert ran == [None] * 8
    # Only a preflight passes: the same stack still refuses an OPTIONS request without a token.
    refused = require_auth(verifier, allow_preflight="handler")(require_scope("s")(preflights))
    assert refused(make_event("http_v2", method="OPTIONS"), ctx())["statusCode"] == 401


def test_cookie_source_is_opt_in(make_event: EventFactory, issuer: DevIssuer, verifier: Verifier) -> None:
    event = make_event("http_v2")
    event["cookies"] = [f"nf_jwt={issuer.mint(sub='cookie-user')}"]
    assert require_auth(verifier)(echo)(event, ctx())["statusCode"] == 401
    assert require_auth(verifier, cookie_name="nf_jwt")(echo)(event, ctx())["sub"] == "cookie-user"


def test_authorizer_claims_are_ignored_unless_trusted(make_event: EventFactory, verifier: Verifier) -> None:
    event = make_event("http_v2")
    claims = {"sub": "gw-user", "scope": "s"}
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": ["s"]}}
    assert require_auth(verifier)(echo)(event, ctx())["statusCode"] == 401
    seen: list[IdentityContext] = []

    @require_auth(trust_authorizer=True)
    @require_scope("s")
    def trusted(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context.identity_context)
        return {"statusCode": 200}

    assert trusted(event, ctx())["statusCode"] == 200
    assert seen[0].subject == "gw-user"
    assert seen[0].token is None
    assert seen[0].source == "authorizer"
    assert trusted(make_event("rest_v1"), ctx())["statusCode"] == 401


def test_netlify_client_context(make_event: EventFactory, issuer: DevIssuer, verifier: Verifier) -> None:
    seen: list[Any] = []

    @require_auth(verifier, netlify_client_context=True)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context.client_context)
        return {"statusCode": 200}

    handler(make_event("function_url", headers=bearer(issuer.mint(sub="nf", roles=["admin"]))), ctx())
    assert seen[0]["user"]["sub"] == "nf"
    assert seen[0]["user"]["app_metadata"]["authorization"]["roles"] == ["admin"]
    assert seen[0]["identity"]["url"] == issuer.issuer


def test_claims_mapper_runs_before_roles_and_handler(make_event: EventFactory, issuer: DevIssuer,
                                                    verifier: Verifier) -> None:
    handler = require_auth(verifier, claims_mapper=strip_namespace("https://example.com/"),
                           roles_claim="roles")(require_role("editor")(echo))
    token = issuer.mint(claims={"https://example.com/roles": ["editor"]})
    assert handler(make_event("rest_v1", headers=bearer(token)), ctx())["roles"] == {"editor"}


def test_on_error_hook_and_error_headers(make_event: EventFactory, verifier: Verifier) -> None:
    def mine(event: Mapping[str, Any], err: AuthError) -> dict[str, Any]:
        return {"statusCode": err.status, "body": json.dumps({"code": err.code})}

    hooked = require_auth(verifier, on_error=mine)(echo)(make_event("rest_v1"), ctx())
    assert hooked == {"statusCode": 401, "body": '{"code": "token_missing"}'}
    cors = require_auth(verifier, error_headers={"Access-Control-Allow-Origin": "https://app.example"})(echo)
    assert cors(make_event("rest_v1"), ctx())["headers"]["Access-Control-Allow-Origin"] == "https://app.example"


@pytest.mark.parametrize("bad", [{"Access-Control-Max-Age": 600}, {"X-A": None},
                                 {"X-A": "a\r\nSet-Cookie: s=1"}, {"Bad Name": "x"}, [("X-A", "b")]])
def test_error_headers_no_gateway_could_send_are_refused_at_decoration(verifier: Verifier,
                                                                       bad: Any) -> None:
    # Else every refusal would be a proxy response API Gateway or the ALB answers with a 502.
    with pytest.raises(ConfigurationError, match="error_headers"):
        require_auth(verifier, error_headers=bad)(echo)


def test_error_headers_may_name_any_header_a_proxy_response_can_carry(
        make_event: EventFactory, verifier: Verifier) -> None:
    # Framing is API Gateway's or the ALB's business: harmless here, and never replacing our own.
    handler = require_auth(verifier, error_headers={"Content-Type": "text/plain", "Vary": "Origin"})(echo)
    headers = handler(make_event("http_v2"), ctx())["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Vary"] == "Origin"


def test_auth_error_raised_by_the_handler_becomes_a_response(make_event: EventFactory, issuer: DevIssuer,
                                                            verifier: Verifier) -> None:
    @require_auth(verifier)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        raise ForbiddenError("Not your show")

    response = handler(make_event("http_v2", headers=bearer(issuer.mint())), ctx())
    assert response["statusCode"] == 403
    assert body(response)["error_description"] == "Not your show"


def test_verifier_from_env_is_built_once_at_decoration(
    make_event: EventFactory, issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets.token_urlsafe(48)
    monkeypatch.setenv("JWT_SECRET", secret)

    @require_auth
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    # Were it built per invocation, this broken configuration would now be used (and raise).
    monkeypatch.setenv("JWT_SECRET", "short")
    monkeypatch.setenv("JWT_ALGORITHMS", "none")
    token = issuer.mint(alg="HS256", secret=secret, audience=None)
    assert handler(make_event("http_v2", headers=bearer(token)), ctx())["statusCode"] == 200
    assert handler.__name__ == "handler"


def test_bad_configuration_fails_at_decoration(monkeypatch: pytest.MonkeyPatch, verifier: Verifier) -> None:
    monkeypatch.setenv("JWT_ISSUER", "not a url")
    with pytest.raises(ConfigurationError):
        require_auth()(echo)
    with pytest.raises(ConfigurationError):
        require_auth(verifier, cookie_name="bad name")(echo)
    with pytest.raises(ConfigurationError):
        require_scope()(echo)
    with pytest.raises(ConfigurationError):
        require_auth(verifier, roles_claim="")(echo)


@pytest.mark.parametrize("mode", ["Handler", "handler ", "yes", None])
def test_an_allow_preflight_mode_that_does_not_exist_fails_at_decoration(verifier: Verifier,
                                                                         mode: Any) -> None:
    # Read as True, a typo of "handler" answered every preflight here and never ran the handler.
    with pytest.raises(ConfigurationError, match="allow_preflight"):
        require_auth(verifier, allow_preflight=mode)(echo)


@pytest.mark.parametrize("realm", [5, b"shows", ["shows"]])
def test_a_realm_that_is_not_text_fails_at_decoration_not_per_refusal(verifier: Verifier, realm: Any) -> None:
    # Every refusal built its WWW-Authenticate from it: a TypeError (a 500) instead of the 401.
    with pytest.raises(ConfigurationError, match="realm"):
        require_auth(verifier, realm=realm)(echo)
    with pytest.raises(ConfigurationError, match="realm"):
        require_scope("read", realm=realm)


@pytest.mark.parametrize("path", [5, None, "", [], ("app_metadata", 5)])
def test_a_roles_path_that_names_no_claim_fails_at_decoration_not_per_request(
        verifier: Verifier, path: Any) -> None:
    # A number was a TypeError (a 500) on every request require_role saw, an empty path a silent 403.
    with pytest.raises(ConfigurationError, match="roles_claim"):
        require_auth(verifier, roles_claim=path)(echo)
    if path is not None:  # claim=None is require_role's default: require_auth's roles_claim
        with pytest.raises(ConfigurationError, match="claim"):
            require_role("admin", claim=path)



@pytest.mark.parametrize("setting", ["on_error", "claims_mapper"])
def test_a_hook_that_is_not_callable_fails_at_decoration_not_per_request(
        verifier: Verifier, setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        require_auth(verifier, **{setting: "not callable"})(echo)


def test_logger_gets_subject_and_client_id_per_request_never_the_token(
    make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    stream = io.StringIO()
    logger = Logger(service=f"shows-{secrets.token_hex(4)}", logger_handler=_stream_handler(stream))

    @require_auth(verifier, logger=logger)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        logger.info("inside")
        return {"statusCode": 200}

    token = issuer.mint(sub="alice", claims={"client_id": "cli-app"})
    handler(make_event("http_v2", headers=bearer(token)), ctx())
    logger.info("after")
    inside, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["subject"] == "alice"
    assert inside["client_id"] == "cli-app"
    assert "subject" not in after
    assert "client_id" not in after
    assert token not in stream.getvalue()


def test_a_logging_logger_gets_the_rejection_lines_and_accepted_requests_still_run(
        make_event: EventFactory, issuer: DevIssuer, verifier: Verifier,
        caplog: pytest.LogCaptureFixture) -> None:
    # authorizer(logger=...) takes a logging.Logger too: require_auth must not crash on its missing
    # append_keys on every accepted request.
    plain = logging.getLogger(f"app-{secrets.token_hex(4)}")

    @require_auth(verifier, logger=plain)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    with caplog.at_level(logging.INFO, logger=plain.name):
        assert handler(make_event("http_v2", headers=bearer(issuer.mint())), ctx())["statusCode"] == 200
        assert handler(make_event("http_v2"), ctx())["statusCode"] == 401
    (line,) = [r for r in caplog.records if r.name == plain.name]
    assert "code=token_missing" in line.getMessage()
    with pytest.raises(ConfigurationError, match="logger"):
        require_auth(verifier, logger=object())


def test_a_coroutine_handler_is_refused_when_decorated(verifier: Verifier) -> None:
    # Lambda calls a synchronous handler; around a coroutine the checks would end before it runs.
    async def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    with pytest.raises(ConfigurationError, match="coroutine"):
        require_auth(verifier)(handler)
    with pytest.raises(ConfigurationError, match="coroutine"):
        require_auth(verifier)(require_scope("read:shows")(handler))
    with pytest.raises(ConfigurationError, match="coroutine"):
        require_scope("read:shows", verifier=verifier)(handler)

    # What the message recommends: a synchronous handler running the coroutine (functools.wraps
    # copies __wrapped__, which must not make it look like the coroutine).
    @functools.wraps(handler)
    def runs_it(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        import asyncio

        return asyncio.run(handler(event, context))

    require_auth(verifier)(runs_it)


def test_a_handler_object_with_a_coroutine_call_is_refused_when_decorated(verifier: Verifier) -> None:
    # Accepted, it returned its coroutine unawaited: the identity was gone from current_identity() by the
    # time the coroutine ran, and an AuthError raised in it never became a response.
    class Handler:
        async def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
            return {"statusCode": 200}

    with pytest.raises(ConfigurationError, match="coroutine"):
        require_auth(verifier)(Handler())
    with pytest.raises(ConfigurationError, match="coroutine"):
        require_scope("read:shows", verifier=verifier)(Handler())


def _stream_handler(stream: io.StringIO) -> Any:
    import logging

    return logging.StreamHandler(stream)



def test_decorators_import_neither_powertools_nor_the_verifier_until_needed() -> None:
    import subprocess
    import sys

    code = (
        "import sys, serverless_jwt.adapters.decorators\n"
        "heavy = ('aws_lambda_powertools', 'serverless_jwt.verifier', 'boto3')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# API Gateway's built-in JWT authorizer (HTTP APIs), as AWS documents the payload 2.0 event
# ("Working with AWS Lambda proxy integrations for HTTP APIs": requestContext.authorizer.jwt.claims /
# .scopes) and as it flattens a Cognito access token: every claim a string, arrays as "[a b]".
COGNITO_VIA_JWT_AUTHORIZER = {
    "auth_time": "1700000000", "client_id": "1example23456789", "cognito:groups": "[admin users]",
    "exp": "1700003600", "iat": "1700000000", "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
    "jti": "a1b2", "scope": "read:shows openid", "sub": "aaaa-bbbb", "token_use": "access", "username": "ann",
}


def _jwt_authorized(make_event: EventFactory, claims: dict[str, Any], scopes: Any,
                    payload: str = "2.0") -> dict[str, Any]:
    if payload == "2.0":
        event = make_event("http_v2")
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
        return event
    # Payload 1.0: a REST-shaped event with "version": "1.0", the same claims and scopes at the top
    # of requestContext.authorizer (no "jwt" level).
    event = make_event("rest_v1")
    event["version"] = "1.0"
    event["requestContext"]["authorizer"] = {"claims": claims, "scopes": scopes}
    return event


@pytest.mark.parametrize("payload", ["2.0", "1.0"])
def test_trusted_jwt_authorizer_claims_are_read_as_api_gateway_shapes_them(
        make_event: EventFactory, payload: str) -> None:
    authorized = functools.partial(_jwt_authorized, make_event, payload=payload)
    seen: list[IdentityContext] = []

    @require_auth(trust_authorizer=True, roles_claim="cognito:groups")
    @require_role("admin")
    @require_scope("read:shows")
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context.identity_context)
        return {"statusCode": 200}

    event = authorized(dict(COGNITO_VIA_JWT_AUTHORIZER), None)
    assert handler(event, ctx())["statusCode"] == 200
    assert set(seen[0].roles) == {"admin", "users"}
    assert seen[0].claims["cognito:groups"] == ["admin", "users"]
    staff = authorized({**COGNITO_VIA_JWT_AUTHORIZER, "cognito:groups": "[staff]"}, None)
    assert handler(staff, ctx())["statusCode"] == 403
    # Okta-style scp array, flattened; and a token without scope whose scopes come from jwt.scopes.
    okta = {k: v for k, v in COGNITO_VIA_JWT_AUTHORIZER.items() if k != "scope"}
    scp = authorized({**okta, "scp": "[read:shows]"}, None)
    assert handler(scp, ctx())["statusCode"] == 200
    assert handler(authorized(okta, ["read:shows"]), ctx())["statusCode"] == 200
    assert handler(authorized(okta, None), ctx())["statusCode"] == 403
    empty = {**COGNITO_VIA_JWT_AUTHORIZER, "cognito:groups": "[]"}
    assert handler(authorized(empty, None), ctx())["statusCode"] == 403


def test_the_javascript_two_argument_require_scope_form_wraps_the_handler(
        make_event: EventFactory, issuer: DevIssuer, verifier: Verifier) -> None:
    handler = require_auth(verifier)(require_scope("read:shows", echo))
    granted = make_event("http_v2", headers=bearer(issuer.mint(sub="js", scopes=["read:shows"])))
    assert handler(granted, ctx())["sub"] == "js"
    denied = make_event("http_v2", headers=bearer(issuer.mint(scopes=["write:shows"])))
    assert handler(denied, ctx())["statusCode"] == 403
    alone = require_scope("read:shows", echo, verifier=verifier)  # with verifier= it also works alone
    assert alone(granted, ctx())["sub"] == "js"
    with pytest.raises(ConfigurationError):
        require_scope(echo)  # a handler but no scope


@pytest.mark.parametrize(("make_token", "code", "check"), [
    (lambda i: i.mint(audience="MARKER-aud"), "claims_invalid", "aud:check_failed"),
    (lambda i: i.mint(now=0, lifetime_seconds=60, sub="MARKER-sub"), "token_expired", "exp"),
    (lambda i: i.mint(sub="MARKER-sub")[:-4] + "AAAA", "signature_invalid", "signature"),
    (lambda i: i.mint(sub="MARKER-sub", scopes=["write"]), "scope_insufficient", "scope"),
    (lambda i: None, "token_missing", "token_present"),
])
def test_one_structured_log_line_per_rejection_through_the_powertools_logger(
        make_event: EventFactory, issuer: DevIssuer, verifier: Verifier, make_token: Any, code: str,
        check: str) -> None:
    stream = io.StringIO()
    # A service name of its own: Powertools keeps the first handler of a logger name it has set up.
    logger = Logger(service=f"shows-{secrets.token_hex(4)}", logger_handler=_stream_handler(stream))
    handler = require_auth(verifier, logger=logger)(require_scope("read:shows")(echo))
    token = make_token(issuer)
    event = make_event("http_v2", headers=bearer(token) if token else None)
    assert handler(event, ctx())["statusCode"] in (401, 403)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1
    assert (lines[0]["auth_code"], lines[0]["auth_check"], lines[0]["auth_issuer"]) == (
        code, check, issuer.issuer)
    assert lines[0]["auth_status"] in (401, 403)
    assert "MARKER" not in stream.getvalue()
    assert not token or token.split(".")[1] not in stream.getvalue()


def http(token: str | None = None, method: str = "GET", **headers: str) -> dict[str, Any]:
    hdrs = dict(headers)
    if token is not None:
        hdrs["authorization"] = f"Bearer {token}"
    return {"version": "2.0", "headers": hdrs, "requestContext": {"http": {"method": method}}}


PREFLIGHT = http(None, "OPTIONS", origin="https://app", **{"access-control-request-method": "GET"})


def isolated(run: Callable[[], Any]) -> Any:
    # A leaked current_identity() must not reach the other tests of this session.
    return contextvars.copy_context().run(run)


def ok(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "protected"}


def _user_decorator(calls: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # copies the wrapped require_* wrapper's __dict__
        def inner(*args: Any, **kwargs: Any) -> Any:
            calls.append("user")
            return fn(*args, **kwargs)

        return inner

    return decorate


def _raising_check(claims: Mapping[str, Any]) -> bool:
    return bool(claims["org"] == "acme")  # KeyError for tokens without org: a 403, never a 500


LAYERS = ("scope", "role", "claims", "user")


def _odd_events(token: str) -> list[tuple[dict[str, Any], int]]:
    bearer = f"Bearer {token}"
    return [
        ({"headers": None}, 401),
        ({"headers": "authorization"}, 401),
        ({"headers": [["authorization", bearer]]}, 401),
        ({"headers": {"authorization": None}}, 401),
        ({"headers": {b"authorization": bearer}}, 401),
        ({"headers": {b"authorization": "Basic x", "authorization": bearer}}, 200),
        ({"headers": {13: "x", None: "y", ("a",): "z", "authorization": bearer}}, 200),
        ({"headers": {**{f"x-h-{i}": "v" for i in range(5000)}, "Authorization": bearer}}, 200),
        ({"headers": {"authorization": bearer, "AUTHORIZATION": bearer}}, 400),
        ({"headers": {"Authorization": bearer, "authorizatioN": "Basic x"}}, 400),
        ({"headers": {"authorization": f"{bearer},{bearer}"}}, 400),
        ({"headers": {"authorization": f"Bearer\t{token}"}}, 200),
        ({"headers": {"authorization": f"Bearer   {token}  "}}, 200),
        ({"headers": {"authorization": f"BEARER {token}"}}, 200),
        ({"headers": {"authorization": f"bearer {token}"}}, 200),
        ({"headers": {"authorization": "Bearer "}}, 400),
        ({"headers": {"authorization": "Bearer"}}, 400),
        ({"headers": {"authorization": "Bearer abc=="}}, 401),  # token68 with padding: read, then refused
        ({"headers": {"authorization": "Bearer a=b"}}, 400),
        ({"headers": {"authorization": f"Bearer {token}\u00e9"}}, 400),
        # RFC 7235: only spaces (a tab tolerated) separate the scheme from the token, not NO-BREAK SPACE.
        ({"headers": {"authorization": f"Bearer\u00a0{token}"}}, 400),
        ({"multiValueHeaders": {"Authorization": [bearer]}, "headers": {"Authorization": "Basic x"}}, 200),
        ({"multiValueHeaders": {"Authorization": ["Basic x"]}, "headers": {"Authorization": bearer}}, 401),
        ({"multiValueHeaders": {"Authorization": [bearer, bearer]}}, 400),
        ({"multiValueHeaders": {"Authorization": [bearer], "authorization": [bearer]}}, 400),
        ({"multiValueHeaders": {"Authorization": [None]}, "headers": {"authorization": bearer}}, 200),
        ({"multiValueHeaders": {"Authorization": bearer}}, 401),
        ({"multiValueHeaders": "x", "headers": {"authorization": bearer}}, 200),
    ]


@dataclasses.dataclass
class DataclassHandler:
    """A handler object holding its settings: eq=True makes it unhashable."""

    greeting: str = "hello"

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": self.greeting}


class SlottedHandler:
    """A slotted callable: no __weakref__."""

    __slots__ = ()

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "hello"}


class StrictContext:
    """A context object like a pydantic model: unknown attributes raise ValueError."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise ValueError(f"no field {name}")


@pytest.mark.parametrize("refused_by", ["stacked_require_scope", "the_handler"])
def test_a_reused_context_is_cleared_when_a_check_below_or_the_handler_refuses(
        issuer: DevIssuer, verifier: Verifier, refused_by: str) -> None:
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if refused_by == "the_handler":
            raise ForbiddenError("not this one")
        return {"statusCode": 200}

    inner = require_scope("write")(handler) if refused_by == "stacked_require_scope" else handler
    protected = require_auth(verifier, netlify_client_context=True)(inner)
    context = types.SimpleNamespace()
    assert protected(http(issuer.mint(sub="bob", scopes=["read"])), context)["statusCode"] == 403
    assert context.identity_context is None
    assert context.client_context is None
    assert current_identity() is None


@pytest.mark.parametrize("second", ["no_token", "basic", "two_headers", "bad_token", "missing_scope",
                                    "preflight", "preflight_handler"])
def test_a_reused_context_is_cleared_after_any_failure_or_preflight(issuer: DevIssuer, verifier: Verifier,
                                                                    second: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append((context.identity_context, context.client_context, current_identity()))
        return {"statusCode": 200}

    mode: Any = "handler" if second == "preflight_handler" else True
    protected = require_auth(verifier, allow_preflight=mode, netlify_client_context=True,
                             scopes=["read"])(handler)
    context = types.SimpleNamespace()
    assert protected(http(issuer.mint(sub="alice", scopes=["read"])), context)["statusCode"] == 200
    assert context.identity_context.subject == "alice"
    assert context.client_context["user"]["sub"] == "alice"
    event = {
        "no_token": http(),
        "basic": http(None, Authorization="Basic dXNlcjpwYXNz"),
        "two_headers": {**http(issuer.mint()), "headers": {"authorization": f"Bearer {issuer.mint()}",
                                                           "Authorization": f"Bearer {issuer.mint()}"}},
        "bad_token": http("a.b.c"),
        "missing_scope": http(issuer.mint(sub="bob")),
        "preflight": PREFLIGHT,
        "preflight_handler": PREFLIGHT,
    }[second]
    status = protected(event, context)["statusCode"]
    assert status == {"no_token": 401, "basic": 401, "two_headers": 400, "bad_token": 401,
                      "missing_scope": 403, "preflight": 204, "preflight_handler": 200}[second]
    assert context.identity_context is None
    assert context.client_context is None
    assert current_identity() is None
    if second == "preflight_handler":
        assert seen[-1] == (None, None, None)
    else:
        assert len(seen) == 1


def test_each_request_on_a_reused_context_sees_its_own_caller(issuer: DevIssuer, verifier: Verifier) -> None:
    seen: list[tuple[Any, Any]] = []

    @require_auth(verifier)
    @require_scope("read")
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        identity = current_identity()
        assert identity is not None
        seen.append((context.identity_context.subject, identity.subject))
        return {"statusCode": 200}

    context = types.SimpleNamespace()
    for name in ("alice", "bob", "carol"):
        assert handler(http(issuer.mint(sub=name, scopes=["read"])), context)["statusCode"] == 200
    assert seen == [("alice", "alice"), ("bob", "bob"), ("carol", "carol")]


@pytest.mark.parametrize("order", list(itertools.permutations(LAYERS)))
def test_every_stacking_order_enforces_every_check(issuer: DevIssuer, verifier: Verifier,
                                                   order: tuple[str, ...]) -> None:
    calls: list[str] = []
    handler: Callable[..., Any] = ok
    for layer in reversed(order):
        if layer == "scope":
            handler = require_scope("write", "read", any_of=True)(handler)
        elif layer == "role":
            handler = require_role("admins", claim="cognito:groups")(handler)
        elif layer == "claims":
            handler = require_claims(_raising_check)(handler)
        else:
            handler = _user_decorator(calls)(handler)
    protected = require_auth(verifier)(handler)

    def token(**drop: bool) -> str:
        claims: dict[str, Any] = {"org": None if drop.get("org") else "acme",
                                  "cognito:groups": None if drop.get("role") else ["admins"]}
        return issuer.mint(sub="alice", scopes=[] if drop.get("scope") else ["read"], claims=claims)

    assert protected(http(token()), None)["statusCode"] == 200
    no_scope = protected(http(token(scope=True)), None)
    assert no_scope["statusCode"] == 403
    assert 'scope="write read"' in no_scope["headers"]["WWW-Authenticate"]
    assert protected(http(token(role=True)), None)["statusCode"] == 403
    assert protected(http(token(org=True)), None)["statusCode"] == 403
    assert protected(http(None), None)["statusCode"] == 401
    assert calls.count("user") >= 1
    assert current_identity() is None


def test_trust_authorizer_claims_still_go_through_the_stacked_checks(verifier: Verifier) -> None:
    protected = require_auth(verifier, trust_authorizer=True)(require_scope("read")(ok))
    granted = {**http(), "requestContext": {"http": {"method": "GET"},
                                            "authorizer": {"jwt": {"claims": {"sub": "a", "scope": "read"}}}}}
    refused = {**http(), "requestContext": {"http": {"method": "GET"},
                                            "authorizer": {"jwt": {"claims": {"sub": "a", "scope": "x"}}}}}
    assert protected(granted, None)["statusCode"] == 200
    assert protected(refused, None)["statusCode"] == 403


def test_odd_events_answer_with_the_earlier_statuses(issuer: DevIssuer, verifier: Verifier) -> None:
    protected = require_auth(verifier, allow_preflight=False)(ok)
    for event, status in _odd_events(issuer.mint()):
        full = {"httpMethod": "GET", **event}
        assert protected(full, types.SimpleNamespace())["statusCode"] == status, event


@pytest.mark.parametrize("make", [DataclassHandler, SlottedHandler])
def test_callable_handler_objects_can_be_protected(issuer: DevIssuer, verifier: Verifier,
                                                   make: Callable[[], Any]) -> None:
    protected = require_auth(verifier)(make())
    assert protected(http(issuer.mint()), None)["statusCode"] == 200
    stacked = require_auth(verifier)(require_scope("read")(make()))
    assert stacked(http(issuer.mint(scopes=["read"])), None)["statusCode"] == 200


def test_a_context_that_refuses_attributes_does_not_leak_the_caller(issuer: DevIssuer,
                                                                    verifier: Verifier) -> None:
    reached: list[Any] = []

    def protected_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        reached.append(current_identity())
        return {"statusCode": 200, "body": "protected"}

    def run() -> tuple[Any, int]:
        first = require_auth(verifier)(ok)
        # The context may refuse the attribute (8934e8c crashed here): the request is still answered.
        assert first(http(issuer.mint(sub="alice", scopes=["admin"])), StrictContext())["statusCode"] == 200
        leaked = current_identity()
        # Another invocation in the same container: a preflight the handler answers itself.
        other = require_auth(verifier, allow_preflight="handler")(require_scope("admin")(protected_handler))
        return leaked, other(PREFLIGHT, types.SimpleNamespace())["statusCode"]

    leaked, status = isolated(run)
    assert leaked is None
    # The preflight reaches the handler (allow_preflight="handler"), with nobody as the caller: alice's
    # identity left over would have passed require_scope and shown up here.
    assert status == 200
    assert reached == [None]


def test_a_mapper_returning_no_mapping_does_not_leak_the_caller(issuer: DevIssuer,
                                                                verifier: Verifier) -> None:
    def run() -> Any:
        broken = require_auth(verifier, claims_mapper=lambda claims: None,  # type: ignore[arg-type,return-value]
                              netlify_client_context=True)(ok)
        with pytest.raises(Exception):  # noqa: B017,PT011 - 8934e8c: AttributeError, now TypeError
            broken(http(issuer.mint(sub="alice")), types.SimpleNamespace())
        return current_identity()

    assert isolated(run) is None


def test_a_mapper_returning_no_mapping_never_reaches_the_handler(issuer: DevIssuer,
                                                                 verifier: Verifier) -> None:
    reached: list[str] = []

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        reached.append("handler")
        return {"statusCode": 200}

    broken = require_auth(verifier, claims_mapper=lambda claims: None)(handler)  # type: ignore[arg-type,return-value]
    with pytest.raises(Exception):  # noqa: B017,PT011
        broken(http(issuer.mint()), None)
    assert reached == []


def test_editing_claims_before_the_scope_check_grants_nothing(issuer: DevIssuer,
                                                              verifier: Verifier) -> None:
    def tenant_defaults(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(event: Mapping[str, Any], context: Any) -> Any:
            context.identity_context.claims["scope"] += " admin"  # app code merging defaults
            return fn(event, context)

        return inner

    protected = require_auth(verifier)(tenant_defaults(require_scope("admin")(ok)))
    # 8934e8c: the token's own scopes were fixed when the identity was made, so this was a 403.
    assert protected(http(issuer.mint(scopes=["read"])), types.SimpleNamespace())["statusCode"] == 403


def test_identity_scopes_agree_with_the_check_that_passed(issuer: DevIssuer, verifier: Verifier) -> None:
    seen: list[frozenset[str]] = []

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        identity = context.identity_context
        identity.claims["scope"] = "admin"  # a handler rewriting its copy of the claims
        seen.append(identity.scopes)
        return {"statusCode": 200}

    protected = require_auth(verifier)(require_scope("read")(handler))
    assert protected(http(issuer.mint(scopes=["read"])), types.SimpleNamespace())["statusCode"] == 200
    assert seen == [frozenset({"read"})]


def test_require_role_with_a_handler_argument_says_what_to_write() -> None:
    with pytest.raises(ConfigurationError, match=r'@require_role\("name"\) above the handler'):
        require_role("admin", echo)  # type: ignore[arg-type]
def test_optional_auth_runs_the_handler_anonymously_but_refuses_bad_tokens(
    kind: str, make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    @require_auth(verifier, optional=True)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        identity = context.identity_context
        assert current_identity() is identity
        return {"statusCode": 200, "sub": identity.subject if identity is not None else None}

    context = ctx()
    assert handler(make_event(kind), context) == {"statusCode": 200, "sub": None}
    assert handler(make_event(kind, headers={"Authorization": "Basic eA=="}), context)["sub"] is None
    # API Gateway's AWS_IAM forwards the caller's SigV4 header: another scheme, comma-separated params.
    sigv4 = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/execute-api/aws4_request, Signature=5d67"
    assert handler(make_event(kind, headers={"Authorization": sigv4}), context)["sub"] is None
    assert handler(make_event(kind, headers=bearer(issuer.mint(sub="alice"))), context)["sub"] == "alice"
    expired = issuer.mint(now=0, lifetime_seconds=60)
    assert handler(make_event(kind, headers=bearer(expired)), context)["statusCode"] == 401
    assert context.identity_context is None  # cleared: a reused context never shows the earlier caller
    assert handler(make_event(kind, headers={"Authorization": "Bearer a b"}), context)["statusCode"] == 400


def test_an_anonymous_callers_handler_runs_outside_the_missing_token_error(
    make_event: EventFactory, verifier: Verifier
) -> None:
    # Run inside the except clause that caught the MissingTokenError, the handler saw it in
    # sys.exc_info() and every exception it raised was logged "during handling of" it.
    seen: list[Any] = []

    @require_auth(verifier, optional=True)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append(sys.exc_info()[1])
        raise LookupError("the handler's own bug")

    with pytest.raises(LookupError) as raised:
        handler(make_event("http_v2"), ctx())
    assert seen == [None]
    assert raised.value.__context__ is None


def test_optional_auth_with_a_scope_below_still_demands_a_token(
    make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    @require_auth(verifier, optional=True)
    @require_scope("read:shows")
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    assert handler(make_event("http_v2"), ctx())["statusCode"] == 401
    token = issuer.mint(scopes=["read:shows"])
    assert handler(make_event("http_v2", headers=bearer(token)), ctx())["statusCode"] == 200
    with pytest.raises(ConfigurationError):
        require_auth(verifier, optional=True, scopes=["read:shows"])


def test_identity_of_reads_the_caller_and_refuses_anonymous_ones(
    make_event: EventFactory, issuer: DevIssuer, verifier: Verifier
) -> None:
    from serverless_jwt import identity_of

    @require_auth(verifier, optional=True)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "sub": identity_of(context).subject}

    assert handler(make_event("http_v2", headers=bearer(issuer.mint(sub="bob"))), ctx())["sub"] == "bob"
    # No identity: identity_of raises MissingTokenError, which require_auth answers 401.
    assert handler(make_event("http_v2"), ctx())["statusCode"] == 401
    assert handler(make_event("http_v2", headers=bearer(issuer.mint(sub="eve"))), None)["sub"] == "eve"
