"""JwtWsgiMiddleware around a plain WSGI app on werkzeug's server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from serverless_jwt import Verifier, current_identity
from serverless_jwt.adapters.wsgi import ENVIRON_KEY, JwtWsgiMiddleware
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.pytest_plugin import Tokens


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
