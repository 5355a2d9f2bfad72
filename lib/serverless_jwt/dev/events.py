"""Lambda HTTP events for tests: REST API (1.0), HTTP API (2.0), ALB and Function URL, carrying a token.

Each event starts from a template shipped in ``event_templates/`` (the output of
``sam local generate-event``; the Function URL one is written from the AWS request-payload docs) and is
then given the request you describe. The sample values that would mislead a test are removed: the
HTTP API template's JWT-authorizer claims, its client certificate, its cookies, its body and the
prefix length on its source address.

Examples
--------
>>> event = http_event("http_v2", method="GET", path="/me", token="a.b.c")
>>> event["headers"]["authorization"], event["requestContext"]["http"]["method"]
('Bearer a.b.c', 'GET')
>>> http_event("rest_v1", cookie={"nf_jwt": "a.b.c"})["headers"]["Cookie"]
'nf_jwt=a.b.c'
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, get_args
from urllib.parse import parse_qsl, urlencode

from serverless_jwt.adapters.events import EventKind

__all__ = ["EVENT_KINDS", "event_template", "http_event"]

EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
QueryValue = str | Sequence[str]


@cache
def _template_text(kind: str) -> str:
    return (resources.files("serverless_jwt.dev") / "event_templates" / f"{kind}.json").read_text("utf-8")


def event_template(kind: EventKind) -> dict[str, Any]:
    """A fresh copy of the event exactly as the template file holds it (SAM's sample values).

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`EVENT_KINDS`.

    Examples
    --------
    >>> event_template("alb")["requestContext"]["elb"]["targetGroupArn"].startswith("arn:aws:")
    True
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}")
    event: dict[str, Any] = json.loads(_template_text(kind))
    return event


def http_event(
    kind: EventKind,
    *,
    method: str = "GET",
    path: str = "/",
    token: str | None = None,
    cookie: str | Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, QueryValue] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    route: str | None = None,
    body: str | bytes | Mapping[str, Any] | Sequence[Any] | None = None,
    multi_value_headers: bool = False,
) -> dict[str, Any]:
    """An HTTP event of ``kind`` for one request, shaped as that event source delivers it.

    Parameters
    ----------
    kind:
        ``"rest_v1"``, ``"http_v2"``, ``"alb"`` or ``"function_url"``.
    method, path:
        The request line. A query string in ``path`` (``"/shows?page=2"``) is used when ``query`` is
        not given.
    token:
        Sent as ``Authorization: Bearer <token>``.
    cookie:
        ``"name=value; other=x"`` or a mapping of cookie names to values. HTTP API and Function URL
        events carry them in ``cookies``; REST and ALB events in a ``Cookie`` header.
    headers:
        More request headers; they replace template headers of the same name (any case). HTTP API,
        Function URL and ALB events get lower-case names, as those services send them.
    query:
        Query parameters; a sequence value repeats the parameter.
    path_parameters:
        Path parameters (REST and HTTP API only: ALB and Function URLs have none).
    route:
        The matched route template, ``"/shows/{id}"`` or as a route key, ``"GET /shows/{id}"`` (REST
        ``resource``, HTTP API ``routeKey``); defaults to ``path``. Without ``path_parameters``, they
        are read from ``path`` against it (``{proxy+}`` takes the rest of the path).
    body:
        ``str`` as is; ``bytes`` base64-encoded with ``isBase64Encoded``; a mapping or list as JSON
        (with ``content-type: application/json`` unless given).
    multi_value_headers:
        ALB only: a target group with multi-value headers on (``multiValueHeaders`` and
        ``multiValueQueryStringParameters`` instead of the single-value forms). REST events always
        carry both forms, as API Gateway sends them.

    Raises
    ------
    ValueError
        Unknown ``kind``, or ``path_parameters`` for an event source that has none.
    TypeError
        ``cookie`` neither a string nor a mapping.

    Examples
    --------
    >>> e = http_event("alb", method="POST", path="/orders", token="a.b.c", body={"qty": 1})
    >>> e["httpMethod"], e["headers"]["authorization"], e["body"]
    ('POST', 'Bearer a.b.c', '{"qty": 1}')
    """
    event = copy.deepcopy(event_template(kind))
    if path_parameters and kind in ("alb", "function_url"):
        raise ValueError(f"{kind} events have no path parameters")
    method = method.upper()
    path, _, raw_query = path.partition("?")
    if route is not None:
        verb, _, template = route.partition(" ")
        route = template if template and verb.upper() in (method, "ANY") else route
        if path_parameters is None and kind not in ("alb", "function_url"):
            path_parameters = _parameters_from(route, path)
    pairs = _query_pairs(query) if query is not None else parse_qsl(raw_query, keep_blank_values=True)
    lower = kind != "rest_v1"
    merged = _merge_headers(event.get("headers") or {}, headers or {}, lower=lower)
    if token is not None:
        merged = _merge_headers(merged, {"Authorization": f"Bearer {token}"}, lower=lower)
    cookies = _cookie_pairs(cookie)
    if cookies and kind in ("rest_v1", "alb"):
        merged = _merge_headers(merged, {"Cookie": "; ".join(cookies)}, lower=lower)
    text, is_base64, content_type = _body(body)
    if content_type and not any(k.lower() == "content-type" for k in merged):
        merged["content-type"] = content_type
    if kind == "rest_v1":
        _rest(event, method, path, route, merged, pairs, path_parameters)
    elif kind == "alb":
        _alb(event, method, path, merged, pairs, multi_value_headers)
    else:
        _v2(event, kind, method, path, route, merged, pairs, path_parameters, cookies)
    if kind == "alb":
        event["body"] = text if text is not None else ""
    elif text is not None:
        event["body"] = text
    elif kind == "rest_v1":
        event["body"] = None
    else:
        event.pop("body", None)  # HTTP API and Function URL leave out an empty body
    event["isBase64Encoded"] = is_base64
    return event


def _query_pairs(query: Mapping[str, QueryValue]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((name, str(v)) for v in values)
    return pairs


def _grouped(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str], *, lower: bool) -> dict[str, str]:
    out = {(k.lower() if lower else k): v for k, v in base.items()}
    for name, value in extra.items():
        for key in [k for k in out if k.lower() == name.lower()]:
            del out[key]
        out[name.lower() if lower else name] = value
    return out


def _cookie_pairs(cookie: str | Mapping[str, str] | None) -> list[str]:
    if cookie is None:
        return []
    if isinstance(cookie, str):
        return [c.strip() for c in cookie.split(";") if c.strip()]
    if not isinstance(cookie, Mapping):  # ("name", "value") read as a mapping failed with AttributeError
        raise TypeError('cookie must be "name=value; other=x" or a mapping of cookie names to values')
    return [f"{name}={value}" for name, value in cookie.items()]


def _body(body: Any) -> tuple[str | None, bool, str | None]:
    if body is None:
        return None, False, None
    if isinstance(body, str):
        return body, False, None
    if isinstance(body, (bytes, bytearray)):
        return base64.b64encode(bytes(body)).decode("ascii"), True, None
    return json.dumps(body), False, "application/json"


def _request_time(now: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _parameters_from(route: str, path: str) -> dict[str, str] | None:
    """The path parameters ``path`` gives the route template ``route`` (``None`` when it does not match)."""
    wanted, given = route.strip("/").split("/"), path.strip("/").split("/")
    found: dict[str, str] = {}
    for i, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):  # greedy: the rest of the path
            found[segment[1:-2]] = "/".join(given[i:])
            return found
        if i >= len(given):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            found[segment[1:-1]] = given[i]
        elif segment != given[i]:
            return None
    return (found or None) if len(wanted) == len(given) else None


def _rest(event: dict[str, Any], method: str, path: str, route: str | None, headers: dict[str, str],
          pairs: list[tuple[str, str]], path_parameters: Mapping[str, str] | None) -> None:
    now = time.time()
    grouped = _grouped(pairs)
    event.update({
        "httpMethod": method,
        "path": path,
        "resource": route or path,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in grouped.items()} or None,
        "multiValueQueryStringParameters": grouped or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
    })
    ctx = event["requestContext"]
    ctx.update({
        "httpMethod": method,
        "path": f"/{ctx['stage']}{path}",
        "resourcePath": route or path,
        "requestId": str(uuid.uuid4()),
        "requestTime": _request_time(now),
        "requestTimeEpoch": int(now * 1000),
    })


def _alb(event: dict[str, Any], method: str, path: str, headers: dict[str, str],
         pairs: list[tuple[str, str]], multi: bool) -> None:
    event.update({"httpMethod": method, "path": path})
    for name in ("headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"):
        event.pop(name, None)
    if multi:
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
        event["multiValueQueryStringParameters"] = _grouped(pairs)
    else:
        event["headers"] = headers
        event["queryStringParameters"] = {k: v[-1] for k, v in _grouped(pairs).items()}


def _v2(event: dict[str, Any], kind: str, method: str, path: str, route: str | None,
        headers: dict[str, str], pairs: list[tuple[str, str]],
        path_parameters: Mapping[str, str] | None, cookies: list[str]) -> None:
    now = time.time()
    route_key = "$default" if kind == "function_url" else f"{method} {route or path}"
    event.update({"routeKey": route_key, "rawPath": path, "rawQueryString": urlencode(pairs),
                  "headers": headers})
    for name in ("cookies", "queryStringParameters", "pathParameters", "stageVariables"):
        event.pop(name, None)
    if cookies:
        event["cookies"] = cookies
    if pairs:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in _grouped(pairs).items()}
    if kind == "function_url":
        event.update({"pathParameters": None, "stageVariables": None})
    elif path_parameters:
        event["pathParameters"] = dict(path_parameters)
    ctx = event["requestContext"]
    # SAM's sample says a JWT authorizer already accepted the caller; a test of our checks must not.
    ctx.pop("authorizer", None)
    ctx.pop("authentication", None)
    http = ctx["http"]
    http.update({"method": method, "path": path, "userAgent": headers.get("user-agent", http["userAgent"])})
    # SAM's sample says "192.168.0.1/32"; API Gateway (and sam local start-api) send a bare address.
    http["sourceIp"] = http["sourceIp"].partition("/")[0]
    ctx.update({"routeKey": route_key, "requestId": str(uuid.uuid4()), "time": _request_time(now),
                "timeEpoch": int(now * 1000)})
