"""Lambda HTTP events in, proxy responses out: API Gateway REST (1.0), HTTP API (2.0), ALB, Function URL.

This module reads what every request needs (bearer token, CORS preflight, method, headers, cookies).
What depends on the event's source and runs only off that path (:func:`detect`, :func:`authorizer_claims`,
:func:`error_response`, :func:`preflight_response`) lives in :mod:`serverless_jwt.adapters._event_source`
and is re-exported here: import it from here. Neither decides a status or a header value (those come
from :meth:`serverless_jwt.errors.AuthError.response`).

Examples
--------
>>> event = {"version": "2.0", "headers": {"authorization": "Bearer abc.def.ghi"},
...          "requestContext": {"http": {"method": "GET"}}}
>>> detect(event), bearer_token(event)
('http_v2', 'abc.def.ghi')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serverless_jwt import bearer as _bearer
from serverless_jwt.adapters._event_source import (
    EventKind,
    authorizer_claims,
    detect,
    error_response,
)
from serverless_jwt.adapters._event_source import preflight_response as preflight_response
from serverless_jwt.errors import MissingTokenError

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

# The header and cookie rules live on the core side (bearer.py), shared with the ASGI/WSGI glue.
_JWT_ALPHABET = _bearer.JWT_ALPHABET
_is_token68 = _bearer.is_token68
_authorization_token = _bearer.authorization_token
validate_cookie_name = _bearer.validate_cookie_name


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
        Several Authorization values with bearer credentials among them, or ``Bearer`` with an empty
        or malformed token.

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
