"""JwtWsgiMiddleware around a plain WSGI app on werkzeug's server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from serverless_jwt import Verifier, current_identity
from serverless_jwt.adapters.wsgi import ENVIRON_KEY, JwtWsgiMiddleware
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.pytest_plugin import Tokens
from serverless_jwt.errors import ConfigurationError, MissingTokenError


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    identity = environ[ENVIRON_KEY]
    body = {"sub": identity and identity.subject, "same": current_identity() is identity}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def test_wsgi_middleware(jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str], jwt_tokens: Tokens) -> None:
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    base = serve_wsgi(JwtWsgiMiddleware(app, verifier, scopes=["read:shows"]))
    token = jwt_tokens.with_scopes("read:shows", sub="alice")
    r = httpx.get(base, headers={"Authorization": f"bearer {token}"})
    assert r.json() == {"sub": "alice", "same": True}
    r = httpx.get(base)
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert r.json()["error"] == "token_missing"
    r = httpx.get(base, headers={"Authorization": f"Bearer {jwt_tokens.valid()}"})
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
    jwt_issuer.fault = "503"
    optional = serve_wsgi(JwtWsgiMiddleware(app, Verifier(issuer=jwt_issuer.issuer, audience="other"),
                                            optional=True))
    assert httpx.get(optional).json() == {"sub": None, "same": True}


def test_a_request_shaped_like_a_preflight_gets_only_a_cors_answer(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str]) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}

    def cors(inner: Callable[..., Any]) -> Callable[..., Any]:  # a CORS middleware answering preflights
        def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ["REQUEST_METHOD"] == "OPTIONS" and "HTTP_ORIGIN" in environ:
                start_response("204 No Content", [("Access-Control-Allow-Origin", "https://app.example"),
                                                  ("Access-Control-Allow-Methods", "GET")])
                return [b""]
            return inner(environ, start_response)
        return wrapped

    def payroll(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert environ[ENVIRON_KEY] is None  # set, never missing: no KeyError in the app
        start_response("200 OK", [("Content-Type", "application/json")])
        yield b'{"secret": "payroll"}'  # a generator: start_response runs on the first step

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    with_cors = serve_wsgi(JwtWsgiMiddleware(cors(app), verifier))
    answer = httpx.options(with_cors, headers=preflight)
    assert (answer.status_code, answer.headers["access-control-allow-origin"]) == (204, "https://app.example")
    exposed = serve_wsgi(JwtWsgiMiddleware(payroll, verifier))
    answer = httpx.options(exposed, headers=preflight)
    assert (answer.status_code, answer.headers["www-authenticate"]) == (401, "Bearer")
    assert b"payroll" not in answer.content


def test_a_token_cookie_in_a_second_cookie_header_is_found(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str], jwt_tokens: Tokens) -> None:
    # The WSGI server folds the two headers into one comma-joined HTTP_COOKIE, as ASGI servers do not.
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    base = serve_wsgi(JwtWsgiMiddleware(app, verifier, cookie_name="nf_jwt"))
    token = jwt_tokens.valid(sub="alice")
    r = httpx.get(base, headers=[("Cookie", "theme=dark"), ("Cookie", f"nf_jwt={token}")])
    assert r.json() == {"sub": "alice", "same": True}


def test_a_preflight_answer_goes_out_without_a_body_and_the_apps_iterable_is_closed(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str]) -> None:
    closed: list[bool] = []

    class Body:
        def __init__(self, start_response: Callable[..., Any]) -> None:
            self.start_response = start_response

        def __iter__(self) -> Any:
            self.start_response("200 OK", [("Access-Control-Allow-Origin", "*"),
                                           ("Access-Control-Allow-Methods", "GET")])
            yield b'{"secret": "payroll"}'

        def close(self) -> None:
            closed.append(True)

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    base = serve_wsgi(JwtWsgiMiddleware(lambda environ, start_response: Body(start_response), verifier))
    answer = httpx.options(base, headers={"Origin": "https://app.example",
                                          "Access-Control-Request-Method": "GET"})
    assert answer.status_code == 200
    assert answer.content == b""
    assert closed == [True]  # PEP 3333: the app's iterable is closed


def test_a_streamed_body_sees_the_identity_on_every_step_and_in_close(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str], jwt_tokens: Tokens) -> None:
    # The server iterates a generator body after the app returned, in its own context: each step and
    # the body's close() still run with the request's identity on current_identity().
    seen: list[str | None] = []

    def streaming(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def chunks() -> Iterable[bytes]:
            for n in range(3):
                identity = current_identity()
                yield f"{n}:{identity and identity.subject}\n".encode()

        class Body:
            def __iter__(self) -> Any:
                return iter(chunks())

            def close(self) -> None:
                identity = current_identity()
                seen.append(identity and identity.subject)

        return Body()

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    base = serve_wsgi(JwtWsgiMiddleware(streaming, verifier))
    for sub in ("alice", "bob"):
        r = httpx.get(base, headers={"Authorization": f"Bearer {jwt_tokens.valid(sub=sub)}"})
        assert r.text == f"0:{sub}\n1:{sub}\n2:{sub}\n"
    deadline = time.monotonic() + 10
    while len(seen) < 2 and time.monotonic() < deadline:  # the server closes after the client has read
        time.sleep(0.01)
    assert seen == ["alice", "bob"]
    assert current_identity() is None  # nothing leaks into the caller's context


def test_error_headers_reach_every_refusal_the_apps_cors_never_sees(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str], jwt_tokens: Tokens) -> None:
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    cors = {"Access-Control-Allow-Origin": "https://app.example", "www-authenticate": "Basic"}
    base = serve_wsgi(JwtWsgiMiddleware(app, verifier, scopes=["read:shows"], error_headers=cors))
    for headers, status in (({}, 401), ({"Authorization": "Bearer a b"}, 400),
                            ({"Authorization": f"Bearer {jwt_tokens.valid()}"}, 403)):
        answer = httpx.get(base + "/", headers=headers)
        assert answer.status_code == status
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
        # Added, never replacing the refusal's own headers, nor sent beside them (names compare
        # case-insensitively).
        assert len(answer.headers.get_list("www-authenticate")) == 1
        assert answer.headers["www-authenticate"].startswith("Bearer")
    ok = httpx.get(base + "/", headers={"Authorization": f"Bearer {jwt_tokens.with_scopes('read:shows')}"})
    assert ok.status_code == 200
    assert "access-control-allow-origin" not in ok.headers  # the app's answers are the app's


def test_unusable_error_headers_are_refused_at_construction(jwt_issuer: DevIssuer) -> None:
    from serverless_jwt import ConfigurationError

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    for bad in ({"X-A": "a\r\nSet-Cookie: x=1"}, {"Bad Name": "x"}, {"X-A": 1}, {"X-A": "\u2603"},
                {"Content-Length": "0"}, {"connection": "close"}, {"Transfer-Encoding": "chunked"},
                {"Proxy-Authenticate": "Basic"}, {"Content-Type": "text/html"}):
        with pytest.raises(ConfigurationError, match="error_headers"):
            JwtWsgiMiddleware(app, verifier, error_headers=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("options", [{"public_paths": "/health"}, {"public_paths": [None]},
                                     {"claims_mapper": "not callable"},
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
        JwtWsgiMiddleware(app, verifier, **options)


def test_public_paths_given_by_a_generator_are_all_kept(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str]) -> None:
    # Read once: a check that walked the generator first left an empty set (every path then needed a token).
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    def health(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    base = serve_wsgi(JwtWsgiMiddleware(health, verifier, public_paths=(p for p in ["/health"])))
    assert (httpx.get(base + "/health").status_code, httpx.get(base + "/me").status_code) == (200, 401)


def test_a_public_path_sees_no_identity_as_any_anonymous_request(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str]) -> None:
    # environ[ENVIRON_KEY] read with [] was a KeyError (a 500) on a public path only.
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)

    def health(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(environ[ENVIRON_KEY]).encode()]

    base = serve_wsgi(JwtWsgiMiddleware(health, verifier, public_paths=["/health"]))
    answer = httpx.get(base + "/health")
    assert (answer.status_code, answer.text) == (200, "None")


def test_a_public_path_keeps_the_identity_an_outer_middleware_set(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str], jwt_tokens: Tokens) -> None:
    # Two middlewares (an app-wide optional one, a mounted app's own with /health public) share the
    # environ: the caller the outer one verified must not be replaced by None.
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)

    def health(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        identity = environ[ENVIRON_KEY]
        return [str(identity and identity.subject).encode()]

    inner = JwtWsgiMiddleware(health, verifier, public_paths=["/health"])
    base = serve_wsgi(JwtWsgiMiddleware(inner, verifier, optional=True))
    signed_in = {"Authorization": f"Bearer {jwt_tokens.valid(sub='alice')}"}
    assert httpx.get(base + "/health", headers=signed_in).text == "alice"
    assert httpx.get(base + "/health").text == "None"


class _UnnamedStatusError(MissingTokenError):
    status = 499


class _Refusing:
    def verify(self, token: str) -> dict[str, Any]:
        raise _UnnamedStatusError()


def test_a_refusal_with_a_status_http_does_not_name_is_sent_not_a_500(
        serve_wsgi: Callable[[Any], str]) -> None:
    base = serve_wsgi(JwtWsgiMiddleware(app, _Refusing()))
    r = httpx.get(base, headers={"Authorization": "Bearer a.b.c"})
    assert r.status_code == 499


def test_a_non_ascii_public_path_matches_as_the_framework_decodes_it_and_as_the_asgi_middleware_does(
        jwt_issuer: DevIssuer, serve_wsgi: Callable[[Any], str], serve_asgi: Callable[[Any], str]) -> None:
    # PEP 3333 hands PATH_INFO as the request's bytes read as latin-1; werkzeug (and so Flask) reads them
    # back as UTF-8, as ASGI servers do for scope["path"]: "/café" is the request /caf%C3%A9 in both.
    from serverless_jwt.adapters.asgi import JwtMiddleware

    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode("latin-1")]

    async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    public = ["/café", "/health"]
    bases = (serve_wsgi(JwtWsgiMiddleware(wsgi_app, verifier, public_paths=public)),
             serve_asgi(JwtMiddleware(asgi_app, verifier=verifier, public_paths=public)))
    for base in bases:
        public_route = httpx.get(base + "/caf%C3%A9")
        assert (public_route.status_code, public_route.content) == (200, "/café".encode())
        assert httpx.get(base + "/health").status_code == 200
        # The latin-1 byte for é is no UTF-8 (a server reads it as U+FFFD): not the public route.
        assert httpx.get(base + "/caf%E9").status_code == 401
        assert httpx.get(base + "/caf%C3%A9x").status_code == 401


def test_a_public_path_no_request_can_carry_is_refused_at_construction(jwt_issuer: DevIssuer) -> None:
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    with pytest.raises(ConfigurationError, match="public_paths"):
        JwtWsgiMiddleware(app, verifier, public_paths=["/\ud800"])
