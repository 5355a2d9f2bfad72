"""Lambda HTTP events in, proxy responses out: API Gateway REST (1.0), HTTP API (2.0), ALB, Function URL.

This module reads requests and shapes responses; it decides no status and no header value (those come
from :meth:`serverless_jwt.errors.AuthError.response`).

Examples
--------
>>> event = {"version": "2.0", "headers": {"authorization": "Bearer abc.def.ghi"},
...          "requestContext": {"http": {"method": "GET"}}}
>>> detect(event), bearer_token(event)
('http_v2', 'abc.def.ghi')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Literal

from serverless_jwt import bearer as _bearer
from serverless_jwt.errors import AuthError, MissingTokenError

# `dict` first: events and claims are plain dicts, and the ABC check costs ~10x an exact-type check.
_MAPPING = (dict, Mapping)

__all__ = [
    "EventKind",
    "authorizer_claims",
    "bearer_token",
    "detect",
    "error_response",
    "header_values",
    "http_method",
    "is_preflight",
    "validate_cookie_name",
]

EventKind = Literal["rest_v1", "http_v2", "alb", "function_url"]

# The header and cookie rules live on the core side (bearer.py), shared with the ASGI/WSGI glue.
_JWT_ALPHABET = _bearer.JWT_ALPHABET
_is_token68 = _bearer.is_token68
_authorization_token = _bearer.authorization_token
validate_cookie_name = _bearer.validate_cookie_name


def detect(event: Mapping[str, Any]) -> EventKind:
    """Which HTTP event source produced ``event``.

    Unknown shapes (direct invocations, hand-written test events) are read as REST payload 1.0, the
    generic ``headers`` / ``multiValueHeaders`` form.

    Examples
    --------
    >>> detect({"requestContext": {"elb": {"targetGroupArn": "arn"}}, "httpMethod": "GET"})
    'alb'
    """
    ctx = event.get("requestContext")
    if isinstance(ctx, _MAPPING):
        if "elb" in ctx:
            return "alb"
        if event.get("version") == "2.0" or isinstance(ctx.get("http"), Mapping):
            domain = ctx.get("domainName")
            if isinstance(domain, str) and ".lambda-url." in domain:
                return "function_url"
            return "http_v2"
    elif event.get("version") == "2.0":
        return "http_v2"
    return "rest_v1"


def _raw_method(event: Mapping[str, Any]) -> str | None:
    method = event.get("httpMethod")
    if not isinstance(method, str):
        ctx = event.get("requestContext")
        http = ctx.get("http") if isinstance(ctx, _MAPPING) else None
        method = http.get("method") if isinstance(http, _MAPPING) else None
    return method if isinstance(method, str) else None


def http_method(event: Mapping[str, Any]) -> str:
    """The request method, upper-cased ("" when the event has none)."""
    method = _raw_method(event)
    return "" if method is None else method.upper()


def header_values(event: Mapping[str, Any], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive) in ``headers`` and ``multiValueHeaders``.

    ``multiValueHeaders`` is authoritative when it has the header (REST 1.0 puts only the last value
    in ``headers``); keys that differ only in case are all collected, so duplicates stay visible.
    Values are returned as sent: a comma-joined HTTP API 2.0 value is one string here.
    """
    lname = name.lower()
    size = len(lname)  # compare lengths first: most header names are skipped without lower()
    multi = event.get("multiValueHeaders")
    out: list[str] = []
    if isinstance(multi, _MAPPING) and multi:
        for key, values in multi.items():
            matches = isinstance(key, str) and len(key) == size and key.lower() == lname
            if matches and isinstance(values, list):
                out.extend(v for v in values if isinstance(v, str))
        if out:
            return out
    single = event.get("headers")
    if isinstance(single, _MAPPING) and single:
        for key, value in single.items():
            if isinstance(key, str) and len(key) == size and key.lower() == lname and isinstance(value, str):
                out.append(value)
    return out


def is_preflight(event: Mapping[str, Any]) -> bool:
    """True for a CORS preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``."""
    # Runs on every request: the usual shapes (REST/ALB httpMethod, HTTP API/Function URL
    # requestContext.http.method, plain dicts and str) are read inline; only OPTIONS pays for the
    # header scans below.
    method = event.get("httpMethod")
    if type(method) is not str:
        http = None
        if method is None:  # anything else there (a str subclass, a number) takes the general reading
            ctx = event.get("requestContext")
            http = ctx.get("http") if type(ctx) is dict else None
        method = http.get("method") if type(http) is dict else None
        if type(method) is not str:
            method = _raw_method(event)  # mappings of other types, str subclasses: the general reading
            if method is None:
                return False
    if len(method) != 7 and method.isascii():  # an ASCII upper() keeps the length: not OPTIONS
        return False
    return (
        method.upper() == "OPTIONS"
        and bool(header_values(event, "origin"))
        and bool(header_values(event, "access-control-request-method"))
    )


def _cookie_pairs(event: Mapping[str, Any]) -> list[str]:
    pairs: list[str] = []
    listed = event.get("cookies")  # HTTP API 2.0 and Function URL: one "name=value" per item
    if isinstance(listed, list):
        pairs.extend(p for p in listed if isinstance(p, str))
    for header in header_values(event, "cookie"):
        pairs.extend(header.split(";"))
    return pairs


def _cookie_token(event: Mapping[str, Any], cookie_name: str) -> str | None:
    return _bearer.cookie_token(_cookie_pairs(event), cookie_name)


_AUTHORIZATION = "authorization"
_BEARER_PREFIXES = ("Bearer ", "bearer ")


def _sole_key_value(headers: dict[Any, Any]) -> Any:
    # The value under "authorization" / "Authorization" when no other key equals it case-insensitively.
    key = _AUTHORIZATION
    value = headers.get(key)
    if value is None:
        key = "Authorization"
        value = headers.get(key)
        if value is None:
            return None
    try:
        for other in headers:  # lengths first: most names are skipped without lower()
            if len(other) == 13 and other != key and (
                    type(other) is not str or other.lower() == _AUTHORIZATION):
                return None
    except Exception:  # a key without len() or with odd comparisons: the general path decides
        return None
    return value


def _sole_authorization(event: Mapping[str, Any]) -> Any:
    # Fast path of header_values() for the usual shapes: one value, certainly the only one, else None.
    if type(event) is dict:
        multi = event.get("multiValueHeaders")
        if not multi:  # header_values reads multiValueHeaders only when it is a non-empty mapping
            headers = event.get("headers")
            if type(headers) is dict:
                return _sole_key_value(headers)
        elif type(multi) is dict:
            value = _sole_key_value(multi)
            return value[0] if type(value) is list and len(value) == 1 else None
    return None


def sent_bearer(event: Mapping[str, Any]) -> str | None:
    """What follows ``Bearer`` in the request's one Authorization header, *unchecked*, else ``None``.

    For a verifier whose parser refuses every byte outside the JWT alphabet (``Verifier``): it is given
    this string as sent and, only when it refuses it, :func:`bearer_token` decides between a malformed
    request (400) and a bad token. That skips a pass over the token on every accepted request. ``None``
    (no such header, several, another scheme, a cookie) means: call :func:`bearer_token`.
    """
    value = _sole_authorization(event)
    if type(value) is str and len(value) > 7 and value.startswith(_BEARER_PREFIXES):
        return value[7:]
    return None


def bearer_token(event: Mapping[str, Any], *, cookie_name: str | None = None) -> str:
    """The bearer token of a request (RFC 6750 §2.1), optionally from a cookie.

    The ``Authorization`` header wins over the cookie. The query string is never read (RFC 6750 §2.3
    tokens end up in logs and browser history).

    Parameters
    ----------
    event:
        An API Gateway REST / HTTP API, ALB or Function URL event.
    cookie_name:
        Also accept the token from this cookie (``"nf_jwt"`` for Netlify Identity). Off by default.

    Raises
    ------
    MissingTokenError
        No bearer credentials (none at all, or another scheme such as Basic).
    InvalidRequestError
        Several Authorization values, or ``Bearer`` with an empty or malformed token.

    Examples
    --------
    >>> bearer_token({"headers": {"AUTHORIZATION": "bearer a.b.c"}})
    'a.b.c'
    """
    value = _sole_authorization(event)
    if type(value) is str:
        if value.startswith(_BEARER_PREFIXES):
            sent = value[7:]
            # "Bearer <token68>" exactly: the general parse below would return this same token.
            if sent and sent.isascii() and not sent.encode("ascii").translate(None, _JWT_ALPHABET):
                return sent
        values = [value]
    else:
        values = header_values(event, "authorization")
    if values:
        token = _authorization_token(values)
        if token is not None:
            return token
    if cookie_name is not None:
        token = _cookie_token(event, cookie_name)
        if token is not None:
            return token
    raise MissingTokenError()


_LAMBDA_AUTHORIZER_NOISE = frozenset({"integrationLatency"})
_OWN_CONTEXT = "serverless_jwt.encoding"  # marks a context written by serverless_jwt's authorizer


def authorizer_claims(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """Claims an API Gateway authorizer already checked, or ``None`` when there are none.

    Read only when the application explicitly trusts its authorizer: nothing here is verified, and an
    event can be forged by anyone who can invoke the function directly.

    REST 1.0: ``requestContext.authorizer.claims`` (Cognito user pool authorizer) or the Lambda
    authorizer's context (``requestContext.authorizer``). HTTP API 2.0 / Function URL:
    ``requestContext.authorizer.jwt.claims`` or ``requestContext.authorizer.lambda``.
    """
    ctx = event.get("requestContext")
    auth = ctx.get("authorizer") if isinstance(ctx, _MAPPING) else None
    if not isinstance(auth, _MAPPING):
        return None
    jwt = auth.get("jwt")
    if not (isinstance(jwt, _MAPPING) and isinstance(jwt.get("claims"), Mapping)):
        # Payload 1.0 of an HTTP API JWT authorizer: the same claims and scopes, without the "jwt" level.
        claims = auth.get("claims")
        v1 = isinstance(claims, Mapping) and claims and (event.get("version") == "1.0" or "scopes" in auth)
        jwt = auth if v1 else None
    if jwt is not None:
        from serverless_jwt.adapters._context import claims_from_jwt_authorizer

        return claims_from_jwt_authorizer(jwt)  # arrays arrive flattened: "[admin users]"
    for key in ("claims", "lambda"):
        value = auth.get(key)
        if isinstance(value, _MAPPING) and value:
            return _lambda_context(value)
    if detect(event) == "rest_v1" and "principalId" in auth:
        claims = _lambda_context({k: v for k, v in auth.items() if k not in _LAMBDA_AUTHORIZER_NOISE})
        principal = auth.get("principalId")
        if "sub" not in claims and isinstance(principal, str) and principal and _OWN_CONTEXT in auth:
            claims["sub"] = principal  # our authorizer sets principalId to the verified subject
        return claims
    return None


def _lambda_context(context: Mapping[str, Any]) -> dict[str, Any]:
    # A context written by serverless_jwt's own authorizer is flattened: restore the claims' types.
    from serverless_jwt.adapters._context import ENCODING_KEY, claims_from_context

    return claims_from_context(context) if ENCODING_KEY in context else dict(context)


def error_response(
    event: Mapping[str, Any],
    err: AuthError,
    *,
    realm: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The proxy response for ``err`` in the shape ``event``'s source expects.

    Parameters
    ----------
    event:
        The request, to pick the response shape (ALB needs ``statusDescription`` and answers in
        ``multiValueHeaders`` when the request came that way).
    err:
        The error; its status, headers and body come from :meth:`AuthError.response`.
    realm:
        Optional ``realm`` for ``WWW-Authenticate``.
    headers:
        Extra headers to add (for example CORS headers so browsers can read the 401); they never
        replace the error's own headers.

    Examples
    --------
    >>> r = error_response({"headers": {}}, MissingTokenError(), realm="api")
    >>> r["statusCode"], r["headers"]["WWW-Authenticate"]
    (401, 'Bearer realm="api"')
    """
    shaped = err.response(realm)
    if headers:
        # Names compare case-insensitively: "cache-control" beside the error's "Cache-Control" would
        # be a second header, and which one a gateway keeps is not ours to leave to chance.
        own = {name.lower() for name in shaped.headers}
        out_headers = {**{k: v for k, v in headers.items() if k.lower() not in own}, **shaped.headers}
    else:
        out_headers = shaped.headers
    return _proxy_response(event, shaped.status, out_headers, json.dumps(shaped.body))


def preflight_response(event: Mapping[str, Any], *,
                       headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An empty ``204`` answer to a CORS preflight, carrying ``headers`` (your CORS headers).

    Examples
    --------
    >>> preflight_response({"headers": {}}, headers={"Access-Control-Allow-Origin": "*"})["statusCode"]
    204
    """
    return _proxy_response(event, 204, dict(headers or {}), "")


def _proxy_response(event: Mapping[str, Any], status: int, out_headers: dict[str, str],
                    body: str) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status}
    if detect(event) == "alb":
        response["statusDescription"] = f"{status} {HTTPStatus(status).phrase}"
        if isinstance(event.get("multiValueHeaders"), Mapping):
            response["multiValueHeaders"] = {k: [v] for k, v in out_headers.items()}
        else:
            response["headers"] = out_headers
    else:
        response["headers"] = out_headers
    response["body"] = body
    response["isBase64Encoded"] = False
    return response
