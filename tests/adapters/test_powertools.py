"""JwtAuthMiddleware with real Powertools resolvers, real Verifier, real tokens (plugin fixtures)."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import (
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    CORSConfig,
    LambdaFunctionUrlResolver,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from serverless_jwt.adapters.decorators import IdentityContext
from serverless_jwt.adapters.powertools import JwtAuthMiddleware
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import AuthError, ForbiddenError
from serverless_jwt.verifier import Verifier

EventFactory = Callable[..., dict[str, Any]]
RESOLVERS: dict[str, Callable[..., ApiGatewayResolver]] = {
    "rest_v1": APIGatewayRestResolver,
    "http_v2": APIGatewayHttpResolver,
    "alb": ALBResolver,
    "function_url": LambdaFunctionUrlResolver,
}


@pytest.fixture
def verifier(jwt_issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience, timeout_seconds=2)


def request(jwt_lambda_event: EventFactory, kind: str, path: str, *, method: str = "GET",
            token: str | None = None, headers: dict[str, str] | None = None,
            multi: bool = False) -> dict[str, Any]:
    return jwt_lambda_event(kind, method=method, path=path, token=token, headers=headers,
                        multi_value_headers=multi and kind == "alb")


def header(response: dict[str, Any], name: str) -> str | None:
    if "multiValueHeaders" in response and name in response["multiValueHeaders"]:
        value: str = response["multiValueHeaders"][name][0]
        return value
    found: str | None = response.get("headers", {}).get(name)
    return found


def app_with_me(kind: str, middleware: JwtAuthMiddleware, **kwargs: Any) -> ApiGatewayResolver:
    app = RESOLVERS[kind](**kwargs)

    @app.get("/me", middlewares=[middleware])
    def me() -> dict[str, Any]:
        identity: IdentityContext = app.context["identity"]
        return {"sub": identity.subject, "scopes": sorted(identity.scopes)}

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"identity": "identity" in app.context}

    return app


def test_route_middleware_admits_a_valid_token_on_every_resolver(
    kind: str, jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = app_with_me(kind, JwtAuthMiddleware(verifier))
    token = jwt_issuer.mint(sub="alice", scopes=["read"])
    response = app.resolve(request(jwt_lambda_event, kind, "/me", token=token), {})
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"sub": "alice", "scopes": ["read"]}


def test_missing_token_is_401_with_challenge_on_every_resolver(
    kind: str, jwt_lambda_event: EventFactory, verifier: Verifier
) -> None:
    app = app_with_me(kind, JwtAuthMiddleware(verifier, realm="shows"))
    response = app.resolve(request(jwt_lambda_event, kind, "/me"), {})
    assert response["statusCode"] == 401
    assert header(response, "WWW-Authenticate") == 'Bearer realm="shows"'
    assert header(response, "Content-Type") == "application/json"
    assert json.loads(response["body"])["error"] == "token_missing"


def test_public_route_beside_a_protected_one_stays_public(
    jwt_lambda_event: EventFactory, verifier: Verifier
) -> None:
    app = app_with_me("http_v2", JwtAuthMiddleware(verifier))
    response = app.resolve(request(jwt_lambda_event, "http_v2", "/public"), {})
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"identity": False}


def test_missing_scope_on_a_route_is_403_insufficient_scope(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = app_with_me("rest_v1", JwtAuthMiddleware(verifier, scopes=["delete:shows"]))
    token = jwt_issuer.mint(scopes=["read"])
    response = app.resolve(request(jwt_lambda_event, "rest_v1", "/me", token=token), {})
    assert response["statusCode"] == 403
    assert 'scope="delete:shows"' in (header(response, "WWW-Authenticate") or "")


def test_role_on_a_route(jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier) -> None:
    app = app_with_me("function_url", JwtAuthMiddleware(verifier, roles=["admin"]))
    admin = request(jwt_lambda_event, "function_url", "/me", token=jwt_issuer.mint(roles=["admin"]))
    user = request(jwt_lambda_event, "function_url", "/me", token=jwt_issuer.mint(roles=["user"]))
    assert app.resolve(admin, {})["statusCode"] == 200
    assert app.resolve(user, {})["statusCode"] == 403


def test_global_middleware_with_public_paths_and_cors_preflight(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="https://app.example"))
    app.use([JwtAuthMiddleware(verifier, public_paths=["/health"])])

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True}

    @app.delete("/shows/<show_id>")
    def delete(show_id: str) -> dict[str, Any]:
        return {"deleted": show_id, "by": app.context["identity"].subject}

    assert app.resolve(request(jwt_lambda_event, "rest_v1", "/health"), {})["statusCode"] == 200
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}
    ask = request(jwt_lambda_event, "rest_v1", "/shows/1", method="OPTIONS", headers=pre)
    preflight = app.resolve(ask, {})
    assert preflight["statusCode"] == 204
    denied = app.resolve(request(jwt_lambda_event, "rest_v1", "/shows/1", method="DELETE",
                                 headers={"Origin": "https://app.example"}), {})
    assert denied["statusCode"] == 401
    # The resolver's CORS headers reach the error too, so the browser can read the 401.
    assert header(denied, "Access-Control-Allow-Origin") == "https://app.example"
    ok = app.resolve(request(jwt_lambda_event, "rest_v1", "/shows/7", method="DELETE",
                             token=jwt_issuer.mint(sub="eve")), {})
    assert json.loads(ok["body"]) == {"deleted": "7", "by": "eve"}


def test_identity_never_leaks_into_the_next_request(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = APIGatewayHttpResolver()
    auth = JwtAuthMiddleware(verifier)

    @app.get("/boom", middlewares=[auth])
    def boom() -> dict[str, Any]:
        raise RuntimeError("route failure")

    @app.get("/me", middlewares=[auth])
    def me() -> dict[str, Any]:
        return {"sub": app.context["identity"].subject}

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"identity": app.context.get("identity") is not None}

    with pytest.raises(RuntimeError):
        app.resolve(request(jwt_lambda_event, "http_v2", "/boom", token=jwt_issuer.mint(sub="first")), {})
    assert "identity" not in app.context
    second = request(jwt_lambda_event, "http_v2", "/me", token=jwt_issuer.mint(sub="second"))
    assert json.loads(app.resolve(second, {})["body"]) == {"sub": "second"}
    assert json.loads(app.resolve(request(jwt_lambda_event, "http_v2", "/public"), {})["body"]) == {
        "identity": False
    }
    assert app.resolve(request(jwt_lambda_event, "http_v2", "/me"), {})["statusCode"] == 401


def test_the_identity_is_written_into_the_shared_context_without_append_context_per_request(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    # append_context(**{key: identity}) built two dicts per request (3.4k instructions of a 690k
    # request): the middleware writes app.context itself. A router's route reads the same dict.
    from aws_lambda_powertools.event_handler.api_gateway import Router

    calls: list[str] = []

    class Counting(APIGatewayHttpResolver):
        def append_context(self, **additional_context: Any) -> None:
            calls.extend(name for name in additional_context if name == "caller")
            super().append_context(**additional_context)

    app, router = Counting(), Router()

    @router.get("/me")
    def me() -> dict[str, Any]:
        return {"sub": router.context["caller"].subject, "same": router.context is app.context}

    app.include_router(router)
    app.use([JwtAuthMiddleware(verifier, context_key="caller")])
    for sub in ("first", "second"):
        event = request(jwt_lambda_event, "http_v2", "/me", token=jwt_issuer.mint(sub=sub))
        response = app.resolve(event, {})
        assert json.loads(response["body"]) == {"sub": sub, "same": True}
        assert "caller" not in app.context
    assert calls == []


def test_auth_error_raised_in_the_route_becomes_the_response(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = ALBResolver()

    @app.get("/mine", middlewares=[JwtAuthMiddleware(verifier)])
    def mine() -> dict[str, Any]:
        raise ForbiddenError("Not your show")

    response = app.resolve(request(jwt_lambda_event, "alb", "/mine", token=jwt_issuer.mint(), multi=True), {})
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error_description"] == "Not your show"
    assert "multiValueHeaders" in response


def test_duplicate_authorization_keys_are_400_not_silently_merged(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = app_with_me("rest_v1", JwtAuthMiddleware(verifier))
    event = request(jwt_lambda_event, "rest_v1", "/me", token=jwt_issuer.mint(sub="a"))
    event["headers"]["authorization"] = f"Bearer {jwt_issuer.mint(sub='b')}"
    event.pop("multiValueHeaders", None)
    assert app.resolve(event, {})["statusCode"] == 400


@pytest.mark.parametrize(("sent", "status"),
                         [("Bearer  {t}\t", 200), ("Bearer {t}!", 400), ("Bearer {t} x", 400)])
def test_credentials_are_read_by_the_header_rules_on_every_resolver(
    kind: str, jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier, sent: str,
    status: int,
) -> None:
    # The Verifier gets the credentials as sent; when it refuses them the header rules decide (OWS is
    # trimmed, a malformed header is 400 invalid_request), exactly as for any other verifier.
    app = app_with_me(kind, JwtAuthMiddleware(verifier))
    token = jwt_issuer.mint(sub="alice")
    response = app.resolve(request(jwt_lambda_event, kind, "/me",
                                   headers={"Authorization": sent.format(t=token)}), {})
    assert response["statusCode"] == status
    if status == 400:
        assert 'error="invalid_request"' in (header(response, "WWW-Authenticate") or "")


def test_on_error_hook_and_context_key(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    def mine(err: AuthError) -> Response[str]:
        return Response(status_code=err.status, content_type="text/plain", body=err.code)

    app = APIGatewayHttpResolver()

    @app.get("/me", middlewares=[JwtAuthMiddleware(verifier, on_error=mine, context_key="caller")])
    def me() -> dict[str, Any]:
        return {"sub": app.context["caller"].subject}

    denied = app.resolve(request(jwt_lambda_event, "http_v2", "/me"), {})
    assert (denied["statusCode"], denied["body"]) == (401, "token_missing")
    ok = app.resolve(request(jwt_lambda_event, "http_v2", "/me", token=jwt_issuer.mint(sub="zed")), {})
    assert json.loads(ok["body"]) == {"sub": "zed"}


def test_each_rejection_is_one_structured_line_through_the_given_logger(
        jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier) -> None:
    import io
    import logging
    import secrets

    from aws_lambda_powertools import Logger

    stream = io.StringIO()
    logger = Logger(service=f"api-{secrets.token_hex(4)}", logger_handler=logging.StreamHandler(stream))
    app = app_with_me("http_v2", JwtAuthMiddleware(verifier, scopes=["delete:shows"], logger=logger))
    token = jwt_issuer.mint(sub="MARKER-sub", scopes=["read"])
    assert app.resolve(request(jwt_lambda_event, "http_v2", "/me", token=token), {})["statusCode"] == 403
    assert app.resolve(request(jwt_lambda_event, "http_v2", "/me"), {})["statusCode"] == 401
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["auth_code"], line["auth_check"], line["auth_issuer"]) for line in lines] == [
        ("scope_insufficient", "scope", jwt_issuer.issuer),
        ("token_missing", "token_present", jwt_issuer.issuer),
    ]
    assert "MARKER" not in stream.getvalue()
def test_the_powertools_logger_gets_subject_and_client_id_while_the_route_runs_never_the_token(
        jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier) -> None:
    import io
    import logging
    import secrets

    from aws_lambda_powertools import Logger

    stream = io.StringIO()
    logger = Logger(service=f"api-{secrets.token_hex(4)}", logger_handler=logging.StreamHandler(stream))
    app = RESOLVERS["http_v2"]()

    @app.get("/me", middlewares=[JwtAuthMiddleware(verifier, logger=logger)])
    def me() -> dict[str, Any]:
        logger.info("inside")
        return {}

    token = jwt_issuer.mint(sub="alice", claims={"azp": "cli-app"})
    assert app.resolve(request(jwt_lambda_event, "http_v2", "/me", token=token), {})["statusCode"] == 200
    logger.info("after")
    inside, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["subject"], inside["client_id"]) == ("alice", "cli-app")
    assert "subject" not in after
    assert "client_id" not in after
    assert token not in stream.getvalue()


def test_optional_middleware_serves_anonymous_callers_and_refuses_bad_tokens(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = RESOLVERS["http_v2"]()

    @app.get("/greeting", middlewares=[JwtAuthMiddleware(verifier, optional=True)])
    def greeting() -> dict[str, Any]:
        identity = app.context.get("identity")
        return {"hello": identity.subject if identity is not None else "stranger"}

    def call(token: str | None) -> dict[str, Any]:
        return app.resolve(request(jwt_lambda_event, "http_v2", "/greeting", token=token), {})

    assert json.loads(call(None)["body"]) == {"hello": "stranger"}
    assert json.loads(call(jwt_issuer.mint(sub="alice"))["body"]) == {"hello": "alice"}
    assert call(jwt_issuer.mint(now=0, lifetime_seconds=60))["statusCode"] == 401


def test_an_anonymous_callers_route_runs_outside_the_missing_token_error(
    jwt_lambda_event: EventFactory, verifier: Verifier
) -> None:
    # Run inside the except clause that caught the MissingTokenError, the route saw it in sys.exc_info()
    # and every exception it raised reached the app's handlers (and logs) chained to it.
    app = RESOLVERS["http_v2"]()
    seen: list[Any] = []

    @app.exception_handler(LookupError)
    def lookup_failed(exc: LookupError) -> Response[str]:
        seen.append(exc.__context__)
        return Response(status_code=404, content_type="text/plain", body="not found")

    @app.get("/greeting", middlewares=[JwtAuthMiddleware(verifier, optional=True)])
    def greeting() -> dict[str, Any]:
        seen.append(sys.exc_info()[1])
        raise LookupError("the route's own bug")

    answer = app.resolve(request(jwt_lambda_event, "http_v2", "/greeting"), {})
    assert answer["statusCode"] == 404
    assert seen == [None, None]


def test_a_route_finds_the_caller_with_identity_of_and_current_identity(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    # As under require_auth: identity_of() answered an authenticated caller's route 401 (it found no
    # caller), where app.context["identity"] held one.
    from serverless_jwt import current_identity, identity_of

    app = RESOLVERS["http_v2"]()

    @app.get("/me", middlewares=[JwtAuthMiddleware(verifier)])
    def me() -> dict[str, Any]:
        assert current_identity() is app.context["identity"]
        return {"sub": identity_of(app.lambda_context).subject}

    answer = app.resolve(request(jwt_lambda_event, "http_v2", "/me", token=jwt_issuer.mint(sub="alice")), {})
    assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"sub": "alice"})
    assert current_identity() is None  # only for the request


def test_a_request_shaped_like_a_preflight_never_runs_an_options_route_anonymously(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    app = APIGatewayRestResolver()
    app.use([JwtAuthMiddleware(verifier)])

    @app.route("/data", method=["GET", "OPTIONS"])
    def data() -> dict[str, Any]:
        return {"secret": "only for callers with a token"}

    pre = {"Origin": "https://attacker.example", "Access-Control-Request-Method": "GET"}
    sneaky = app.resolve(request(jwt_lambda_event, "rest_v1", "/data", method="OPTIONS", headers=pre), {})
    assert sneaky["statusCode"] == 401
    assert "secret" not in sneaky["body"]
    # With a token, or when the app asks for its OPTIONS routes to see preflights, the route runs.
    token = jwt_issuer.mint()
    assert app.resolve(request(jwt_lambda_event, "rest_v1", "/data", method="OPTIONS", headers=pre,
                               token=token), {})["statusCode"] == 200
    opted = APIGatewayRestResolver()
    opted.use([JwtAuthMiddleware(verifier, allow_preflight="handler")])
    seen: list[Any] = []

    @opted.route("/data", method=["GET", "OPTIONS"])
    def data_opted() -> dict[str, Any]:
        seen.append(opted.context["identity"])  # set, to None: no KeyError in the route
        return {}

    assert opted.resolve(request(jwt_lambda_event, "rest_v1", "/data", method="OPTIONS",
                                 headers=pre), {})["statusCode"] == 200
    assert seen == [None]


def test_public_paths_given_as_one_string_is_refused_not_read_as_characters(
    jwt_lambda_event: EventFactory, verifier: Verifier
) -> None:
    # frozenset("/health") holds "/", "h", "e"...: the root route would have been served anonymously.
    from serverless_jwt.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="public_paths"):
        JwtAuthMiddleware(verifier, public_paths="/health")
    with pytest.raises(ConfigurationError, match="public_paths"):
        JwtAuthMiddleware(verifier, public_paths=["/health", None])  # type: ignore[list-item]
    app = APIGatewayHttpResolver()
    app.use([JwtAuthMiddleware(verifier, public_paths=("/health",))])

    @app.get("/")
    def root() -> dict[str, Any]:
        return {"secret": True}

    assert app.resolve(request(jwt_lambda_event, "http_v2", "/"), {})["statusCode"] == 401


def test_public_paths_name_a_routers_routes_with_the_include_prefix(
    jwt_lambda_event: EventFactory, verifier: Verifier
) -> None:
    from aws_lambda_powertools.event_handler.api_gateway import Router

    def app_with(public: list[str]) -> ApiGatewayResolver:
        app = APIGatewayRestResolver()
        router = Router()

        @router.get("/health")
        def health() -> dict[str, Any]:
            return {"ok": True}

        app.include_router(router, prefix="/v1")
        app.use([JwtAuthMiddleware(verifier, public_paths=public)])
        return app

    event = request(jwt_lambda_event, "rest_v1", "/v1/health")
    assert app_with(["/v1/health"]).resolve(event, {})["statusCode"] == 200
    assert app_with(["/health"]).resolve(copy.deepcopy(event), {})["statusCode"] == 401  # fails closed


@pytest.mark.parametrize("logger", ["api", print, object()])
def test_an_unusable_logger_is_refused_at_construction_not_on_the_first_rejection(
    verifier: Verifier, logger: Any
) -> None:
    from serverless_jwt.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="logger"):
        JwtAuthMiddleware(verifier, logger=logger)


@pytest.mark.parametrize("key", [5, None, ""])
def test_a_context_key_that_is_no_name_is_refused_at_construction_not_on_every_request(
    verifier: Verifier, key: Any
) -> None:
    # app.append_context(**{5: identity}) was a TypeError (a 500) for every authenticated request.
    from serverless_jwt.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="context_key"):
        JwtAuthMiddleware(verifier, context_key=key)


@pytest.mark.parametrize("setting", ["on_error", "claims_mapper"])
def test_a_hook_that_is_not_callable_is_refused_at_construction(verifier: Verifier, setting: str) -> None:
    from serverless_jwt.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=setting):
        JwtAuthMiddleware(verifier, **{setting: "not callable"})


def test_trust_authorizer_reads_an_http_api_jwt_authorizers_claims_on_a_route(
    jwt_lambda_event: EventFactory, jwt_issuer: DevIssuer, verifier: Verifier
) -> None:
    # A Powertools app behind API Gateway's JWT authorizer, as require_auth(trust_authorizer=True) serves.
    app = RESOLVERS["http_v2"]()
    trusting = JwtAuthMiddleware(trust_authorizer=True, scopes=["read:shows"], roles_claim="cognito:groups",
                                 roles=["admin"])

    @app.get("/shows", middlewares=[trusting])
    def shows() -> dict[str, Any]:
        identity: IdentityContext = app.context["identity"]
        return {"sub": identity.subject, "source": identity.source, "roles": sorted(identity.roles)}

    def call(claims: dict[str, str] | None, scopes: list[str] | None) -> dict[str, Any]:
        event = request(jwt_lambda_event, "http_v2", "/shows")
        event["requestContext"].pop("authorizer", None)
        if claims is not None:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
        return app.resolve(event, {})

    answer = call({"sub": "alice", "cognito:groups": "[admin users]"}, ["read:shows"])
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"sub": "alice", "source": "authorizer", "roles": ["admin", "users"]}
    assert call({"sub": "alice", "cognito:groups": "[admin]"}, ["other"])["statusCode"] == 403
    assert call(None, None)["statusCode"] == 401  # no authorizer and no verifier: nothing to trust
    # Off by default: the same forged block is ignored, and the bearer token is verified instead.
    app2 = RESOLVERS["http_v2"]()

    @app2.get("/me", middlewares=[JwtAuthMiddleware(verifier)])
    def me() -> dict[str, Any]:
        return {}

    forged = request(jwt_lambda_event, "http_v2", "/me")
    forged["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "mallory"}, "scopes": None}}
    assert app2.resolve(forged, {})["statusCode"] == 401
