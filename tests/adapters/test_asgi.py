"""JwtMiddleware around a Starlette app on a real uvicorn server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from serverless_jwt import Verifier, current_identity
from serverless_jwt.adapters.asgi import JwtMiddleware
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.pytest_plugin import Tokens

Serve = Callable[[Any], str]


async def me(request: Request) -> JSONResponse:
    identity = request.state.identity
    current = current_identity()
    return JSONResponse({"sub": identity and identity.subject, "same": current is identity})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def serve_app(serve: Serve, issuer: DevIssuer, **options: Any) -> str:
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)
    app = Starlette(routes=[Route("/me", me), Route("/health", health)],
                    middleware=[Middleware(JwtMiddleware, verifier=verifier, public_paths=["/health"],
                                           realm="api", **options)])
    return serve(app)


def test_identity_on_request_state_and_current_identity(jwt_issuer: DevIssuer, serve_asgi: Serve,
                                                        jwt_tokens: Tokens) -> None:
    base = serve_app(serve_asgi, jwt_issuer)
    r = httpx.get(base + "/me", headers={"Authorization": f"bearer {jwt_tokens.valid(sub='alice')}"})
    assert r.json() == {"sub": "alice", "same": True}
    assert httpx.get(base + "/health").json() == {"status": "ok"}


@pytest.mark.parametrize(("headers", "status", "challenge"), [
    ({}, 401, 'Bearer realm="api"'),
    ({"Authorization": "Basic eA=="}, 401, 'Bearer realm="api"'),
    ({"Authorization": "Bearer a b"}, 400, None),
    ({"Authorization": "Bearer a.b.c"}, 401, None),
])
def test_failures_are_answered_by_the_middleware(jwt_issuer: DevIssuer, serve_asgi: Serve,
                                                 headers: dict[str, str], status: int,
                                                 challenge: str | None) -> None:
    r = httpx.get(serve_app(serve_asgi, jwt_issuer) + "/me", headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error", "error_description"}
    if challenge is not None:
        assert r.headers["www-authenticate"] == challenge


def test_scopes_and_optional(jwt_issuer: DevIssuer, serve_asgi: Serve, jwt_tokens: Tokens) -> None:
    scoped = serve_app(serve_asgi, jwt_issuer, scopes=["read:shows"])
    unscoped = {"Authorization": f"Bearer {jwt_tokens.valid()}"}
    assert httpx.get(scoped + "/me", headers=unscoped).status_code == 403
    optional = serve_app(serve_asgi, jwt_issuer, optional=True)
    assert httpx.get(optional + "/me").json() == {"sub": None, "same": True}
    bad = {"Authorization": f"Bearer {jwt_tokens.expired()}"}
    assert httpx.get(optional + "/me", headers=bad).status_code == 401


PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}


def test_a_cors_preflight_reaches_the_apps_cors_middleware(jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    # CORS inside ours (first in the list is outermost): the preflight is passed on to it.
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    app = Starlette(routes=[Route("/me", me)], middleware=[
        Middleware(JwtMiddleware, verifier=verifier),
        Middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["GET"])])
    answer = httpx.options(serve_asgi(app) + "/me", headers=PREFLIGHT)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert httpx.options(serve_asgi(app) + "/me").status_code == 401  # not a preflight: a token needed


def test_cors_middleware_outside_ours_adds_its_headers_to_our_refusals(
        jwt_issuer: DevIssuer, serve_asgi: Serve, jwt_tokens: Tokens) -> None:
    # The README's order: CORSMiddleware first in the list (outermost). It answers preflights before
    # they reach us, and a browser can read our 401/403 (it needs Access-Control-Allow-Origin).
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    app = Starlette(routes=[Route("/me", me)], middleware=[
        Middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["GET"],
                   allow_headers=["Authorization"]),
        Middleware(JwtMiddleware, verifier=verifier, scopes=["read:shows"])])
    base = serve_asgi(app)
    origin = {"Origin": "https://app.example"}
    asks = {**PREFLIGHT, "Access-Control-Request-Headers": "authorization"}
    preflight = httpx.options(base + "/me", headers=asks)
    assert preflight.status_code == 200
    for headers, status in (({}, 401), ({"Authorization": f"Bearer {jwt_tokens.valid()}"}, 403)):
        answer = httpx.get(base + "/me", headers={**origin, **headers})
        assert answer.status_code == status
        assert answer.headers["access-control-allow-origin"] == "https://app.example"


def test_error_headers_are_added_to_refusals_when_cors_is_answered_inside(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    app = Starlette(routes=[Route("/me", me)], middleware=[
        Middleware(JwtMiddleware, verifier=verifier,
                   error_headers={"Access-Control-Allow-Origin": "https://app.example"}),
        Middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["GET"])])
    answer = httpx.get(serve_asgi(app) + "/me", headers={"Origin": "https://app.example"})
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_request_shaped_like_a_preflight_never_gets_an_apps_own_answer(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    async def payroll(scope: Any, receive: Any, send: Any) -> None:  # serves every method
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"secret": "payroll"}'})

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    base = serve_asgi(JwtMiddleware(payroll, verifier))
    answer = httpx.options(base + "/payroll", headers=PREFLIGHT)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert b"payroll" not in answer.content


def test_websocket_without_token_is_closed_with_policy_violation(jwt_issuer: DevIssuer) -> None:
    import asyncio

    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    middleware = JwtMiddleware(inner, Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"x")]}
    asyncio.run(middleware(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert reached == []
    asyncio.run(middleware({"type": "lifespan"}, receive, send))  # other scopes pass through untouched
    assert reached == ["lifespan"]
    # A server with the WebSocket Denial Response extension (uvicorn) lets the refusal be an HTTP
    # answer: the same 401 and challenge as a plain request, not a bare 403.
    sent.clear()
    asyncio.run(middleware({**scope, "extensions": {"websocket.http.response": {}}}, receive, send))
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    assert sent[0]["status"] == 401
    assert (b"www-authenticate", b"Bearer") in sent[0]["headers"]


@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
def test_an_options_request_with_str_header_names_is_read_as_any_other(jwt_issuer: DevIssuer,
                                                                       as_text: bool) -> None:
    # token_from_headers takes str pairs as well as bytes ones; the preflight check read bytes(name)
    # and raised TypeError on an OPTIONS request from a scope built with str names (a test client's).
    import asyncio

    reached: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(current_identity())
        await send({"type": "http.response.start", "status": 204,
                    "headers": [(b"access-control-allow-methods", b"GET")]})
        await send({"type": "http.response.body", "body": b""})

    middleware = JwtMiddleware(inner, Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def pairs(*items: tuple[str, str]) -> list[tuple[Any, Any]]:
        return [(n, v) if as_text else (n.encode(), v.encode()) for n, v in items]

    preflight = pairs(("Origin", "https://app.example"), ("Access-Control-Request-Method", "GET"))
    asyncio.run(middleware({"type": "http", "method": "OPTIONS", "path": "/x", "headers": preflight},
                           receive, send))
    assert (sent[0]["status"], reached) == (204, [None])
    sent.clear()
    asyncio.run(middleware({"type": "http", "method": "OPTIONS", "path": "/x",
                            "headers": pairs(("Origin", "https://app.example"))}, receive, send))
    assert sent[0]["status"] == 401  # not a preflight: a token is needed
    assert reached == [None]


def test_public_paths_are_route_paths_behind_a_mount_or_a_root_path(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    from starlette.routing import Mount

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    inner = Starlette(routes=[Route("/health", health), Route("/me", me)],
                      middleware=[Middleware(JwtMiddleware, verifier=verifier, public_paths=["/health"])])
    base = serve_asgi(Starlette(routes=[Mount("/v1", inner)]))
    assert httpx.get(base + "/v1/health").json() == {"status": "ok"}
    assert httpx.get(base + "/v1/me").status_code == 401

    async def behind_a_proxy(scope: Any, receive: Any, send: Any) -> None:  # as uvicorn --root-path /api
        if scope["type"] == "http":
            scope = {**scope, "root_path": "/api", "path": "/api" + scope["path"]}
        await inner(scope, receive, send)

    proxied = serve_asgi(behind_a_proxy)
    assert httpx.get(proxied + "/health").json() == {"status": "ok"}
    assert httpx.get(proxied + "/me").status_code == 401


def test_a_preflight_answer_goes_out_without_a_body_and_other_answers_not_at_all(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    # An app that puts CORS headers on every answer: a catch-all handler's data must not come back to
    # a request with no token, whatever headers it carries.
    async def generous(scope: Any, receive: Any, send: Any) -> None:
        methods = [(b"access-control-allow-methods", b"GET")] if scope["method"] == "OPTIONS" else []
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"access-control-allow-origin", b"*"), *methods]})
        await send({"type": "http.response.body", "body": b'{"secret": "payroll"}'})

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    only_origin = serve_asgi(JwtMiddleware(
        lambda s, r, send: generous({**s, "method": "GET"}, r, send), verifier))
    refused = httpx.options(only_origin + "/x", headers=PREFLIGHT)
    assert (refused.status_code, b"payroll" in refused.content) == (401, False)
    with_methods = serve_asgi(JwtMiddleware(generous, verifier))
    answered = httpx.options(with_methods + "/x", headers=PREFLIGHT)
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-methods"] == "GET"
    assert answered.content == b""  # a browser ignores a preflight's body: none leaves


@pytest.mark.parametrize("options", [{"public_paths": "/health"}, {"public_paths": ["/health", ""]},
                                     {"public_paths": [["/health"]]}, {"claims_mapper": "not callable"},
                                     {"roles": ["admin"], "roles_claim": 5},
                                     {"roles": ["admin"], "roles_claim": None},
                                     {"roles_claim": []}, {"roles_claim": ["app_metadata", 5]},
                                     {"realm": 5}, {"realm": b"api"}])
def test_settings_every_request_would_trip_on_are_refused_at_construction(
        jwt_issuer: DevIssuer, options: dict[str, Any]) -> None:
    # One string would be read as its characters, "/" among them: the root route made public.
    from serverless_jwt import ConfigurationError

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    with pytest.raises(ConfigurationError, match=r"public_paths|claims_mapper|roles_claim|realm"):
        JwtMiddleware(Starlette(routes=[Route("/me", me)]), verifier, **options)


def test_a_public_path_sees_no_identity_as_any_anonymous_request(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    # request.state.identity was an AttributeError (a 500) on a public path only.
    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"identity": request.state.identity})

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    base = serve_asgi(Starlette(routes=[Route("/health", public)], middleware=[
        Middleware(JwtMiddleware, verifier=verifier, public_paths=["/health"])]))
    answer = httpx.get(base + "/health")
    assert (answer.status_code, answer.json()) == (200, {"identity": None})


def test_a_public_path_keeps_the_identity_an_outer_middleware_set(
        jwt_issuer: DevIssuer, serve_asgi: Serve, jwt_tokens: Tokens) -> None:
    # A sub-app mounted under an app-wide optional JwtMiddleware, with /health public in its own: the
    # caller the outer one verified must not be replaced by None (request.state is one dict for both).
    from starlette.routing import Mount

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    api = Starlette(routes=[Route("/health", me)],
                    middleware=[Middleware(JwtMiddleware, verifier=verifier, public_paths=["/health"])])
    base = serve_asgi(Starlette(routes=[Mount("/api", app=api)], middleware=[
        Middleware(JwtMiddleware, verifier=verifier, optional=True)]))
    signed_in = {"Authorization": f"Bearer {jwt_tokens.valid(sub='alice')}"}
    assert httpx.get(base + "/api/health", headers=signed_in).json() == {"sub": "alice", "same": True}
    assert httpx.get(base + "/api/health").json() == {"sub": None, "same": True}


def starlette_auth_app(issuer: DevIssuer, **options: Any) -> Starlette:
    from starlette.authentication import requires

    async def caller(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse({"authenticated": user.is_authenticated, "name": user.display_name,
                             "identity": user.identity, "scopes": request.auth.scopes})

    @requires("read:shows")
    async def shows(request: Request) -> JSONResponse:
        return JSONResponse({"shows": [], "sub": request.user.identity})

    @requires("authenticated")
    def signed_in(request: Request) -> JSONResponse:  # sync: Starlette runs it in a thread
        return JSONResponse({"sub": request.user.identity})

    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)
    return Starlette(routes=[Route("/caller", caller), Route("/shows", shows), Route("/signed-in", signed_in),
                             Route("/health", caller)],
                     middleware=[Middleware(JwtMiddleware, verifier=verifier, public_paths=["/health"],
                                            **options)])


def test_starlette_request_user_and_auth_describe_the_verified_caller(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    # request.user / request.auth were an AssertionError (a 500): only AuthenticationMiddleware set them.
    base = serve_asgi(starlette_auth_app(jwt_issuer))
    token = jwt_issuer.mint(sub="alice", scopes=["read:shows", "write:shows"], claims={"name": "Alice A."})
    answer = httpx.get(base + "/caller", headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {"authenticated": True, "name": "Alice A.", "identity": "alice",
                             "scopes": ["authenticated", "read:shows", "write:shows"]}
    nameless = jwt_issuer.mint(sub="bob")
    answer = httpx.get(base + "/caller", headers={"Authorization": f"Bearer {nameless}"})
    assert answer.json() == {"authenticated": True, "name": "bob", "identity": "bob",
                             "scopes": ["authenticated"]}


def test_starlette_requires_passes_with_the_scope_and_answers_its_own_403_without(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    base = serve_asgi(starlette_auth_app(jwt_issuer))
    scoped = {"Authorization": f"Bearer {jwt_issuer.mint(sub='alice', scopes=['read:shows'])}"}
    answer = httpx.get(base + "/shows", headers=scoped)
    assert (answer.status_code, answer.json()) == (200, {"shows": [], "sub": "alice"})
    unscoped = {"Authorization": f"Bearer {jwt_issuer.mint(sub='alice', scopes=['write:shows'])}"}
    refused = httpx.get(base + "/shows", headers=unscoped)
    # Starlette's HTTPException(403): plain text, no RFC 6750 challenge (JwtMiddleware(scopes=) gives that).
    assert (refused.status_code, refused.text) == (403, "Forbidden")
    assert "www-authenticate" not in refused.headers
    assert httpx.get(base + "/signed-in", headers=unscoped).json() == {"sub": "alice"}
    missing = httpx.get(base + "/shows")  # no token: our 401 and challenge, before Starlette's check
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")


def test_starlette_request_user_is_anonymous_on_optional_and_public_requests(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    anonymous = {"authenticated": False, "name": "", "identity": "", "scopes": []}
    optional = serve_asgi(starlette_auth_app(jwt_issuer, optional=True))
    assert httpx.get(optional + "/caller").json() == anonymous
    for path in ("/shows", "/signed-in"):  # Starlette's requires refuses an anonymous caller its own way
        assert httpx.get(optional + path).status_code == 403
    required = serve_asgi(starlette_auth_app(jwt_issuer))
    assert httpx.get(required + "/health").json() == anonymous
    bad = {"Authorization": "Bearer a.b.c"}  # still refused under optional=True, with our answer
    refused = httpx.get(optional + "/caller", headers=bad)
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_a_route_level_scope_check_answers_rfc_6750_insufficient_scope(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    # What the README points to instead of @requires for an RFC 6750 answer on one route.
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    guarded = [Middleware(JwtMiddleware, verifier=verifier, scopes=["read:shows"])]
    base = serve_asgi(Starlette(routes=[Route("/shows", me, middleware=guarded), Route("/health", health)]))
    unscoped = {"Authorization": f"Bearer {jwt_issuer.mint(sub='alice')}"}
    refused = httpx.get(base + "/shows", headers=unscoped)
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")
    assert 'scope="read:shows"' in refused.headers["www-authenticate"]
    assert httpx.get(base + "/health").json() == {"status": "ok"}  # a route without it: no token needed


def test_starlette_user_of_a_client_credentials_token_is_its_client_id(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    base = serve_asgi(starlette_auth_app(jwt_issuer))
    token = jwt_issuer.mint(sub=None, scopes=["read:shows"], claims={"azp": "billing-service"})
    answer = httpx.get(base + "/caller", headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {"authenticated": True, "name": "billing-service", "identity": "billing-service",
                             "scopes": ["authenticated", "read:shows"]}


def test_a_user_set_outside_is_kept_for_anonymous_requests_and_replaced_by_a_token(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    # Starlette's AuthenticationMiddleware outside ours (a session login, say): a request with no token
    # under optional=True, or on a public path, says nothing against the user it found.
    from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection

    class SessionUser(SimpleUser):
        @property
        def identity(self) -> str:  # SimpleUser's own in newer Starlettes; 0.36 (FastAPI 0.110's) raises
            return self.username

    class Session(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
            return AuthCredentials(["session"]), SessionUser("carol")

    for options in ({"optional": True}, {}):
        app = starlette_auth_app(jwt_issuer, **options)
        app.add_middleware(AuthenticationMiddleware, backend=Session())  # outermost
        base = serve_asgi(app)
        path = "/caller" if options else "/health"
        assert httpx.get(base + path).json() == {"authenticated": True, "name": "carol", "identity": "carol",
                                                 "scopes": ["session"]}
        token = {"Authorization": f"Bearer {jwt_issuer.mint(sub='alice')}"}
        assert httpx.get(base + "/caller", headers=token).json()["identity"] == "alice"


def test_the_asgi_middleware_and_its_user_classes_load_without_starlette() -> None:
    import subprocess
    import sys

    code = ("import sys\nsys.modules['starlette'] = None\n"
            "from serverless_jwt.adapters.asgi import AnonymousUser, JwtMiddleware, TokenUser\n"
            "assert not any(m.startswith('starlette') and sys.modules[m] for m in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
