"""A function's answer turned into HTTP as API Gateway does it, and API Gateway's own error answers.

Payload 1.0 on a REST API: the result must be an object with an integer ``statusCode`` and only the
keys ``statusCode``, ``headers``, ``multiValueHeaders``, ``body``, ``isBase64Encoded`` (``base64Encoded``
read first) and ``cookies`` (ignored); anything else is ``502 {"message": "Internal server error"}``.
``headers`` and ``multiValueHeaders`` are merged (a pair in both is sent once). A base64 body is decoded
when the first media type of the request's ``Accept`` (or, for none or ``*/*``, the response's
``Content-Type``) is one of the API's binary media types, else sent as the base64 text, as REST does.

Payload 1.0 on an HTTP API: the same, but keys it does not know are skipped and a base64 body is always
decoded. Payload 2.0 (HTTP API): an object with ``statusCode`` is read the same way plus ``cookies``; any
other JSON value is the "simple" form: 200, ``application/json``, the value as the body (a string as
it is, ``null`` as no body). A malformed answer is ``500 {"message":"Internal Server Error"}``, API
Gateway's answer for HTTP APIs; a header (or cookie) with text beyond Latin-1, which HTTP/1.1 has no
octets for, is malformed too. Where the rules are undocumented they follow aws-sam-cli's
``local_apigw_service`` parsers.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serverless_jwt.dev.apigw.events import matches_media
from serverless_jwt.dev.apigw.routes import Api
from serverless_jwt.dev.invocation import INLINE_CODE_MESSAGE

__all__ = ["Answer", "MalformedResponse", "from_function", "gateway"]

_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded",
                      "base64Encoded", "cookies"})  # cookies: accepted (and ignored) by REST APIs too


class MalformedResponse(ValueError):
    """A function's result API Gateway cannot turn into HTTP (the reason is for the local log)."""


@dataclass
class Answer:
    """Status, headers (in order, repeats allowed) and body of one HTTP response."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    kind: str | None = None  # API Gateway's own answer: "not_found", "unauthorized", ...

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


# (REST, HTTP) answers: status, body, REST's x-amzn-ErrorType.
_GATEWAY: dict[str, tuple[tuple[int, Any, str | None], tuple[int, Any]]] = {
    "not_found": ((403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException"),
                  (404, {"message": "Not Found"})),
    "unauthorized": ((401, {"message": "Unauthorized"}, "UnauthorizedException"),
                     (401, {"message": "Unauthorized"})),
    "explicit_deny": ((403, {"Message": "User is not authorized to access this resource with an explicit "
                                        "deny"},
                       "AccessDeniedException"), (403, {"message": "Forbidden"})),
    "implicit_deny": ((403, {"Message": "User is not authorized to access this resource"},
                       "AccessDeniedException"), (403, {"message": "Forbidden"})),
    "authorizer_failure": ((500, {"message": None}, "AuthorizerConfigurationException"),
                           (500, {"message": "Internal Server Error"})),
    "integration_failure": ((502, {"message": "Internal server error"}, None),
                            (500, {"message": "Internal Server Error"})),
    "too_large": ((413, {"message": "Request Too Long"}, None),
                  (413, {"message": "Request Entity Too Large"})),
    "bad_request": ((400, {"message": "Bad Request"}, None), (400, {"message": "Bad Request"})),
    # The function answered after the integration timeout (29 s REST, 30 s HTTP API by default).
    "integration_timeout": ((504, {"message": "Endpoint request timed out"}, None),
                            (503, {"message": "Service Unavailable"})),
    "unavailable": ((503, {"message": "Service Unavailable"}, None),
                    (503, {"message": "Service Unavailable"})),
    # Not API Gateway's: sam local's answers for a route whose function it does not run (its code in
    # S3, or no such function) and for a function with inline code (never customised).
    "no_function": ((502, {"message": "No function defined for resource method"}, None),
                    (502, {"message": "No function defined for resource method"})),
    "inline_code": ((501, {"message": INLINE_CODE_MESSAGE}, None), (501, {"message": INLINE_CODE_MESSAGE})),
}


def gateway(kind: str, rest: bool, request_id: str, *, extra: Sequence[tuple[str, str]] = ()) -> Answer:
    """API Gateway's own answer (``"not_found"``, ``"unauthorized"``, ``"explicit_deny"``, ...).

    Examples
    --------
    >>> a = gateway("not_found", rest=False, request_id="r1")
    >>> a.status, a.body
    (404, b'{"message":"Not Found"}')
    """
    rest_answer, http_answer = _GATEWAY[kind]
    status, body = (rest_answer[0], rest_answer[1]) if rest else http_answer
    headers = [("Content-Type", "application/json")]
    headers.append(("x-amzn-RequestId", request_id) if rest else ("apigw-requestid", request_id))
    if rest and rest_answer[2]:
        headers.append(("x-amzn-ErrorType", rest_answer[2]))
    return Answer(status, headers + list(extra), json.dumps(body, separators=(",", ":")).encode(), kind)


# Our answers -> REST GatewayResponses types (most specific first, then DEFAULT_4XX / DEFAULT_5XX).
_RESPONSE_TYPES = {"not_found": "MISSING_AUTHENTICATION_TOKEN", "unauthorized": "UNAUTHORIZED",
                   "explicit_deny": "ACCESS_DENIED", "implicit_deny": "ACCESS_DENIED",
                   # A Lambda authorizer that fails or answers wrongly: AuthorizerConfigurationException.
                   "authorizer_failure": "AUTHORIZER_CONFIGURATION_ERROR", "too_large": "REQUEST_TOO_LARGE",
                   "bad_request": "BAD_REQUEST_BODY", "integration_timeout": "INTEGRATION_TIMEOUT"}


def customize(answer: Answer, api: Api | None) -> Answer:
    """Apply a REST API's ``GatewayResponses`` (static headers, status code) to API Gateway's answer."""
    if answer.kind in (None, "inline_code", "no_function") or api is None or not api.gateway_responses:
        return answer
    configured = {kind: (status, headers) for kind, status, headers in api.gateway_responses}
    fallback = "DEFAULT_5XX" if answer.status >= 500 else "DEFAULT_4XX"
    chosen = configured.get(_RESPONSE_TYPES.get(answer.kind, ""), configured.get(fallback))
    if chosen is None:
        return answer
    status, headers = chosen
    names = {name.lower() for name, _ in headers}
    kept = [(k, v) for k, v in answer.headers if k.lower() not in names]
    return Answer(status or answer.status, kept + list(headers), answer.body, answer.kind)


def from_function(result: Any, *, api: Api, payload_version: str, accept: str | None) -> Answer:
    """The HTTP answer for a function's ``result``; raises :class:`MalformedResponse`.

    Examples
    --------
    >>> from serverless_jwt.dev.apigw.routes import Api
    >>> from_function({"ok": True}, api=Api("H", "HTTP", "$default"), payload_version="2.0", accept=None).body
    b'{"ok": true}'
    """
    if payload_version == "2.0" and not (isinstance(result, Mapping) and "statusCode" in result):
        return _inferred(result)
    if not isinstance(result, Mapping):
        raise MalformedResponse("the result must be an object with a statusCode")
    rest = api.kind == "REST"
    if rest:  # an HTTP API skips keys it does not know; a REST API refuses the response
        unknown = set(result) - _V1_KEYS
        if unknown:
            raise MalformedResponse(f"unexpected keys {sorted(unknown)} in the proxy response")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse("statusCode must be an integer HTTP status")
    multi = result.get("multiValueHeaders") if payload_version == "1.0" else None
    headers = _headers(result.get("headers"), multi)
    if payload_version == "2.0":
        cookies = result.get("cookies") or []
        if not isinstance(cookies, list):
            raise MalformedResponse("cookies must be a list")
        headers.extend(("Set-Cookie", _text(c)) for c in cookies)
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    # REST reads base64Encoded first (undocumented, as aws-sam-cli found by trial), HTTP APIs never.
    field = "base64Encoded" if rest and result.get("base64Encoded") is not None else "isBase64Encoded"
    encoded = result.get(field)
    if encoded is None:
        encoded = False
    if encoded in ("true", "True", "false", "False"):
        encoded = encoded in ("true", "True")
    if not isinstance(encoded, bool):
        raise MalformedResponse(f"{field} must be a boolean")
    raw = result.get("body")
    if raw is None:
        return Answer(status, headers, b"")
    if not isinstance(raw, str):
        raise MalformedResponse("body must be a string")
    if encoded and (not rest or _binary_answer(api, accept, headers)):
        try:
            return Answer(status, headers, base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            raise MalformedResponse("body is not valid base64") from None
    return Answer(status, headers, _utf8(raw))


def _inferred(result: Any) -> Answer:
    """Payload 2.0 without a ``statusCode``: a 200 whose body is the result (a string as it is)."""
    if result is None:
        body = b""
    elif isinstance(result, str):
        body = _utf8(result)
    else:
        try:
            body = json.dumps(result).encode("utf-8")
        except (TypeError, ValueError):
            raise MalformedResponse("the result is not JSON") from None
    return Answer(200, [("Content-Type", "application/json")], body)


def _utf8(text: str) -> bytes:
    """A body's UTF-8. A lone surrogate (``"\\ud800"`` in the function's JSON, as Lambda's python3.11
    runtime writes it) has none: it goes as ``?`` (a replacing encoder's choice; API Gateway's own is
    undocumented) instead of failing the local gateway with a traceback."""
    return text.encode("utf-8", "replace")


def _binary_answer(api: Api, accept: str | None, headers: list[tuple[str, str]]) -> bool:
    """REST: "API Gateway uses the first Accept header from clients to determine if a response should
    return binary media" (a browser's ``text/html, image/png`` gets the base64 text); with no ``Accept``
    or a first ``*/*``, the response's own ``Content-Type`` decides."""
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    wanted = [part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",") if part.strip()]
    first = wanted[0] if wanted else "*/*"
    if first != "*/*":
        return matches_media(api.binary_media_types, first)
    media = content_type.split(";", 1)[0].strip().lower()
    return bool(media) and matches_media(api.binary_media_types, media)


def _headers(single: Any, multi: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if multi is not None:
        if not isinstance(multi, Mapping):
            raise MalformedResponse("multiValueHeaders must be an object")
        for name, values in multi.items():
            if not isinstance(values, list):
                raise MalformedResponse("multiValueHeaders values must be lists")
            out.extend((_name(name), _text(v)) for v in values)
    if single is not None:
        if not isinstance(single, Mapping):
            raise MalformedResponse("headers must be an object")
        for name, value in single.items():
            pair = (_name(name), _text(value))
            if pair not in out:  # the same pair in both maps is sent once
                out.append(pair)
    return out


def _name(name: Any) -> str:
    text = str(name)
    if not text or any(c in text for c in " \t\r\n:"):
        raise MalformedResponse("a header name is not a token")
    return _latin1(text, "a header name")


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise MalformedResponse("header values must be strings")
    text = "true" if value is True else "false" if value is False else "" if value is None else str(value)
    if "\r" in text or "\n" in text:
        raise MalformedResponse("header values must not contain line breaks")
    return _latin1(text, "a header value")


def _latin1(text: str, what: str) -> str:
    """HTTP/1.1 sends header octets (RFC 9110 §5.5): text beyond Latin-1 has no octet to go as."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:
        # Named by position, never shown: a header or cookie value may be a session token.
        raise MalformedResponse(f"{what} is not Latin-1 text (character {exc.start + 1}): percent-encode "
                                "it (RFC 8187, filename*=UTF-8''...)") from None
    return text
