"""JwtAuth on a real werkzeug server, called over loopback HTTP with tokens from the DevIssuer."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import flask
import httpx
import pytest

from serverless_jwt import AuthError, ConfigurationError, InsufficientScopeError, Verifier, identity_of
from serverless_jwt.adapters.flask import JwtAuth, netlify_signed
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.pytest_plugin import Tokens

Serve = Callable[[Any], str]


def make_app(issuer: DevIssuer, **options: Any) -> tuple[flask.Flask, JwtAuth]:
    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=issuer.issuer, audience=issuer.audience), app, realm="api", **options)

    @app.get("/me")
    @auth.required()
    def me() -> Any:
        return {"sub": flask.g.identity.subject, "typed": identity_of().subject}

    @app.get("/shows")
    @auth.required("read:shows")
    def shows() -> Any:
        return ["show"]

    @app.get("/admin")
    @auth.required(roles=["admin"])
    def admin() -> Any:
        return {"ok": True}

    @app.get("/greeting")
    @auth.required(optional=True)
    def greeting() -> Any:
        identity = flask.g.identity
        return {"hello": identity.subject if identity is not None else "stranger"}

    @app.get("/raises")
    @auth.required()
    def raises() -> Any:
        raise InsufficientScopeError(["admin"])

    @app.get("/async")
    @auth.required
    async def async_view() -> Any:
        return {"sub": flask.g.identity.subject}

    return app, auth


@pytest.fixture
def base(jwt_issuer: DevIssuer, serve_wsgi: Serve) -> str:
    return serve_wsgi(make_app(jwt_issuer)[0])


def get(base: str, path: str, token: str | None = None, *, scheme: str = "Bearer",
        headers: list[tuple[str, str]] | None = None) -> httpx.Response:
    sent = list(headers or [])
    if token is not None:
        sent.append(("Authorization", f"{scheme} {token}"))
    return httpx.get(base + path, headers=sent, timeout=10)


def test_valid_token_puts_the_identity_on_g(base: str, jwt_tokens: Tokens) -> None:
    assert get(base, "/me", jwt_tokens.valid(sub="alice")).json() == {"sub": "alice", "typed": "alice"}


def test_missing_token_gets_a_bare_bearer_challenge(base: str) -> None:
    r = get(base, "/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "token_missing", "error_description": "Authentication required"}


def test_scheme_is_case_insensitive_and_other_schemes_are_no_token(base: str, jwt_tokens: Tokens) -> None:
    assert get(base, "/me", jwt_tokens.valid(sub="bob"), scheme="bearer").status_code == 200
    r = get(base, "/me", "dXNlcjpwYXNz", scheme="Basic")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, 'Bearer realm="api"')


def test_duplicate_authorization_header_is_a_bad_request(base: str, jwt_tokens: Tokens) -> None:
    token = jwt_tokens.valid()
    r = get(base, "/me", headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert token not in r.text


def test_malformed_bearer_value_is_a_bad_request(base: str) -> None:
    assert get(base, "/me", headers=[("Authorization", "Bearer a b")]).status_code == 400


@pytest.mark.parametrize("kind", ["expired", "wrong_audience", "tampered", "unsigned"])
def test_bad_tokens_are_invalid_token(base: str, jwt_tokens: Tokens, kind: str) -> None:
    token = getattr(jwt_tokens, kind)()
    r = get(base, "/me", token)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    assert token not in r.text


def test_missing_scope_and_role_are_403(base: str, jwt_tokens: Tokens) -> None:
    r = get(base, "/shows", jwt_tokens.valid())
    assert r.status_code == 403
    assert 'scope="read:shows"' in r.headers["www-authenticate"]
    assert get(base, "/shows", jwt_tokens.with_scopes("read:shows")).json() == ["show"]
    assert get(base, "/admin", jwt_tokens.valid()).status_code == 403
    assert get(base, "/admin", jwt_tokens.with_roles("admin")).json() == {"ok": True}


def test_optional_auth(base: str, jwt_tokens: Tokens) -> None:
    assert get(base, "/greeting").json() == {"hello": "stranger"}
    assert get(base, "/greeting", jwt_tokens.valid(sub="carol")).json() == {"hello": "carol"}
    assert get(base, "/greeting", jwt_tokens.tampered()).status_code == 401


def test_views_may_raise_auth_errors_and_async_views_work(base: str, jwt_tokens: Tokens,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="serverless_jwt"):
        assert get(base, "/raises", jwt_tokens.valid()).status_code == 403
    # The view's own refusal is logged once, like the extension's.
    records = [r for r in caplog.records if r.getMessage().startswith("request rejected")]
    assert [r.auth_code for r in records] == ["scope_insufficient"]  # type: ignore[attr-defined]
    assert get(base, "/async", jwt_tokens.valid(sub="dave")).json() == {"sub": "dave"}
    assert get(base, "/async").status_code == 401  # bare @auth.required protects as well


def test_issuer_down_is_503_and_recovery_is_immediate(jwt_issuer: DevIssuer, base: str,
                                                      jwt_tokens: Tokens) -> None:
    token = jwt_tokens.valid()
    jwt_issuer.fault = "503"
    r = get(base, "/me", token)
    assert (r.status_code, r.json()["error"]) == (503, "temporarily_unavailable")
    assert "www-authenticate" not in r.headers
    jwt_issuer.fault = None
    assert get(base, "/me", token).status_code == 200


def test_apps_override_the_error_handler(jwt_issuer: DevIssuer, serve_wsgi: Serve) -> None:
    app, _ = make_app(jwt_issuer)

    @app.errorhandler(InsufficientScopeError)
    def scope_page(err: AuthError) -> Any:
        return {"need": err.code}, 403

    base = serve_wsgi(app)
    assert get(base, "/raises", jwt_issuer.mint()).json() == {"need": "scope_insufficient"}
    assert get(base, "/me").status_code == 401  # other errors keep the extension's answer


def test_optional_with_scopes_is_a_configuration_error(jwt_issuer: DevIssuer) -> None:
    _, auth = make_app(jwt_issuer)
    with pytest.raises(ConfigurationError):
        auth.required("read:shows", optional=True)


def test_netlify_recipe_signed_proxy_and_nf_jwt_cookie(jwt_issuer: DevIssuer, serve_wsgi: Serve,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    proxy_secret = secrets.token_urlsafe(32)
    app = flask.Flask(__name__)
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    auth = JwtAuth(verifier, app, cookie_name="nf_jwt")

    @app.get("/me")
    @netlify_signed(proxy_secret)
    @auth.required()
    def me() -> Any:
        return {"sub": flask.g.identity.subject}

    base = serve_wsgi(app)
    signature = jwt_issuer.mint(alg="HS256", secret=proxy_secret, issuer="netlify", audience=None, sub=None,
                                lifetime_seconds=60)
    cookie = [("Cookie", f"nf_jwt={jwt_issuer.mint(sub='netlify-user')}; theme=dark")]
    assert get(base, "/me", headers=[("x-nf-sign", signature), *cookie]).json() == {"sub": "netlify-user"}
    with caplog.at_level("INFO", logger="serverless_jwt"):
        assert get(base, "/me", headers=cookie).status_code == 401
        forged = jwt_issuer.mint(alg="HS256", secret="x" * 32, issuer="netlify", audience=None, sub=None)
        assert get(base, "/me", headers=[("x-nf-sign", forged), *cookie]).status_code == 401
    assert get(base, "/me", headers=[("x-nf-sign", signature)]).status_code == 401
    # Each refusal logged once, by code, with JwtAuth's error handler answering.
    records = [r for r in caplog.records if r.getMessage().startswith("request rejected")]
    assert [r.auth_code for r in records] == ["signature_missing", "signature_invalid"]  # type: ignore[attr-defined]
    assert forged not in caplog.text


def test_importing_the_glue_without_flask_names_the_extra() -> None:
    code = ("import sys; sys.modules['flask'] = None\n"
            "try:\n    import serverless_jwt.adapters.flask\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'serverless-jwt[flask]'" in out


def test_rejections_are_logged_by_code_never_with_the_token(base: str, jwt_tokens: Tokens,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    token = jwt_tokens.wrong_audience()
    with caplog.at_level("INFO", logger="serverless_jwt"):
        assert get(base, "/me", token).status_code == 401
    records = [r for r in caplog.records if r.getMessage().startswith("request rejected")]
    assert [(r.auth_code, r.auth_check) for r in records] == [  # type: ignore[attr-defined]
        ("claims_invalid", "aud:check_failed")]
    assert token not in caplog.text


def test_a_streamed_body_sees_the_identity_on_every_step(jwt_issuer: DevIssuer, serve_wsgi: Serve,
                                                         jwt_tokens: Tokens) -> None:
    from serverless_jwt import current_identity

    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience), app)

    def lines() -> Iterator[str]:
        yield f"g={flask.g.identity.subject}\n"
        current = current_identity()
        yield f"current={current.subject if current is not None else None}\n"
        yield f"typed={identity_of().subject}\n"

    @app.get("/response")
    @auth.required()
    def response() -> Any:
        return flask.Response(flask.stream_with_context(lines()))

    @app.get("/generator")
    @auth.required()
    def generator() -> Any:
        return flask.stream_with_context(lines())

    @app.get("/tuple")
    @auth.required()
    def as_tuple() -> Any:
        return flask.stream_with_context(lines()), 201, {"X-Kind": "tuple"}

    base = serve_wsgi(app)
    token = jwt_tokens.valid(sub="alice")
    for path in ("/response", "/generator", "/tuple"):
        answer = get(base, path, token)
        assert answer.text == "g=alice\ncurrent=alice\ntyped=alice\n", path
    assert answer.status_code == 201
    assert answer.headers["x-kind"] == "tuple"


def test_send_file_keeps_the_servers_file_wrapper(jwt_issuer: DevIssuer, jwt_tokens: Tokens,
                                                  tmp_path: Any) -> None:
    # A server's wsgi.file_wrapper (sendfile) must get its own object back, as without JwtAuth.
    from werkzeug.test import EnvironBuilder

    class FileWrapper:
        def __init__(self, file: Any, block_size: int = 8192) -> None:
            self.file = file

        def __iter__(self) -> Any:
            return iter(lambda: self.file.read(8192), b"")

        def close(self) -> None:
            self.file.close()

    (tmp_path / "report.txt").write_bytes(b"report")
    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience), app)

    @app.get("/report")
    @auth.required()
    def report() -> Any:
        return flask.send_file(tmp_path / "report.txt")

    environ = EnvironBuilder(path="/report", headers={"Authorization": f"Bearer {jwt_tokens.valid()}"}
                             ).get_environ()
    environ["wsgi.file_wrapper"] = FileWrapper
    body = app.wsgi_app(environ, lambda status, headers, exc_info=None: None)
    assert isinstance(body, FileWrapper)
    assert b"".join(body) == b"report"
    body.close()


def test_nested_decorators_log_one_refusal_once(jwt_issuer: DevIssuer, serve_wsgi: Serve,
                                                jwt_tokens: Tokens, caplog: pytest.LogCaptureFixture) -> None:
    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience), app)

    @app.get("/signed")
    @auth.required()
    @netlify_signed(secrets.token_urlsafe(32))
    def signed() -> Any:
        return {"ok": True}

    @app.get("/nested")
    @auth.required()
    @auth.required("admin")
    def nested() -> Any:
        return {"ok": True}

    base = serve_wsgi(app)
    token = jwt_tokens.valid()
    with caplog.at_level("INFO", logger="serverless_jwt"):
        assert get(base, "/signed", token).status_code == 401
        assert get(base, "/nested", token).status_code == 403
    records = [r for r in caplog.records if r.getMessage().startswith("request rejected")]
    assert [r.auth_code for r in records] == [  # type: ignore[attr-defined]
        "signature_missing", "scope_insufficient"]


def test_without_init_app_every_refusal_is_still_our_answer(jwt_issuer: DevIssuer, serve_wsgi: Serve,
                                                            jwt_tokens: Tokens) -> None:
    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience))  # not registered

    @app.get("/raises")
    @auth.required()
    def raises() -> Any:
        raise InsufficientScopeError(["admin"])

    base = serve_wsgi(app)
    assert get(base, "/raises").status_code == 401
    answer = get(base, "/raises", jwt_tokens.valid())
    assert answer.status_code == 403  # Flask's 500 before
    assert answer.json()["error"] == "insufficient_scope"


def test_without_init_app_the_apps_own_auth_error_handler_still_answers(
        jwt_issuer: DevIssuer, serve_wsgi: Serve, jwt_tokens: Tokens) -> None:
    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience))  # not registered

    @app.errorhandler(AuthError)
    def mine(err: AuthError) -> Any:
        return {"mine": err.code}, 418

    @app.get("/raises")
    @auth.required()
    def raises() -> Any:
        raise InsufficientScopeError(["admin"])

    answer = get(serve_wsgi(app), "/raises", jwt_tokens.valid())
    assert (answer.status_code, answer.json()) == (418, {"mine": "scope_insufficient"})


def test_a_netlify_realm_that_is_not_text_fails_at_decoration_not_per_refusal() -> None:
    with pytest.raises(ConfigurationError, match="realm"):
        netlify_signed(secrets.token_urlsafe(32), realm=5)  # type: ignore[arg-type]



def test_each_jwt_auth_and_netlify_signed_answers_with_its_own_realm(jwt_issuer: DevIssuer, serve_wsgi: Serve,
                                                                     jwt_tokens: Tokens) -> None:
    # Several JwtAuth on one app: the last init_app's handler answered every refusal with its realm.
    app = flask.Flask(__name__)
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    users, admin = JwtAuth(verifier, app, realm="users"), JwtAuth(verifier, app, realm="admin")

    @app.get("/users")
    @users.required
    def for_users() -> Any:
        return "u"

    @app.get("/admin")
    @admin.required
    def for_admin() -> Any:
        return "a"

    @app.get("/signed")
    @netlify_signed(secrets.token_urlsafe(32), realm="proxy")
    @admin.required
    def signed() -> Any:
        return "s"

    @app.get("/scoped")
    @users.required
    def scoped() -> Any:
        raise InsufficientScopeError(["admin"])  # the view's own refusal: its decorator's realm

    base = serve_wsgi(app)
    assert get(base, "/users").headers["www-authenticate"] == 'Bearer realm="users"'
    assert get(base, "/admin").headers["www-authenticate"] == 'Bearer realm="admin"'
    assert get(base, "/signed").headers["www-authenticate"] == 'Bearer realm="proxy"'
    r = get(base, "/scoped", jwt_tokens.valid())
    assert r.status_code == 403
    assert r.headers["www-authenticate"].startswith('Bearer realm="users", error="insufficient_scope"')


ASYNC_VIEW_SAMPLE = '''
from flask import Flask
from serverless_jwt import Verifier
from serverless_jwt.adapters.flask import JwtAuth, netlify_signed

app = Flask(__name__)
auth = JwtAuth(Verifier(secrets=["x" * 32]), app)

@app.get("/a")
@auth.required("read:shows")
async def scoped() -> str:
    return "a"

@app.get("/b")
@auth.required
async def bare() -> dict[str, int]:
    return {}

@app.get("/c")
@netlify_signed("y" * 32)
@auth.required(optional=True)
async def signed() -> str:
    return "c"

reveal_type(scoped)
reveal_type(bare)
reveal_type(signed)
'''


def test_async_views_stay_valid_flask_routes_under_mypy_strict(tmp_path: Any) -> None:
    # The wrapper awaits the view (app.ensure_sync): it returns the result, not a coroutine, and a
    # "Coroutine | Response" return was no route Flask's types accept (a type-var error on @app.get).
    sample = tmp_path / "sample.py"
    sample.write_text(ASYNC_VIEW_SAMPLE)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(sample)],
        capture_output=True, text=True, check=False,
    )
    out = result.stdout
    assert 'sample.py:25: note: Revealed type is "def () -> str | flask.wrappers.Response"' in out, out
    assert 'sample.py:26: note: Revealed type is "def () -> dict[str, int] | flask.wrappers.Response"' \
        in out, out
    assert 'sample.py:27: note: Revealed type is "def () -> str | flask.wrappers.Response"' in out, out
    assert "Success: no issues found" in out, out


def test_a_blueprint_guarded_by_a_before_request_hook_reads_the_caller_in_its_views(
        jwt_issuer: DevIssuer, jwt_tokens: Tokens, serve_wsgi: Serve) -> None:
    # Flask's way to protect every view of a blueprint: the decorated hook runs, returns None, and the
    # view runs next. identity_of() / current_identity() in the view answered 401 for a verified caller.
    from serverless_jwt import current_identity

    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience), app)
    admin = flask.Blueprint("admin", __name__, url_prefix="/admin")
    admin.before_request(auth.required("read:shows")(lambda: None))

    @admin.get("/me")
    def me() -> Any:
        current = current_identity()
        return {"g": flask.g.identity.subject, "typed": identity_of().subject,
                "current": None if current is None else current.subject}

    app.register_blueprint(admin)

    @app.get("/open")
    def open_view() -> Any:  # not behind the hook: still nobody
        return {"current": current_identity() is None}

    base = serve_wsgi(app)
    r = get(base, "/admin/me", jwt_tokens.with_scopes("read:shows", sub="alice"))
    assert r.status_code == 200, r.text
    assert r.json() == {"g": "alice", "typed": "alice", "current": "alice"}
    assert get(base, "/admin/me", jwt_tokens.valid()).status_code == 403
    assert get(base, "/admin/me").status_code == 401
    assert get(base, "/open", jwt_tokens.valid()).json() == {"current": True}
    # An app context pushed once (at import, or by a test fixture) is shared by every request served
    # in it, and so is its g: the caller of one request is never the next one's.
    with app.app_context():
        client = app.test_client()
        token = jwt_tokens.with_scopes("read:shows", sub="alice")
        assert client.get("/admin/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.get("/open").get_json() == {"current": True}


def test_in_a_shared_app_context_a_request_is_never_answered_with_the_previous_requests_realm(
        jwt_issuer: DevIssuer) -> None:
    # An app context pushed once (at import, or by a fixture) is shared by every request served in it,
    # and so is its g: how the last decorator answers must not outlive its request.
    app = flask.Flask(__name__)
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    users, _ = JwtAuth(verifier, realm="users"), JwtAuth(verifier, app, realm="app")

    @app.get("/users")
    @users.required
    def users_view() -> Any:
        return {}

    @app.get("/raise")
    def raising_view() -> Any:  # undecorated: the app's handler answers, with the app's realm
        raise InsufficientScopeError(["admin"])

    with app.app_context():
        client = app.test_client()
        for _ in range(2):
            assert client.get("/users").headers["www-authenticate"] == 'Bearer realm="users"'
            r = client.get("/raise")
            assert r.headers["www-authenticate"].startswith('Bearer realm="app", error="insufficient_scope"')


def test_in_a_shared_app_context_an_undecorated_view_finds_nobody_on_g(jwt_issuer: DevIssuer,
                                                                       jwt_tokens: Tokens) -> None:
    # The caller a decorated view or hook let in stayed on the shared g: the next request's undecorated
    # view read it as g.identity.
    app = flask.Flask(__name__)
    auth = JwtAuth(Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience))
    guard = auth.required(optional=True)(lambda: None)

    @app.before_request
    def hook() -> Any:  # the app's own hook, registered before init_app: it still finds its caller
        return guard() if flask.request.path == "/hooked" else None

    auth.init_app(app)

    @app.get("/me")
    @auth.required
    def me() -> Any:
        return {"sub": flask.g.identity.subject}

    @app.get("/hooked")
    @app.get("/open")
    def undecorated() -> Any:
        identity = flask.g.get("identity")
        return {"g": None if identity is None else identity.subject}

    with app.app_context():
        client = app.test_client()
        bearer = {"Authorization": f"Bearer {jwt_tokens.valid(sub='alice')}"}
        assert client.get("/me", headers=bearer).get_json() == {"sub": "alice"}
        assert client.get("/open").get_json() == {"g": None}
        assert client.get("/hooked", headers=bearer).get_json() == {"g": "alice"}
        assert client.get("/open").get_json() == {"g": None}
