"""JwtBearer on a real uvicorn server, called over loopback HTTP with tokens from the DevIssuer."""

# No `from __future__ import annotations`: FastAPI reads the routes' Annotated dependencies at runtime.


import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any

import fastapi
import httpx
import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.responses import JSONResponse
from fastapi.security import SecurityScopes
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.websockets import WebSocket as StarletteWebSocket

from serverless_jwt import IdentityContext, InsufficientScopeError, Verifier, current_identity
from serverless_jwt.adapters.asgi import JwtMiddleware
from serverless_jwt.adapters.fastapi import (
    AuthHTTPException,
    JwtBearer,
    NetlifySignature,
    install_error_handlers,
)
from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH, DevIssuer
from serverless_jwt.dev.pytest_plugin import Tokens

Serve = Callable[[Any], str]
_FASTAPI = tuple(int(part) for part in fastapi.__version__.split(".")[:2])
# Starlette 0.37 added send_denial_response; before it a refused handshake can only be closed (1008).
_CAN_DENY = hasattr(StarletteWebSocket, "send_denial_response")
_CLOSED = [{"type": "websocket.close", "code": 1008, "reason": ""}]
_ANSWER = ["websocket.http.response.start", "websocket.http.response.body"]


def make_app(issuer: DevIssuer, *, handlers: bool = True, **options: Any) -> FastAPI:
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, **options)
    auth = JwtBearer(verifier, realm="api")
    anyone = JwtBearer(verifier, optional=True, scheme_name="OptionalBearer")
    app = FastAPI()
    if handlers:
        install_error_handlers(app)

    @app.get("/me")
    async def me(identity: Annotated[IdentityContext, Depends(auth)]) -> dict[str, Any]:
        return {"sub": identity.subject, "current": current_identity() is None}

    @app.get("/sync-me")
    def sync_me(identity: Annotated[IdentityContext, Depends(auth)]) -> dict[str, Any]:
        return {"sub": identity.subject}

    @app.get("/shows")
    def shows(identity: Annotated[IdentityContext, Security(auth, scopes=["read:shows"])]) -> list[str]:
        return ["show"]

    @app.get("/greeting")
    async def greeting(identity: Annotated[IdentityContext | None, Depends(anyone)]) -> dict[str, str]:
        return {"hello": identity.subject or "?" if identity is not None else "stranger"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/raises")
    async def raises(identity: Annotated[IdentityContext, Depends(auth)]) -> None:
        raise InsufficientScopeError(["admin"])

    return app


@pytest.fixture
def base(jwt_issuer: DevIssuer, serve_asgi: Serve) -> str:
    return serve_asgi(make_app(jwt_issuer))


def get(base: str, path: str, token: str | None = None, *, scheme: str = "Bearer",
        headers: list[tuple[str, str]] | None = None) -> httpx.Response:
    sent = list(headers or [])
    if token is not None:
        sent.append(("Authorization", f"{scheme} {token}"))
    return httpx.get(base + path, headers=sent, timeout=10)


def test_valid_token_reaches_async_and_sync_endpoints(base: str, jwt_tokens: Tokens) -> None:
    token = jwt_tokens.valid(sub="alice")
    assert get(base, "/me", token).json() == {"sub": "alice", "current": True}
    assert get(base, "/sync-me", token).json() == {"sub": "alice"}


def test_missing_token_gets_a_bare_bearer_challenge_and_an_unwrapped_body(base: str) -> None:
    r = get(base, "/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'
    assert r.json() == {"error": "token_missing", "error_description": "Authentication required"}


def test_a_refusal_body_is_the_same_bytes_as_the_other_entry_points(
        jwt_issuer: DevIssuer, serve_asgi: Serve, jwt_tokens: Tokens) -> None:
    # JwtMiddleware, WSGI, Flask, Powertools and the Lambda decorators send json.dumps(body): FastAPI too.
    app = Starlette(middleware=[Middleware(JwtMiddleware, verifier=Verifier(
        issuer=jwt_issuer.issuer, audience=jwt_issuer.audience), realm="api")])
    middleware, fastapi = serve_asgi(app), serve_asgi(make_app(jwt_issuer))
    for headers in ([], [("Authorization", "Bearer")], [("Authorization", f"Bearer {jwt_tokens.expired()}")]):
        theirs = httpx.get(middleware + "/me", headers=headers)
        ours = httpx.get(fastapi + "/me", headers=headers)
        assert ours.status_code == theirs.status_code >= 400
        assert ours.content == theirs.content
        assert ours.headers["content-length"] == theirs.headers["content-length"]


def test_scheme_is_case_insensitive(base: str, jwt_tokens: Tokens) -> None:
    assert get(base, "/me", jwt_tokens.valid(sub="bob"), scheme="bearer").json()["sub"] == "bob"


def test_other_scheme_counts_as_no_bearer_token(base: str) -> None:
    r = get(base, "/me", "dXNlcjpwYXNz", scheme="Basic")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'


def test_duplicate_authorization_header_is_a_bad_request(base: str, jwt_tokens: Tokens) -> None:
    token = jwt_tokens.valid()
    r = get(base, "/me", headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert token not in r.text


@pytest.mark.parametrize("value", ["Bearer", "Bearer a b", "Bearer @@@"])
def test_malformed_bearer_value_is_a_bad_request(base: str, value: str) -> None:
    r = get(base, "/me", headers=[("Authorization", value)])
    assert r.status_code == 400
    assert 'error="invalid_request"' in r.headers["www-authenticate"]


@pytest.mark.parametrize("kind", ["expired", "wrong_audience", "tampered", "unsigned", "foreign_key"])
def test_bad_tokens_are_invalid_token(base: str, jwt_tokens: Tokens, kind: str) -> None:
    token = getattr(jwt_tokens, kind)()
    r = get(base, "/me", token)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert token not in r.text


def test_not_a_jwt_is_invalid_token(base: str) -> None:
    r = get(base, "/me", "abc")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def test_security_scopes_are_required(base: str, jwt_tokens: Tokens) -> None:
    r = get(base, "/shows", jwt_tokens.valid())
    assert r.status_code == 403
    assert r.json()["error"] == "insufficient_scope"
    assert 'scope="read:shows"' in r.headers["www-authenticate"]
    assert get(base, "/shows", jwt_tokens.with_scopes("read:shows")).json() == ["show"]


def test_a_403_challenge_names_the_dependencys_and_the_routes_scopes_together(
        jwt_issuer: DevIssuer, serve_asgi: Serve, jwt_tokens: Tokens) -> None:
    # One set in the challenge: asking for what it names gives a token that passes (no ping-pong
    # between the dependency's scopes and the route's).
    auth = JwtBearer(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience), scopes=["read:shows"])
    app = FastAPI()
    install_error_handlers(app)

    @app.delete("/shows/{show}")
    def delete(show: str,
               identity: Annotated[IdentityContext, Security(auth, scopes=["delete:shows"])]) -> str:
        return show

    base = serve_asgi(app)
    for granted in ("", "read:shows", "delete:shows"):
        r = httpx.delete(base + "/shows/1", timeout=10,
                         headers={"Authorization": f"Bearer {jwt_tokens.with_scopes(granted)}"})
        assert r.status_code == 403
        assert 'scope="read:shows delete:shows"' in r.headers["www-authenticate"]
    r = httpx.delete(base + "/shows/1", timeout=10,
                     headers={"Authorization": f"Bearer {jwt_tokens.with_scopes('read:shows delete:shows')}"})
    assert r.json() == "1"


def test_optional_auth_serves_anonymous_callers_but_refuses_bad_tokens(base: str, jwt_tokens: Tokens) -> None:
    assert get(base, "/greeting").json() == {"hello": "stranger"}
    assert get(base, "/greeting", "x", scheme="Basic").json() == {"hello": "stranger"}
    assert get(base, "/greeting", jwt_tokens.valid(sub="carol")).json() == {"hello": "carol"}
    assert get(base, "/greeting", jwt_tokens.expired()).status_code == 401


def test_an_auth_error_raised_by_a_route_gets_the_same_answer(
        base: str, jwt_tokens: Tokens, jwt_issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="serverless_jwt"):
        r = get(base, "/raises", jwt_tokens.valid())
    assert r.status_code == 403
    # Logged once, like the dependency's own refusals, with the dependency's issuer.
    records = [x for x in caplog.records if x.getMessage().startswith("request rejected")]
    assert [(x.auth_code, x.auth_issuer) for x in records] == [  # type: ignore[attr-defined]
        ("scope_insufficient", jwt_issuer.issuer)]
    assert r.json()["error"] == "insufficient_scope"
    # With the realm of the dependency that let the request in, as its own refusals carry.
    assert r.headers["www-authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')


def test_issuer_down_at_cold_start_is_503(jwt_issuer: DevIssuer, base: str, jwt_tokens: Tokens) -> None:
    token = jwt_tokens.valid()
    jwt_issuer.fault = "503"
    r = get(base, "/me", token)
    assert r.status_code == 503
    assert r.json()["error"] == "temporarily_unavailable"
    assert "retry-after" in r.headers
    jwt_issuer.fault = None
    assert get(base, "/me", token).status_code == 200  # recovered: used at once


def test_stopped_issuer_is_503(jwt_issuer: DevIssuer, base: str, jwt_tokens: Tokens) -> None:
    token = jwt_tokens.valid()
    jwt_issuer.stop()
    assert get(base, "/me", token).status_code == 503


@pytest.mark.parametrize(("slow_seconds", "status"), [(1.5, 200), (3.5, 503)])
def test_slow_issuer_at_cold_start_does_not_stall_other_routes(
        jwt_issuer: DevIssuer, base: str, jwt_tokens: Tokens, slow_seconds: float, status: int) -> None:
    # Discovery stalls; within the 3 s deadline the keys arrive (200), past it the answer is 503.
    token = jwt_tokens.valid(sub="slow")
    jwt_issuer.fault, jwt_issuer.slow_seconds = "slow", slow_seconds
    jwt_issuer.fault_paths = {DISCOVERY_PATH}
    results: list[httpx.Response] = []
    done = threading.Event()

    def cold() -> None:
        results.append(get(base, "/me", token))
        done.set()

    callers = [threading.Thread(target=cold) for _ in range(5)]
    for thread in callers:
        thread.start()
    while jwt_issuer.requests[DISCOVERY_PATH] == 0:
        threading.Event().wait(0.01)
    # The key fetch is stalled in discovery; the same server answers a route that needs no token. Had
    # the fetch blocked the event loop, this answer could only come after the JWKS was fetched (or the
    # deadline passed and the cold requests were answered).
    assert get(base, "/health").json() == {"status": "ok"}
    assert jwt_issuer.requests[JWKS_PATH] == 0
    assert not done.is_set()
    for thread in callers:
        thread.join(timeout=10)
    assert [r.status_code for r in results] == [status] * 5
    # Five concurrent cold requests, one discovery (and at most one JWKS fetch).
    assert jwt_issuer.requests[DISCOVERY_PATH] == 1
    assert jwt_issuer.requests[JWKS_PATH] == (1 if status == 200 else 0)


def test_openapi_shows_an_http_bearer_scheme_with_route_scopes(base: str) -> None:
    doc = httpx.get(base + "/openapi.json").json()
    assert doc["components"]["securitySchemes"]["JwtBearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    # FastAPI lists a route's scopes for schemes other than OAuth2 and OpenID Connect from 0.123 (OpenAPI
    # 3.1 allows it; 3.0 said such lists must be empty): the scopes are enforced either way.
    route_scopes = ["read:shows"] if _FASTAPI >= (0, 123) else []
    assert doc["paths"]["/shows"]["get"]["security"] == [{"JwtBearer": route_scopes}]
    assert doc["paths"]["/me"]["get"]["security"] == [{"JwtBearer": []}]
    assert "security" not in doc["paths"]["/health"]["get"]


def test_without_installed_handlers_status_and_challenge_are_still_right(
        jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    base = serve_asgi(make_app(jwt_issuer, handlers=False))
    r = get(base, "/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'
    assert r.json() == {"detail": {"error": "token_missing", "error_description": "Authentication required"}}


def test_apps_can_override_the_error_handler(jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    app = make_app(jwt_issuer)

    @app.exception_handler(AuthHTTPException)
    async def mine(request: Any, exc: AuthHTTPException) -> JSONResponse:
        return JSONResponse({"code": exc.error.code}, status_code=exc.status_code, headers=exc.headers)

    r = get(serve_asgi(app), "/me")
    assert (r.status_code, r.json()) == (401, {"code": "token_missing"})


def test_netlify_recipe_signed_proxy_and_nf_jwt_cookie(jwt_issuer: DevIssuer, serve_asgi: Serve) -> None:
    import secrets

    proxy_secret = secrets.token_urlsafe(32)
    signed = NetlifySignature(proxy_secret)
    auth = JwtBearer(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience), cookie_name="nf_jwt")
    app = FastAPI(dependencies=[Depends(signed)])
    install_error_handlers(app)

    @app.get("/me")
    def me(identity: Annotated[IdentityContext, Depends(auth)]) -> dict[str, Any]:
        return {"sub": identity.subject}

    base = serve_asgi(app)
    signature = jwt_issuer.mint(alg="HS256", secret=proxy_secret, issuer="netlify", audience=None, sub=None,
                                lifetime_seconds=60)
    user = jwt_issuer.mint(sub="netlify-user")
    cookie = [("Cookie", f"theme=dark; nf_jwt={user}")]
    assert get(base, "/me", headers=[("x-nf-sign", signature), *cookie]).json() == {"sub": "netlify-user"}
    assert get(base, "/me", headers=cookie).status_code == 401  # not through Netlify's proxy
    forged = jwt_issuer.mint(alg="HS256", secret=secrets.token_urlsafe(32), issuer="netlify", audience=None)
    assert get(base, "/me", headers=[("x-nf-sign", forged), *cookie]).status_code == 401
    assert get(base, "/me", headers=[("x-nf-sign", signature)]).status_code == 401  # signed, no user


def test_importing_the_glue_without_fastapi_names_the_extra() -> None:
    code = ("import sys; sys.modules['fastapi'] = None\n"
            "try:\n    import serverless_jwt.adapters.fastapi\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'serverless-jwt[fastapi]'" in out


def test_each_rejection_is_one_structured_log_line_without_token_values(
        base: str, jwt_tokens: Tokens, jwt_issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="serverless_jwt")
    token = jwt_tokens.valid(sub="MARKER-sub", aud="MARKER-aud")
    assert get(base, "/me", token).status_code == 401
    assert get(base, "/shows", jwt_tokens.valid(sub="MARKER-sub")).status_code == 403
    records = [r for r in caplog.records if r.getMessage().startswith("request rejected")]
    assert [(r.auth_code, r.auth_check, r.auth_issuer) for r in records] == [  # type: ignore[attr-defined]
        ("claims_invalid", "aud:check_failed", jwt_issuer.issuer),
        ("scope_insufficient", "scope", jwt_issuer.issuer),
    ]
    assert "MARKER" not in caplog.text
    assert token not in caplog.text


def test_the_dependencies_parameters_are_typed_without_their_module_namespace() -> None:
    # FastAPI before 0.123.7 (the extra allows 0.110) resolves a dependency's text annotations only
    # through the callable's __globals__, which an instance has not: `request` and `security_scopes`
    # then became required query parameters and every request was answered 422.
    import inspect

    from starlette.requests import HTTPConnection

    secret = "s" * 32
    auth = JwtBearer(Verifier(secrets=secret, audience="api"))
    signed = NetlifySignature(secret)
    assert [p.annotation for p in inspect.signature(auth).parameters.values()] == [
        HTTPConnection, SecurityScopes]
    assert [p.annotation for p in inspect.signature(signed).parameters.values()] == [HTTPConnection]


def test_a_netlify_realm_that_is_not_text_fails_at_construction_not_per_refusal() -> None:
    from serverless_jwt import ConfigurationError

    with pytest.raises(ConfigurationError, match="realm"):
        NetlifySignature("a-redirect-secret-of-at-least-32-bytes", realm=5)  # type: ignore[arg-type]


def _websocket_session(app: FastAPI, headers: list[tuple[bytes, bytes]], extensions: dict[str, Any],
                       incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages ``app`` sends on a websocket at /ws that receives ``incoming`` (then waits), under
    uvicorn's rule: after accept, only websocket.send and websocket.close may be sent."""
    import asyncio

    sent: list[dict[str, Any]] = []
    incoming = list(incoming)

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        accepted = any(m["type"] == "websocket.accept" for m in sent)
        if accepted and message["type"] not in ("websocket.send", "websocket.close"):
            raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', "
                               f"but got {message['type']!r}")
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "root_path": "", "query_string": b"",
             "headers": [(b"host", b"x"), *headers], "extensions": extensions, "subprotocols": []}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def test_a_refused_websocket_is_answered_or_closed_as_the_server_allows(jwt_issuer: DevIssuer) -> None:
    # Where the server has no websocket.http.response extension (uvicorn's wsproto, older servers), the
    # 401 went out as websocket.http.response.* messages it cannot send: an error, not a refusal.
    from fastapi import WebSocket

    app = FastAPI()
    install_error_handlers(app)
    auth = JwtBearer(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, identity: Annotated[IdentityContext, Depends(auth)]) -> None:
        await websocket.accept()
        await websocket.send_text(identity.subject or "")
        await websocket.close()

    def handshake(headers: list[tuple[bytes, bytes]], extensions: dict[str, Any]) -> list[dict[str, Any]]:
        return _websocket_session(app, headers, extensions, [{"type": "websocket.connect"}])

    assert handshake([], {}) == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    answered = handshake([(b"authorization", b"Bearer a.b")], {"websocket.http.response": {}})
    if _CAN_DENY:
        assert [m["type"] for m in answered] == _ANSWER
        assert answered[0]["status"] == 401
        assert b'error="invalid_token"' in dict(answered[0]["headers"])[b"www-authenticate"]
    else:
        assert answered == _CLOSED
    token = jwt_issuer.mint(sub="alice").encode()
    accepted = handshake([(b"authorization", b"Bearer " + token)], {})
    assert [m["type"] for m in accepted][:2] == ["websocket.accept", "websocket.send"]
    assert accepted[1]["text"] == "alice"


def test_an_auth_error_after_a_websocket_was_accepted_closes_it_with_1008(jwt_issuer: DevIssuer) -> None:
    # After accept, servers take only websocket.send / websocket.close (uvicorn raises "Expected ASGI
    # message 'websocket.send' or 'websocket.close'" for anything else, the connection then dies with
    # 1011): the handler sent a denial response there even where the server has the extension.
    from fastapi import WebSocket

    from serverless_jwt import authz

    app = FastAPI()
    install_error_handlers(app)
    auth = JwtBearer(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, identity: Annotated[IdentityContext, Depends(auth)]) -> None:
        await websocket.accept()
        await websocket.receive_text()
        authz.check_scope_set(identity.scopes, ["admin"])  # the route's own check, after the handshake

    def session(extensions: dict[str, Any]) -> list[dict[str, Any]]:
        token = jwt_issuer.mint(sub="alice").encode()
        incoming = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"}]
        return _websocket_session(app, [(b"authorization", b"Bearer " + token)], extensions, incoming)

    for extensions in ({"websocket.http.response": {}}, {}):
        sent = session(extensions)
        assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"], sent
        assert sent[1]["code"] == 1008


def test_a_refused_websocket_handshake_is_answered_even_where_starlette_drops_the_handlers_answer() -> None:
    # Starlette before 0.41 (FastAPI 0.110 to 0.115, inside our fastapi>=0.110 extra) awaits a websocket
    # exception handler and drops what it returns: the 401 the handler returned was never sent, and
    # uvicorn answered the handshake 500 ("ASGI callable returned without completing handshake").
    # Here the handler is awaited the way those versions await it, its return value unused.
    import asyncio

    from fastapi import WebSocket

    from serverless_jwt import MissingTokenError

    app = FastAPI()
    install_error_handlers(app)
    handler = app.exception_handlers[AuthHTTPException]

    def refuse(extensions: dict[str, Any]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "root_path": "", "query_string": b"",
                 "headers": [(b"host", b"x")], "extensions": extensions, "subprotocols": []}

        async def session() -> None:
            await handler(WebSocket(scope, receive, send), AuthHTTPException(MissingTokenError()))

        asyncio.run(session())
        return sent

    answered = refuse({"websocket.http.response": {}})
    if _CAN_DENY:
        assert [m["type"] for m in answered] == _ANSWER
        assert answered[0]["status"] == 401
        assert dict(answered[0]["headers"])[b"www-authenticate"] == b"Bearer"
    else:
        assert answered == _CLOSED
    assert refuse({}) == _CLOSED
