"""Which credential a Lambda authorizer reads: only what API Gateway's cache key (its identity source) covers.

API Gateway caches an authorizer's answer by the identity source's values, not by the token, so a
credential read from anywhere else could be answered with another caller's cached policy.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from serverless_jwt.adapters.events import _authorization_token, _cookie_token
from serverless_jwt.errors import ConfigurationError, InvalidRequestError, MissingTokenError

__all__ = ["cookie_only", "identity_source_token", "read_sources"]

_HEADER_SOURCE = "method.request.header."
_SOURCE = re.compile(r"(method\.request\.(header|querystring)\.[!#$%&'*+.^_`|~0-9A-Za-z-]+|"
                     r"(stageVariables|context)\.[A-Za-z0-9_.$-]+)")


def read_sources(kind: str, identity_source: str | Collection[str] | None,
                 cookie_name: str | None) -> tuple[bool, bool]:
    """(read the Authorization header, read the cookie) for a REST REQUEST authorizer's sources."""
    if kind != "rest_request":
        if identity_source is not None:
            raise ConfigurationError("identity_source applies to kind='rest_request' only (HTTP APIs send "
                                     "their identity source values in the event)")
        return True, cookie_name is not None
    # One string is read as API Gateway writes a REQUEST authorizer's IdentitySource: comma-separated.
    sources = (identity_source.split(",") if isinstance(identity_source, str)
               else list(identity_source or ["method.request.header.Authorization"]))
    if not sources or any(not isinstance(s, str) or not _SOURCE.fullmatch(s.strip()) for s in sources):
        raise ConfigurationError("identity_source must list API Gateway identity sources such as "
                                 "'method.request.header.Authorization'")
    headers = {s.strip()[len(_HEADER_SOURCE):].lower() for s in sources
               if s.strip().startswith(_HEADER_SOURCE)}
    read_header, read_cookie = "authorization" in headers, "cookie" in headers and cookie_name is not None
    if cookie_name is not None and "cookie" not in headers:
        raise ConfigurationError("cookie_name needs identity_source to include "
                                 "'method.request.header.Cookie': API Gateway caches by the identity source")
    if not read_header and not read_cookie:
        raise ConfigurationError("identity_source must include 'method.request.header.Authorization' (or "
                                 "the Cookie header with cookie_name): only a cached-by credential is read")
    return read_header, read_cookie


def cookie_only(event: Mapping[str, Any], cookie_name: str | None) -> str:
    token = _cookie_token(event, cookie_name) if cookie_name is not None else None
    if token is None:
        raise MissingTokenError()
    return token


def identity_source_token(event: Mapping[str, Any], cookie_name: str | None) -> str:
    """The credential among an HTTP API authorizer event's ``identitySource`` values (its cache key)."""
    values = event.get("identitySource")
    if isinstance(values, str) and event.get("version") == "1.0":
        # Payload format 1.0 (IAM policy answers only): the sources' values in one string, joined by
        # commas, which no bearer token holds. In 2.0 it is always a list. Two Authorization headers
        # are joined the same way: bearer credentials beside another scheme's, or beside bearer
        # credentials again (the same token twice included, as every other entry point refuses a
        # repeated header), are two credentials.
        values = values.split(",")
        bearers = sum(map(_is_bearer, values))
        if bearers > 1 or (bearers and any(
                _scheme(v) in _OTHER_SCHEMES for v in values if not _is_bearer(v))):
            raise InvalidRequestError("The request carries more than one Authorization value")
    if not isinstance(values, list):
        raise MissingTokenError()
    values = [v for v in values if isinstance(v, str) and v.strip()]
    bearer = {t for v in values if (t := _authorization_token([v]) if _is_bearer(v) else None)}
    if len(bearer) > 1:
        raise InvalidRequestError("The request carries more than one bearer token")
    if bearer:
        return bearer.pop()
    if cookie_name is not None:
        for value in values:
            token = _cookie_token({"headers": {"cookie": value}}, cookie_name)
            if token is not None:
                return token
    raise MissingTokenError()


def _is_bearer(value: str) -> bool:
    return _scheme(value) == "bearer"


def _scheme(value: str) -> str:
    words = value.strip().split(None, 1)
    return words[0].lower() if words else ""


# The IANA HTTP Authentication Scheme Registry, and AWS SigV4's: the first word of a credential.
_OTHER_SCHEMES = frozenset({"basic", "concealed", "digest", "dpop", "gnap", "hoba", "mutual", "negotiate",
                            "ntlm", "oauth", "privatetoken", "scram-sha-1", "scram-sha-256", "vapid",
                            "aws4-hmac-sha256"})

