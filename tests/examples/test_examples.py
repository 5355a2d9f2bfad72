"""examples/fastapi_app.py (uvicorn) and examples/flask_app.py (werkzeug) answer as the Lambda samples do.

Each case is sent to the example app over loopback HTTP and to the matching Lambda sample handler as an
HTTP API event; status, JSON body and ``WWW-Authenticate`` must be the same.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.runtime import LambdaContext

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path, name: str) -> ModuleType:
    # A fresh module per test: the verifier is built at import from the environment set for the test.
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["fastapi", "flask"])
def example(request: pytest.FixtureRequest, jwt_env: DevIssuer, serve_asgi: Callable[[Any], str],
            serve_wsgi: Callable[[Any], str]) -> str:
    module = _load(ROOT / "examples" / f"{request.param}_app.py", f"example_{request.param}_app")
    serve = serve_asgi if request.param == "fastapi" else serve_wsgi
    return serve(module.app)


def _lambda(path: str, token: str | None, lambda_event: Callable[..., dict[str, Any]]
            ) -> tuple[int, Any, str | None]:
    name = "me" if path == "/me" else "shows"
    sample = _load(ROOT / "lambdas" / name / "app.py", f"sample_{name}")
    show_id = path.removeprefix("/shows/") if path.startswith("/shows/") else None
    event = lambda_event("http_v2", path=path, token=token,
                         path_parameters={"id": show_id} if show_id is not None else None)
    response = sample.handler(event, LambdaContext(name))
    headers = {k.lower(): v for k, v in response["headers"].items()}
    return response["statusCode"], json.loads(response["body"]), headers.get("www-authenticate")


CASES = [
    ("/me", "valid"), ("/me", None), ("/me", "expired"), ("/me", "wrong_audience"), ("/me", "tampered"),
    ("/shows", "valid"), ("/shows", "reader"), ("/shows", None), ("/shows/1", "reader"),
    ("/shows/999999", "reader"), ("/shows/01", "reader"), ("/shows/1", "valid"),
]


@pytest.mark.parametrize(("path", "kind"), CASES)
def test_example_answers_like_the_lambda_sample(example: str, jwt_env: DevIssuer, path: str, kind: str | None,
                                                jwt_lambda_event: Callable[..., dict[str, Any]]) -> None:
    token = {None: None, "valid": jwt_env.mint(sub="alice"),
             "reader": jwt_env.mint(sub="alice", scopes=["read:shows"]),
             "expired": jwt_env.mint(lifetime_seconds=60, now=0),
             "wrong_audience": jwt_env.mint(audience="https://another-api.example"),
             "tampered": jwt_env.mint()[:-4] + "AAAA"}[kind]
    r = httpx.get(example + path, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=10)
    status, body, challenge = _lambda(path, token, jwt_lambda_event)
    assert (r.status_code, r.json(), r.headers.get("www-authenticate")) == (status, body, challenge)
    if kind == "reader" and path == "/shows":
        assert isinstance(body, list)
        assert len(body) > 1


def test_me_returns_the_claims(example: str, jwt_env: DevIssuer) -> None:
    token = jwt_env.mint(sub="alice", roles=["editor"])
    claims = httpx.get(example + "/me", headers={"Authorization": f"bearer {token}"}).json()["claims"]
    assert claims["sub"] == "alice"
    assert claims["app_metadata"] == {"authorization": {"roles": ["editor"]}}
