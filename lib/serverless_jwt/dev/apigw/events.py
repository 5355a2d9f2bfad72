"""Lambda events as API Gateway builds them: payload 1.0 (REST), 2.0 (HTTP API), authorizer events.

The shapes follow the AWS developer guide and are held to ``sam local generate-event apigateway
aws-proxy | http-api-proxy | authorizer | request-authorizer`` by the tests. Payload 1.0: headers keep
their case, ``headers``/``queryStringParameters`` hold the last value and the ``multiValue*`` maps all
of them, absent maps are ``null``; the body is base64 (``isBase64Encoded``) only when its content type
is one of the API's ``BinaryMediaTypes``. Payload 2.0: header names lower-cased, repeats comma-joined,
``Cookie`` headers become ``cookies``, absent members are left out. An HTTP API (payload 2.0 or 1.0)
base64-encodes every body that is not text: only ``text/*``, JSON, XML and JavaScript types are text,
so a form post (``application/x-www-form-urlencoded``) or a body without ``Content-Type`` is base64.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from serverless_jwt.dev.apigw.routes import Api, Match

__all__ = [
    "Request",
    "method_arn",
    "token_authorizer_event",
    "v1_authorizer_event",
    "v1_event",
    "v2_authorizer_event",
    "v2_event",
]

ACCOUNT_ID = "123456789012"
# What an HTTP API hands over as text; anything else (no Content-Type, a form post too) is base64.
_TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|javascript|graphql)|[^;]*\+(json|xml))")


@dataclass(frozen=True)
class Request:
    """One HTTP request as the server read it (``raw_path`` undecoded, stage included)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    port: int
    region: str = "us-east-1"
    protocol: str = "HTTP/1.1"  # as the client spoke it: HTTP/1.0 from ``curl -0``
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    now: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        """The last value of a header (any case), or ``None``."""
        found = None
        for key, value in self.headers:
            if key.lower() == name.lower():
                found = value
        return found

    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)


def method_arn(api: Api, request: Request, resource_path: str) -> str:
    """``arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`` for the request."""
    return (f"arn:aws:execute-api:{request.region}:{ACCOUNT_ID}:{api.id}/{api.stage}/"
            f"{request.method.upper()}/{resource_path.lstrip('/')}")


def _time_text(now: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _forwarded(request: Request) -> list[tuple[str, str]]:
    # API Gateway adds these; the client's own X-Forwarded-For is kept in front of the caller's address.
    sent = request.header("X-Forwarded-For")
    chain = f"{sent}, {request.source_ip}" if sent else request.source_ip
    extra = [("X-Forwarded-For", chain), ("X-Forwarded-Port", str(request.port)),
             ("X-Forwarded-Proto", "http")]
    names = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "transfer-encoding"}
    return [(k, v) for k, v in request.headers if k.lower() not in names] + extra


def _v1_maps(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return (single or None), (multi or None)


def _media_type(request: Request) -> str:
    return (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()


def matches_media(types: Sequence[str], media: str) -> bool:
    """Whether ``media`` (``image/png``) is one of ``types`` (``image/png``, ``image/*``, ``*/*``)."""
    for pattern in types:
        pattern = pattern.strip().lower()
        if pattern in ("*/*", media) or (pattern.endswith("/*") and media.startswith(pattern[:-1])):
            return True
    return False


def _v1_body(api: Api, request: Request) -> tuple[str | None, bool]:
    if api.kind == "HTTP":  # an HTTP API on payload 1.0: its own rule, it has no BinaryMediaTypes
        return _v2_body(request)
    if not request.body:
        return None, False
    if matches_media(api.binary_media_types, _media_type(request)):
        return base64.b64encode(request.body).decode("ascii"), True
    # REST passes other bodies on as text; bytes that are not UTF-8 cannot survive that either.
    return request.body.decode("utf-8", "replace"), False


def _v2_body(request: Request) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if _TEXT_TYPES.match(_media_type(request)):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _v1_context(found: Match, request: Request) -> dict[str, Any]:
    api = found.route.api
    host = request.header("Host") or "localhost"
    return {
        "accountId": ACCOUNT_ID,
        "apiId": api.id,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "extendedRequestId": request.request_id,
        "httpMethod": request.method.upper(),
        "identity": {
            "accessKey": None, "accountId": None, "apiKey": None, "apiKeyId": None, "caller": None,
            "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
            "cognitoIdentityId": None, "cognitoIdentityPoolId": None, "principalOrgId": None,
            "sourceIp": request.source_ip, "user": None, "userAgent": request.header("User-Agent") or "",
            "userArn": None,
        },
        "path": api.prefix + found.resource_path,
        "protocol": request.protocol,
        "requestId": request.request_id,
        "requestTime": _time_text(request.now),
        "requestTimeEpoch": int(request.now * 1000),
        # A REST resource has a 6-character id; an HTTP API on payload 1.0 puts the route key there
        # ("ANY /path", as a deployed HTTP API's 1.0 events show).
        "resourceId": found.route.key if api.kind == "HTTP" else api.id[:6],
        "resourcePath": found.route.path,
        "stage": api.stage,
    }


def v1_event(found: Match, request: Request) -> dict[str, Any]:
    """The payload 1.0 event (REST API Lambda proxy, or an HTTP API route on format 1.0)."""
    api = found.route.api
    headers, multi_headers = _v1_maps(_forwarded(request))
    query, multi_query = _v1_maps(request.query())
    body, encoded = _v1_body(api, request)
    version = {"version": "1.0"} if api.kind == "HTTP" else {}  # an HTTP API's 1.0 events say so
    return {
        **version,
        "resource": found.route.path,
        "path": found.resource_path,
        "httpMethod": request.method.upper(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(found.params) or None,
        "stageVariables": dict(api.stage_variables) or None,
        "requestContext": _v1_context(found, request),
        "body": body,
        "isBase64Encoded": encoded,
    }


def _v2_headers(request: Request) -> tuple[dict[str, str], list[str]]:
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in _forwarded(request):
        lname = name.lower()
        if lname == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            merged[lname] = f"{merged[lname]},{value}" if lname in merged else value
    return merged, cookies


def _v2_context(found: Match, request: Request, headers: Mapping[str, str]) -> dict[str, Any]:
    api = found.route.api
    host = headers.get("host", "localhost")
    route_key = found.route.key
    return {
        "accountId": ACCOUNT_ID,
        "apiId": api.id,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {"method": request.method.upper(), "path": unquote(request.raw_path),
                 "protocol": request.protocol, "sourceIp": request.source_ip,
                 "userAgent": headers.get("user-agent", "")},
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": api.stage,
        "time": _time_text(request.now),
        "timeEpoch": int(request.now * 1000),
    }


def v2_event(found: Match, request: Request) -> dict[str, Any]:
    """The payload 2.0 event (HTTP API Lambda integration) for a matched request."""
    api = found.route.api
    headers, cookies = _v2_headers(request)
    query: dict[str, str] = {}
    for key, value in request.query():
        query[key] = f"{query[key]},{value}" if key in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": found.route.key,
        "rawPath": unquote(request.raw_path),  # decoded by HTTP APIs, despite the name
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": _v2_context(found, request, headers),
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if found.params:
        event["pathParameters"] = dict(found.params)
    if api.stage_variables:
        event["stageVariables"] = dict(api.stage_variables)
    body, encoded = _v2_body(request)
    if body is not None:
        event["body"], event["isBase64Encoded"] = body, encoded
    return event


def token_authorizer_event(token: str, arn: str) -> dict[str, Any]:
    """A REST TOKEN authorizer's event."""
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}


def v1_authorizer_event(found: Match, request: Request, arn: str,
                        identity: Sequence[str] | None = None) -> dict[str, Any]:
    """A REQUEST authorizer's event, payload 1.0 (REST, or an HTTP API authorizer on format 1.0)."""
    event = v1_event(found, request)
    del event["body"], event["isBase64Encoded"]
    out: dict[str, Any] = {"type": "REQUEST", "methodArn": arn, **event}
    if identity is not None:  # HTTP API, format 1.0
        out["identitySource"] = out["authorizationToken"] = ",".join(identity)
    return out


def v2_authorizer_event(found: Match, request: Request, arn: str, identity: Sequence[str]) -> dict[str, Any]:
    """An HTTP API Lambda authorizer's event, payload 2.0."""
    event = v2_event(found, request)
    event.pop("body", None)
    event.pop("isBase64Encoded", None)
    return {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": list(identity), **event}
