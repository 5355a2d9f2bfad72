"""The sample functions through their handlers, with real tokens from the loopback DevIssuer."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.runtime import LambdaContext

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def _load(name: str) -> ModuleType:
    # A fresh module per test: the verifier is built at import from the environment set for the test.
    spec = importlib.util.spec_from_file_location(f"sample_{name}_app", LAMBDAS / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def env(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> DevIssuer:
    for name in ("JWT_SECRET", "JWT_JWKS_URI", "JWT_PUBLIC_KEY", "JWT_ALGORITHMS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_ISSUER", issuer.issuer)
    monkeypatch.setenv("JWT_AUDIENCE", issuer.audience)
    return issuer


def _event(token: str | None, path: str = "/me", params: dict[str, str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((LAMBDAS.parent / "events" / "me.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if token is None:
        event["headers"].pop("authorization", None)
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    if params is not None:
        event["pathParameters"] = params
    return event


def _call(module: ModuleType, event: dict[str, Any], name: str = "F") -> tuple[int, Any, dict[str, str]]:
    response = module.handler(event, LambdaContext(name))
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def test_me_returns_the_verified_claims(env: DevIssuer) -> None:
    me = _load("me")
    status, body, headers = _call(me, _event(env.mint(sub="alice", roles=["editor"])))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body["claims"]["sub"] == "alice"
    assert body["claims"]["iss"] == env.issuer
    assert body["claims"]["app_metadata"] == {"authorization": {"roles": ["editor"]}}


@pytest.mark.parametrize("case", ["missing", "expired", "foreign_key", "wrong_audience", "dpop_bound"])
def test_me_rejects_requests_without_a_valid_token(env: DevIssuer, case: str) -> None:
    token = {
        "missing": None,
        "expired": env.mint(lifetime_seconds=-3600),
        "foreign_key": env.mint_with_foreign_key(),
        "wrong_audience": env.mint(audience="another-api"),
        # Bound to a DPoP key (RFC 9449): presented as a bearer token, it could be a stolen one.
        "dpop_bound": env.mint(claims={"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
    }[case]
    status, body, headers = _call(_load("me"), _event(token))
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert "claims" not in body


def test_me_logs_request_id_and_subject_but_never_the_token(env: DevIssuer) -> None:
    me = _load("me")
    stream = io.StringIO()
    me.logger.registered_handler.setStream(stream)  # Powertools keeps one handler per service name
    token = env.mint(sub="alice")
    context = LambdaContext("MeFunction", request_id="req-123")
    me.handler(_event(token), context)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "the sample logs one structured line per request"
    assert lines[-1]["service"] == "me"
    assert lines[-1]["function_request_id"] == "req-123"
    assert lines[-1]["subject"] == "alice"
    assert all(token not in json.dumps(line) for line in lines)


def test_shows_requires_the_read_shows_scope(env: DevIssuer) -> None:
    status, body, headers = _call(_load("shows"), _event(env.mint(scopes=["read:movies"]), "/shows"))
    assert status == 403
    assert body["error"] == "insufficient_scope"
    assert 'scope="read:shows"' in headers["WWW-Authenticate"]


def test_shows_lists_the_catalogue(env: DevIssuer) -> None:
    status, body, _ = _call(_load("shows"), _event(env.mint(scopes=["read:shows"]), "/shows"))
    assert status == 200
    assert isinstance(body, list)
    assert len(body) >= 3
    assert all(set(show) == {"id", "name", "url"} for show in body)
    assert len({show["id"] for show in body}) == len(body)
    assert all(show["url"].startswith("https://") for show in body)


def test_one_show_by_id(env: DevIssuer) -> None:
    shows = _load("shows")
    status, body, _ = _call(shows, _event(env.mint(scopes=["read:shows"]), "/shows/2", {"id": "2"}))
    assert status == 200
    assert body == next(show for show in shows.SHOWS if show["id"] == 2)


@pytest.mark.parametrize(
    "show_id", ["999", "0", "01", "-1", "1.0", "abc", "", " 1", "\uff11", "9" * 40, "1/2"])
def test_unknown_or_malformed_show_id_is_404_json(env: DevIssuer, show_id: str) -> None:
    status, body, headers = _call(
        _load("shows"), _event(env.mint(scopes=["read:shows"]), "/shows/x", {"id": show_id}))
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert body["error"] == "not_found"


def test_shows_list_needs_a_token_even_with_path_parameters(env: DevIssuer) -> None:
    status, _, _ = _call(_load("shows"), _event(None, "/shows/1", {"id": "1"}))
    assert status == 401


def test_samples_accept_a_shared_secret(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Netlify Identity style: JWT_SECRET only, HS256.
    secret = "s" * 40
    for name in ("JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS_URI", "JWT_PUBLIC_KEY", "JWT_ALGORITHMS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_SECRET", secret)
    token = issuer.mint(sub="netlify-user", alg="HS256", secret=secret, issuer=None, audience=None)
    status, body, _ = _call(_load("me"), _event(token))
    assert status == 200
    assert body["claims"]["sub"] == "netlify-user"
    forged = issuer.mint(sub="netlify-user", alg="HS256", secret="t" * 40, issuer=None, audience=None)
    assert _call(_load("me"), _event(forged))[0] == 401
