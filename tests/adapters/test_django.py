"""JwtAuthMiddleware in a minimal Django project: Django's test clients, werkzeug (WSGI), uvicorn (ASGI).

Django's settings are process-global: they are configured once, in this module's fixture (so only an
xdist worker that runs these tests configures them), and every test's SERVERLESS_JWT comes through
override_settings, undone at its end. No other test module uses Django.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import threading
import types
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from serverless_jwt import Verifier, current_identity, identity_of
from serverless_jwt.adapters.django import JwtAuthMiddleware, require_role, require_scope
from serverless_jwt.adapters.wsgi import JwtWsgiMiddleware
from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH, DevIssuer
from serverless_jwt.dev.pytest_plugin import Tokens
from serverless_jwt.errors import ConfigurationError

MIDDLEWARE = "serverless_jwt.adapters.django.JwtAuthMiddleware"
Serve = Callable[[Any], str]


def _seen(request: HttpRequest) -> dict[str, Any]:
    identity = request.identity  # type: ignore[attr-defined]
    return {"sub": identity and identity.subject, "current": current_identity() is identity}


def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_seen(request))


async def async_me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_seen(request))


@require_scope("read:shows")
def shows(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_seen(request))


@require_scope("read:shows")
async def async_shows(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_seen(request))


@require_role("admin")
def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_seen(request))


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": identity_of().subject})  # MissingTokenError for an anonymous caller


async def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "identity": request.identity})  # type: ignore[attr-defined]


def streamed(request: HttpRequest) -> StreamingHttpResponse:
    def body() -> Iterator[str]:  # run as the server sends it, after the middleware returned
        yield json.dumps(_seen(request))

    return StreamingHttpResponse(body(), content_type="application/json")


async def async_streamed(request: HttpRequest) -> StreamingHttpResponse:
    async def body() -> AsyncIterator[str]:
        yield json.dumps(_seen(request))

    return StreamingHttpResponse(body(), content_type="application/json")


URLS = types.ModuleType("urls")  # ROOT_URLCONF may be the module itself: this one needs no import path
URLS.urlpatterns = [  # type: ignore[attr-defined]
    path("me", me), path("async-me", async_me), path("shows", shows), path("async-shows", async_shows),
    path("admin", admin), path("whoami", whoami), path("health/", health),
    path("streamed", streamed), path("async-streamed", async_streamed),
]


@pytest.fixture(scope="module", autouse=True)
def _django_project() -> None:
    import django

    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY=secrets.token_urlsafe(32), ALLOWED_HOSTS=["testserver", "127.0.0.1"],
            ROOT_URLCONF=URLS, MIDDLEWARE=[MIDDLEWARE], INSTALLED_APPS=[], DATABASES={},
            LOGGING_CONFIG=None,  # Django's logging setup would touch this process's loggers
        )
        django.setup()


@pytest.fixture
def use_settings() -> Iterator[Callable[..., None]]:
    """``use_settings(**SERVERLESS_JWT)``: in effect until the test ends (a Client loads its middleware
    on its first request)."""
    active: list[override_settings] = []

    def use(**options: Any) -> None:
        override = override_settings(SERVERLESS_JWT=options)
        override.enable()
        active.append(override)

    yield use
    for override in reversed(active):
        override.disable()


def client(token: str | None = None, scheme: str = "Bearer") -> Client:
    return Client(headers={} if token is None else {"Authorization": f"{scheme} {token}"})


def test_a_valid_token_puts_the_caller_on_request_identity_and_current_identity(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings()  # the default verifier: Verifier.from_env()
    token = jwt_tokens.with_scopes("read:shows", sub="alice")
    for view in ("/me", "/async-me", "/shows", "/async-shows"):
        assert client(token).get(view).json() == {"sub": "alice", "current": True}, view
    assert client(token, scheme="bearer").get("/me").json()["sub"] == "alice"  # the scheme's case


def test_a_streamed_body_is_computed_with_the_caller_on_current_identity(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings()
    headers = {"Authorization": f"Bearer {jwt_tokens.valid(sub='alice')}"}

    async def read(route: str) -> bytes:
        answer = await AsyncClient().get(route, headers=headers)
        if not answer.is_async:  # a sync body, read in the test's own context
            return b"".join(answer.streaming_content)
        return b"".join([part async for part in answer.streaming_content])

    expected = {"sub": "alice", "current": True}
    assert json.loads(b"".join(Client(headers=headers).get("/streamed").streaming_content)) == expected
    for route in ("/streamed", "/async-streamed"):
        assert json.loads(asyncio.run(read(route))) == expected, route


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_no_bearer_token_is_401_with_a_bare_bearer_challenge(
        jwt_env: DevIssuer, use_settings: Callable[..., None], headers: dict[str, str]) -> None:
    use_settings()
    # AsyncClient: Django's ASGI handler, the middleware's async path. Its headers go on each request:
    # AsyncClient(headers=...) sends them as an "Http-Authorization" header, which is no Authorization.
    answers = Client(headers=headers).get("/me"), asyncio.run(AsyncClient().get("/me", headers=headers))
    for answer in answers:
        assert (answer.status_code, answer["WWW-Authenticate"]) == (401, "Bearer")
        assert answer.json() == {"error": "token_missing", "error_description": "Authentication required"}
        assert answer["Content-Type"] == "application/json"


def test_bad_tokens_are_refused_as_rfc_6750_says(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings()
    answer = client("a b").get("/me")
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")
    assert answer["WWW-Authenticate"].startswith('Bearer error="invalid_request"')
    for token in (jwt_tokens.expired(), jwt_tokens.wrong_audience(), jwt_tokens.tampered()):
        answer = client(token).get("/me")
        assert (answer.status_code, answer.json()["error"]) == (401, "invalid_token")
        assert token not in answer.content.decode()


def test_a_missing_scope_or_role_is_403(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings()
    token = jwt_tokens.valid()
    for view in ("/shows", "/async-shows"):
        answer = client(token).get(view)
        assert (answer.status_code, answer.json()["error"]) == (403, "insufficient_scope")
        assert 'scope="read:shows"' in answer["WWW-Authenticate"]
    assert (client(token).get("/admin").status_code) == 403
    assert client(jwt_tokens.with_roles("admin", sub="root")).get("/admin").json()["sub"] == "root"


def test_scopes_in_the_setting_are_required_on_every_view(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings(scopes=["api"], realm="api")
    answer = client(jwt_tokens.valid()).get("/me")
    assert answer.status_code == 403
    assert answer["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
    assert client(jwt_tokens.with_scopes("api", sub="bob")).get("/me").json()["sub"] == "bob"


def test_optional_serves_anonymous_callers_and_still_refuses_bad_tokens(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings(optional=True)
    assert client().get("/me").json() == {"sub": None, "current": True}
    assert client(jwt_tokens.expired()).get("/me").status_code == 401
    # A view that demands a caller answers an anonymous one 401 (not 403, not 500).
    for view in ("/shows", "/whoami"):
        answer = client().get(view)
        assert (answer.status_code, answer["WWW-Authenticate"]) == (401, "Bearer"), view


def test_a_public_path_is_served_without_a_token(
        jwt_env: DevIssuer, use_settings: Callable[..., None]) -> None:
    use_settings(public_paths=["/health/"])
    assert client().get("/health/").json() == {"status": "ok", "identity": None}
    assert client().get("/me").status_code == 401


def test_public_paths_are_request_path_info_under_a_script_name(
        jwt_env: DevIssuer, use_settings: Callable[..., None]) -> None:
    use_settings(public_paths=["/health/"])
    with override_settings(FORCE_SCRIPT_NAME="/api"):  # request.path is /api/health/, routes see /health/
        assert client().get("/health/").json() == {"status": "ok", "identity": None}
        assert client().get("/api/health/").status_code == 401


def test_the_caller_is_off_current_identity_once_the_response_is_made(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings()  # Django's test Client runs the request in this thread, in this context
    assert client(jwt_tokens.valid(sub="alice")).get("/me").status_code == 200
    assert current_identity() is None
    assert client(jwt_tokens.valid()).get("/shows").status_code == 403  # refused by the view
    assert current_identity() is None


def test_the_token_cookie_is_read_when_configured(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings(cookie_name="nf_jwt")
    browser = Client()
    browser.cookies["nf_jwt"] = jwt_tokens.valid(sub="carol")
    assert browser.get("/me").json()["sub"] == "carol"


def test_the_issuer_down_at_cold_start_is_503_then_recovers(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings()
    token = jwt_tokens.valid()
    jwt_env.fault = "503"
    answer = client(token).get("/me")
    assert (answer.status_code, answer.json()["error"]) == (503, "temporarily_unavailable")
    assert "Retry-After" in answer
    jwt_env.fault = None
    assert client(token).get("/me").status_code == 200


def test_a_refusal_a_view_raises_is_logged_once(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None],
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="serverless_jwt")
    use_settings()
    assert client(jwt_tokens.valid()).get("/shows").status_code == 403
    records = [r for r in caplog.records if r.getMessage().startswith("request rejected")]
    assert [r.auth_code for r in records] == ["scope_insufficient"]  # type: ignore[attr-defined]


def test_a_decorator_without_the_middleware_says_what_is_missing(
        jwt_env: DevIssuer, jwt_tokens: Tokens) -> None:
    with override_settings(MIDDLEWARE=[]), pytest.raises(ImproperlyConfigured, match="JwtAuthMiddleware"):
        Client().get("/shows")


def test_the_verifier_and_claims_mapper_may_be_dotted_paths(
        jwt_issuer: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None],
        monkeypatch: pytest.MonkeyPatch) -> None:
    auth = types.ModuleType("myproject_auth")
    auth.verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)  # type: ignore[attr-defined]
    auth.renamed = lambda claims: {**claims, "sub": "mapped"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "myproject_auth", auth)
    use_settings(verifier="myproject_auth.verifier", claims_mapper="myproject_auth.renamed")
    assert client(jwt_tokens.valid()).get("/me").json()["sub"] == "mapped"


@pytest.mark.parametrize(("setting", "message"), [
    (["/health/"], "must be a dict"),
    ({"public_path": ["/health/"]}, "unknown option"),
    ({"optional": "false"}, "optional must be True or False"),
    ({"optional": True, "scopes": ["read:shows"]}, "optional authentication cannot"),
    ({"scopes": "read:shows"}, "not one string"),
    ({"public_paths": "/health/"}, "collection of route paths"),
    ({"verifier": "serverless_jwt.Verifier"}, "not a class"),
    ({"verifier": "no_such_module.verifier"}, "cannot be imported"),
    ({"error_headers": {"Content-Length": "0"}}, "error_headers"),
    ({"public_paths": ["health/"]}, "start with /"),  # as urls.py spells it: no request path matches
])
def test_a_bad_setting_is_improperly_configured_when_django_loads_the_middleware(
        jwt_env: DevIssuer, setting: Any, message: str) -> None:
    with override_settings(SERVERLESS_JWT=setting), \
            pytest.raises(ImproperlyConfigured, match=message) as caught:
        WSGIHandler()
    assert isinstance(caught.value, ConfigurationError)  # one error for both audiences
    assert str(caught.value).startswith("SERVERLESS_JWT: ")


def test_an_option_set_to_none_is_its_default(
        jwt_env: DevIssuer, jwt_tokens: Tokens, use_settings: Callable[..., None]) -> None:
    use_settings(public_paths=None, scopes=None, roles=None, optional=None, roles_claim=None,
                 verifier=None, realm=None, cookie_name=None, claims_mapper=None, error_headers=None)
    assert client(jwt_tokens.valid(sub="erin")).get("/me").json()["sub"] == "erin"
    assert client().get("/me").status_code == 401  # optional None: not optional


def test_no_verifier_and_no_environment_is_improperly_configured_at_startup() -> None:
    with override_settings(SERVERLESS_JWT=None), pytest.raises(ImproperlyConfigured, match="JWT_ISSUER"):
        WSGIHandler()


def test_the_middleware_is_sync_and_async_capable() -> None:
    assert (JwtAuthMiddleware.sync_capable, JwtAuthMiddleware.async_capable) == (True, True)


# -- real servers: Django's own WSGI and ASGI handlers on loopback --------------------------------------

def get(base: str, route: str, token: str | None = None,
        headers: list[tuple[str, str]] | None = None) -> httpx.Response:
    sent = list(headers or [])
    if token is not None:
        sent.append(("Authorization", f"Bearer {token}"))
    return httpx.get(base + route, headers=sent, timeout=10)


@pytest.fixture(params=["wsgi", "asgi"])
def server(request: pytest.FixtureRequest, jwt_env: DevIssuer, serve_wsgi: Serve, serve_asgi: Serve,
           use_settings: Callable[..., None]) -> str:
    use_settings(public_paths=["/health/"], realm="api")
    return serve_wsgi(WSGIHandler()) if request.param == "wsgi" else serve_asgi(ASGIHandler())


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")  # a body of the other kind
def test_a_real_server_answers_as_the_other_adapters_do(
        server: str, jwt_env: DevIssuer, jwt_tokens: Tokens, serve_wsgi: Serve) -> None:
    # The same requests to a plain WSGI app under JwtWsgiMiddleware: the same status, challenge and bytes.
    def plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    other = serve_wsgi(JwtWsgiMiddleware(plain, Verifier.from_env(), realm="api"))
    token = jwt_tokens.valid()
    for headers in ([], [("Authorization", "Basic dXNlcjpwYXNz")], [("Authorization", "Bearer a b")],
                    [("Authorization", f"Bearer {jwt_tokens.expired()}")],
                    [("Authorization", f"Bearer {jwt_tokens.wrong_audience()}")],
                    [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]):
        ours, theirs = get(server, "/me", headers=headers), get(other, "/", headers=headers)
        assert ours.status_code in (400, 401)
        assert (ours.status_code, ours.headers["www-authenticate"], ours.content) == (
            theirs.status_code, theirs.headers["www-authenticate"], theirs.content), headers
    duplicate = get(server, "/me", headers=[("Authorization", f"Bearer {token}")] * 2)
    assert (duplicate.status_code, duplicate.json()["error"]) == (400, "invalid_request")
    assert get(server, "/me", jwt_tokens.valid(sub="dave")).json() == {"sub": "dave", "current": True}
    assert get(server, "/async-me", jwt_tokens.valid(sub="dave")).json() == {"sub": "dave", "current": True}
    for route in ("/streamed", "/async-streamed"):  # the body sent after the middleware returned
        assert get(server, route, jwt_tokens.valid(sub="dave")).json() == {"sub": "dave", "current": True}
    assert get(server, "/health/").json() == {"status": "ok", "identity": None}
    refused = get(server, "/async-shows", token)  # raised in an async view, answered by the middleware
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
    assert refused.headers["www-authenticate"].endswith('scope="read:shows"')


@pytest.mark.parametrize(("slow_seconds", "status"), [(1.5, 200), (3.5, 503)])
def test_a_slow_issuer_at_cold_start_does_not_stall_other_async_requests(
        jwt_env: DevIssuer, jwt_tokens: Tokens, serve_asgi: Serve, use_settings: Callable[..., None],
        slow_seconds: float, status: int) -> None:
    # Discovery stalls; within the 3 s deadline the keys arrive (200), past it the answer is 503.
    use_settings(public_paths=["/health/"])
    base = serve_asgi(ASGIHandler())
    token = jwt_tokens.valid(sub="slow")
    jwt_env.fault, jwt_env.slow_seconds, jwt_env.fault_paths = "slow", slow_seconds, {DISCOVERY_PATH}
    results: list[httpx.Response] = []
    done = threading.Event()

    def cold() -> None:
        results.append(get(base, "/async-me", token))
        done.set()

    callers = [threading.Thread(target=cold) for _ in range(3)]
    for thread in callers:
        thread.start()
    while jwt_env.requests[DISCOVERY_PATH] == 0:
        threading.Event().wait(0.01)
    # The key fetch is stalled in discovery; the same server answers a public async view meanwhile. Had
    # the fetch blocked the event loop, this answer could only come after the cold requests'.
    assert get(base, "/health/").json() == {"status": "ok", "identity": None}
    assert jwt_env.requests[JWKS_PATH] == 0
    assert not done.is_set()
    for thread in callers:
        thread.join(timeout=10)
    assert [r.status_code for r in results] == [status] * 3
    assert jwt_env.requests[DISCOVERY_PATH] == 1  # one shared fetch
    if status == 200:
        assert json.loads(results[0].content) == {"sub": "slow", "current": True}


def test_importing_the_adapter_without_django_names_the_extra() -> None:
    code = ("import sys; sys.modules['django'] = None\n"
            "try:\n    import serverless_jwt.adapters.django\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'serverless-jwt[django]'" in out
