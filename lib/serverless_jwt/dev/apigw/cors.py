"""CORS as API Gateway answers it for SAM's two configurations.

HTTP API (``CorsConfiguration``): API Gateway itself answers every preflight (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) with ``204``, before any route, authorizer or
function, and puts ``access-control-allow-origin`` (plus exposed headers and credentials) on every
answer to an allowed origin, replacing the function's own CORS headers. A disallowed origin gets the
204 without CORS headers.

REST API (``Cors``): SAM adds an ``OPTIONS`` method with a mock integration to every path, answering
``200`` with the configured values whatever the origin; it runs the default authorizer first unless
``AddDefaultAuthorizerToCorsPreflight: false``. Other answers get no CORS headers: with a Lambda proxy
integration the function must send them, exactly as on AWS.
"""

from __future__ import annotations

from collections.abc import Sequence

from serverless_jwt.dev.apigw.events import Request
from serverless_jwt.dev.apigw.responses import Answer
from serverless_jwt.dev.apigw.routes import Cors, Route

__all__ = ["http_preflight", "http_response_headers", "is_preflight", "rest_preflight"]

_ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def is_preflight(request: Request) -> bool:
    """An ``OPTIONS`` request carrying ``Origin`` and ``Access-Control-Request-Method``."""
    return (request.method.upper() == "OPTIONS" and bool(request.header("Origin"))
            and bool(request.header("Access-Control-Request-Method")))


def _origin_allowed(cors: Cors, origin: str) -> str | None:
    if "*" in cors.allow_origins:
        return origin if cors.allow_credentials else "*"
    return origin if origin in cors.allow_origins else None


def http_preflight(cors: Cors, request: Request) -> Answer:
    """API Gateway's ``204`` to an HTTP API preflight."""
    headers: list[tuple[str, str]] = []
    origin = _origin_allowed(cors, request.header("Origin") or "")
    wanted_method = (request.header("Access-Control-Request-Method") or "").upper()
    asked = request.header("Access-Control-Request-Headers") or ""
    wanted_headers = [h.strip().lower() for h in asked.split(",") if h.strip()]
    methods = {m.upper() for m in cors.allow_methods}
    allowed_headers = {h.lower() for h in cors.allow_headers}
    method_ok = "*" in methods or wanted_method in methods
    headers_ok = "*" in allowed_headers or all(h in allowed_headers for h in wanted_headers)
    if origin is not None and method_ok and headers_ok:
        headers.append(("access-control-allow-origin", origin))
        headers.append(("access-control-allow-methods", ",".join(cors.allow_methods) or wanted_method))
        if cors.allow_headers:
            headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
        if cors.max_age is not None:
            headers.append(("access-control-max-age", str(cors.max_age)))
        if cors.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if origin != "*":
            headers.append(("vary", "Origin"))
    return Answer(204, headers, b"")


def http_response_headers(cors: Cors, request: Request) -> list[tuple[str, str]]:
    """CORS headers API Gateway adds to an HTTP API answer (empty for a disallowed origin)."""
    origin = _origin_allowed(cors, request.header("Origin") or "") if request.header("Origin") else None
    if origin is None:
        return []
    out = [("access-control-allow-origin", origin)]
    if cors.expose_headers:
        out.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        out.append(("access-control-allow-credentials", "true"))
    if origin != "*":
        out.append(("vary", "Origin"))
    return out


def rest_preflight(cors: Cors, routes: Sequence[Route]) -> Answer:
    """SAM's mock ``OPTIONS`` integration for a REST path served by ``routes``."""
    methods = cors.allow_methods
    if not methods:
        found = {r.method for r in routes}
        methods = _ALL_METHODS if "ANY" in found else tuple(sorted(found | {"OPTIONS"}))
    headers = [("Content-Type", "application/json"),
               *[("Access-Control-Allow-Origin", origin) for origin in cors.allow_origins[:1]],
               ("Access-Control-Allow-Methods", ",".join(methods))]
    if cors.allow_headers:
        headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return Answer(200, headers, b"")


def strip_cors(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A function's headers without its own ``Access-Control-*`` (HTTP API replaces them)."""
    return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
