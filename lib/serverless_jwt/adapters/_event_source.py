"""What depends on which source sent a Lambda HTTP event: REST (1.0), HTTP API (2.0), ALB, Function URL.

:func:`detect` tells the sources apart; :func:`authorizer_claims` reads the claims the source's
authorizer left in the event; :func:`error_response` and :func:`preflight_response` shape the proxy
response that source expects back. An accepted request that trusts no authorizer calls none of it: the
per-request reading (bearer token, preflight check) stays in ``events.py``, which re-exports these names
(import them from there). Statuses and header values come from
:meth:`serverless_jwt.errors.AuthError.response`; nothing here decides one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Literal

from serverless_jwt.errors import AuthError

# `dict` first: events and claims are plain dicts, and the ABC check costs ~10x an exact-type check.
_MAPPING = (dict, Mapping)

__all__ = ["EventKind", "authorizer_claims", "detect", "error_response", "preflight_response", "status_line"]

EventKind = Literal["rest_v1", "http_v2", "alb", "function_url"]


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


_LAMBDA_AUTHORIZER_NOISE = frozenset({"integrationLatency"})
_OWN_CONTEXT = "serverless_jwt.encoding"  # marks a context written by serverless_jwt's authorizer
_GROUP_SEPARATORS = re.compile(r"[\[\],\s]+")  # "admin,users", "[admin, users]", "[admin users]"


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
    # An empty claims object names no caller, at this level as in payload 1.0 below.
    if not (isinstance(jwt, _MAPPING) and isinstance(jwt.get("claims"), Mapping) and jwt.get("claims")):
        # Payload 1.0 of an HTTP API JWT authorizer: the same claims and scopes, without the "jwt" level.
        claims = auth.get("claims")
        v1 = isinstance(claims, Mapping) and claims and (event.get("version") == "1.0" or "scopes" in auth)
        jwt = auth if v1 else None
    if jwt is not None:
        from serverless_jwt.adapters._context import claims_from_jwt_authorizer

        return claims_from_jwt_authorizer(jwt)  # arrays arrive flattened: "[admin users]"
    claims = auth.get("claims")
    if isinstance(claims, _MAPPING) and claims:
        return _user_pool_claims(claims)
    value = auth.get("lambda")
    if isinstance(value, _MAPPING) and value:
        return _lambda_context(value)
    if detect(event) == "rest_v1" and "principalId" in auth:
        claims = _lambda_context({k: v for k, v in auth.items() if k not in _LAMBDA_AUTHORIZER_NOISE})
        principal = auth.get("principalId")
        if "sub" not in claims and isinstance(principal, str) and principal and _OWN_CONTEXT in auth:
            claims["sub"] = principal  # our authorizer sets principalId to the verified subject
        return claims
    return None


def _user_pool_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    # A REST Cognito user pool authorizer hands every claim over as a string, the groups array joined
    # by commas ("admin,users"): read back as a list, so cognito:groups works as roles. Group names
    # hold no spaces (Cognito's pattern), so commas, brackets and spaces only separate them.
    out = _lambda_context(claims)
    groups = out.get("cognito:groups")
    if isinstance(groups, str):
        out["cognito:groups"] = [g for g in _GROUP_SEPARATORS.split(groups) if g]
    return out


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
    shaped = err.response(realm).with_headers(headers)
    return _proxy_response(event, shaped.status, shaped.headers, json.dumps(shaped.body))


def preflight_response(event: Mapping[str, Any], *,
                       headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An empty ``204`` answer to a CORS preflight, carrying ``headers`` (your CORS headers).

    Examples
    --------
    >>> preflight_response({"headers": {}}, headers={"Access-Control-Allow-Origin": "*"})["statusCode"]
    204
    """
    return _proxy_response(event, 204, dict(headers or {}), "")


def status_line(status: int) -> str:
    """``"401 Unauthorized"``: an ALB ``statusDescription`` or a WSGI status line. A status of a custom
    :class:`AuthError` that :mod:`http` does not know gets ``"Unknown"`` rather than a ValueError (a 500)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _proxy_response(event: Mapping[str, Any], status: int, out_headers: dict[str, str],
                    body: str) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status}
    if detect(event) == "alb":
        response["statusDescription"] = status_line(status)
        if isinstance(event.get("multiValueHeaders"), Mapping):
            response["multiValueHeaders"] = {k: [v] for k, v in out_headers.items()}
        else:
            response["headers"] = out_headers
    else:
        response["headers"] = out_headers
    response["body"] = body
    response["isBase64Encoded"] = False
    return response
