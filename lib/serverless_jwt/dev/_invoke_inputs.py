"""What ``serverless-jwt invoke`` reads and sends: the event and the ``--env-vars`` file.

The event is a JSON file, ``-`` for stdin, or the one API Gateway would send the function's first route
(:func:`default_event`); the token in it is read and replaced as API Gateway would carry it (header,
TOKEN authorizer ``authorizationToken``, REQUEST authorizer ``identitySource``). Re-exported by
``_support.py``, where the commands import them from.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serverless_jwt.dev.template import Function, Template
from serverless_jwt.errors import ConfigurationError

if TYPE_CHECKING:
    from serverless_jwt.dev.apigw import Route

__all__ = ["authorizer_event_mismatch", "default_event", "example_path", "get_authorization", "read_env_vars",
           "read_event", "set_authorization", "unusual_authorization"]


def default_event(function: Function, template: Template | None = None) -> dict[str, Any]:
    """The event API Gateway would send for the function's first route (``{param}`` filled with ``1``).

    Payload 2.0 for an HTTP API route, 1.0 for a REST one. A Lambda authorizer gets the event its
    first guarded route sends it (TOKEN, or REQUEST 1.0/2.0) without a token; any other function with
    no route gets a 2.0 event for ``GET /``.
    """
    from serverless_jwt.dev.apigw import Api, Route, collect
    from serverless_jwt.dev.apigw import events as ev
    from serverless_jwt.dev.apigw.routes import Match

    every = collect(template).routes if template else []
    routes = [r for r in every if r.function == function.name]
    guarded = [r for r in every if r.authorizer is not None and r.authorizer.function == function.name]
    route = (routes or guarded or [Route(Api("ServerlessHttpApi", "HTTP", "$default"), "GET", "/",
                                         function.name, payload_version="2.0")])[0]
    path = "/" if route.path == "$default" else example_path(route.path)
    params = route.bind(path) or {}
    request = ev.Request(method="GET" if route.method == "ANY" else route.method,
                         raw_path=route.api.prefix + path, raw_query="",
                         headers=[("Host", "localhost"), ("User-Agent", "serverless-jwt")], body=b"",
                         source_ip="127.0.0.1", port=3000)
    found = Match(route, params, path)
    auth = route.authorizer
    if not routes and auth is not None:
        arn = ev.method_arn(route.api, request, path)
        if auth.kind == "token":
            return ev.token_authorizer_event("", arn)
        if auth.payload_version == "1.0":
            return ev.v1_authorizer_event(found, request, arn, None if route.api.kind == "REST" else [])
        return ev.v2_authorizer_event(found, request, arn, [])
    build = ev.v2_event if route.payload_version == "2.0" else ev.v1_event
    return build(found, request)


def authorizer_event_mismatch(event: Mapping[str, Any], function: Function,
                              routes: Iterable[Route]) -> str | None:
    """Why ``event`` is not what API Gateway sends ``function``, when the template makes it a Lambda
    authorizer of one type (TOKEN or REQUEST) and the event is of the other; else ``None``."""
    sent = event.get("type")
    kinds = {r.authorizer.kind for r in routes
             if r.authorizer is not None and r.authorizer.function == function.name}
    if sent not in ("TOKEN", "REQUEST") or len(kinds) != 1:
        return None
    expected = "TOKEN" if kinds == {"token"} else "REQUEST"
    if sent == expected:
        return None
    return (f"{function.name} is a {expected} authorizer in the template, but this is a {sent} "
            f"event: API Gateway would never send it one (events/authorizer-token.json is a TOKEN "
            "event, events/authorizer-request.json a REQUEST one)")


def read_event(source: str | None, function: Function, template: Template | None = None) -> Any:
    """The event for ``invoke``: a JSON file, ``-`` for stdin, or :func:`default_event`. Any JSON
    value, as Lambda and ``sam local invoke`` take (a string, a list, a number ...)."""
    if source is None:
        return default_event(function, template)
    return _json_object(source, "event", "event file")


def read_env_vars(source: str) -> dict[str, dict[str, Any]]:
    """An ``--env-vars`` file as ``sam local`` reads it: a JSON object of objects (``Parameters`` for
    every function, a logical id for one), or, as sam reads a file that is not JSON, a ``.env`` file
    (``NAME=value`` lines, for every function)."""
    text = _text(source, "--env-vars", "--env-vars file")
    try:
        values = _json(text, source, "--env-vars")
    except ConfigurationError as exc:
        dotenv = _dotenv(text)
        if isinstance(dotenv, str):
            raise ConfigurationError(f"{exc}, nor a .env file of NAME=value lines{dotenv}") from None
        return {"Parameters": dotenv}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ConfigurationError(f"--env-vars {source} must be a JSON object of objects, such as "
                                 '{"Parameters": {"NAME": "value"}, "MeFunction": {"NAME": "value"}}')
    return values


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _dotenv(text: str) -> dict[str, Any] | str:
    """The variables of a ``.env`` file, read by python-dotenv as sam reads one (its dependency), or why
    it is not one: every entry must be ``NAME=value``, for sam would take a broken JSON file's lines as
    names without a value and run on, and python-dotenv drops a line it cannot parse (``B="open``) with
    only a log line. The reason names a line's number, never its text (it may hold a secret)."""
    try:
        from dotenv import dotenv_values
        from dotenv.parser import parse_stream
    except ImportError:  # an aws-sam-cli before .env files: JSON only, as that sam
        return ""
    entries = 0
    for binding in parse_stream(io.StringIO(text)):
        if binding.key is None and not binding.error:
            continue  # a comment or a blank line
        if binding.error or not _NAME.fullmatch(binding.key or "") or binding.value is None:
            start = binding.original.string
            line = binding.original.line + start[: len(start) - len(start.lstrip())].count("\n")
            return f" (line {line} is not NAME=value)"
        entries += 1
    if not entries:
        return ""
    return dict(dotenv_values(stream=io.StringIO(text)))


def _json_object(source: str, what: str, file: str) -> Any:
    """The JSON value in file ``source`` (``-``: stdin); a ConfigurationError names ``what`` it was."""
    return _json(_text(source, what, file), source, what)


def _text(source: str, what: str, file: str) -> str:
    if not source:  # Path("") is the working directory: "cannot read event file : it is a folder"
        raise ConfigurationError(f"cannot read {file} '': the path is empty "
                                 "(name a JSON file, or - for stdin)")
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
    except IsADirectoryError:
        raise ConfigurationError(f"cannot read {file} {source}: it is a folder") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {file} {source}: {exc.strerror or 'unreadable'}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{what} {source} is not UTF-8 text") from None
    if source == "-" and not text.strip():
        raise ConfigurationError(f"{what} - is empty: nothing was written to standard input")
    return text


def _json(text: str, source: str, what: str) -> Any:
    try:
        # NaN and Infinity are not JSON (RFC 8259 §6): Lambda's Invoke API refuses such a payload.
        return json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ConfigurationError(f"{what} {source} nests too deeply") from None
    except ValueError as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigurationError(f"{what} {source} is not valid JSON{where}") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def get_authorization(event: Mapping[str, Any]) -> str | None:
    """The event's own token: its Authorization header (any case, single or multi-value), or a TOKEN
    authorizer event's ``authorizationToken``. A ``<placeholder>`` (as in ``events/*.json``) is none."""
    value = _authorization(event)
    token = value.strip().removeprefix("Bearer ").strip() if value is not None else None
    if token is not None and token.startswith("<") and token.endswith(">"):
        return None
    return value


def _authorization(event: Mapping[str, Any]) -> str | None:
    if event.get("type") == "TOKEN":
        token = event.get("authorizationToken")
        return token if isinstance(token, str) and token else None
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if isinstance(headers, dict):
            for name, value in headers.items():
                if isinstance(name, str) and name.lower() == "authorization":
                    if isinstance(value, list):
                        value = value[0] if value else None
                    if isinstance(value, str):
                        return value
    return None


def unusual_authorization(event: Mapping[str, Any]) -> str | None:
    """Why the event's credentials are not in a shape API Gateway sends (``None`` when they are): a
    ``headers`` / ``multiValueHeaders`` that is no object, an Authorization value that is no text (or
    list of text), a TOKEN event's ``authorizationToken`` that is no text. Such an event goes to the
    function as written, as ``sam local invoke`` passes it: a minted token would hide what it tests."""
    if event.get("type") == "TOKEN":
        token = event.get("authorizationToken")
        return None if token is None or isinstance(token, str) else "its authorizationToken is not text"
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if headers is None:
            continue
        if not isinstance(headers, dict):
            return f"its {key} is not an object"
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "authorization":
                values = value if key == "multiValueHeaders" and isinstance(value, list) else [value]
                if not values or not all(isinstance(v, str) for v in values):
                    return f"its {key} {name!r} is not text"
    return None


def set_authorization(event: dict[str, Any], value: str | None) -> None:
    """Replace the event's token with ``value`` (``None`` removes it): a TOKEN authorizer event's
    ``authorizationToken``, else every Authorization header and a REQUEST authorizer's identity source."""
    if event.get("type") == "TOKEN":
        if value is None:
            event.pop("authorizationToken", None)
        else:
            event["authorizationToken"] = value
        return
    old = _authorization(event)
    header = _header_name(event)
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if isinstance(headers, dict):
            for name in [n for n in headers if isinstance(n, str) and n.lower() == "authorization"]:
                del headers[name]
    _set_identity_source(event, old, value)
    if value is None:
        return
    if not isinstance(event.get("headers"), dict):
        event["headers"] = {}
    event["headers"][header] = value
    if isinstance(event.get("multiValueHeaders"), dict):
        event["multiValueHeaders"][header] = [value]


def _header_name(event: Mapping[str, Any]) -> str:
    """The Authorization header's name as API Gateway would hand it over in this event: lowercase in
    payload 2.0 (HTTP APIs lowercase every name); else as the event already writes it, or as its other
    headers are written (REST APIs keep the client's case: curl's ``Authorization``)."""
    names = [n for key in ("headers", "multiValueHeaders") if isinstance(event.get(key), dict)
             for n in event[key] if isinstance(n, str)]
    if event.get("version") == "2.0" or not names:
        return "authorization"
    return next((n for n in names if n.lower() == "authorization"),
                "authorization" if all(n == n.lower() for n in names) else "Authorization")


def _set_identity_source(event: dict[str, Any], old: str | None, new: str | None) -> None:
    """A REQUEST authorizer event names the Authorization value again in ``identitySource``."""
    if event.get("type") != "REQUEST":
        return
    source = event.get("identitySource")
    if isinstance(source, list):  # payload 2.0
        kept = [v for v in source if v != old]
        event["identitySource"] = ([new] if new is not None else []) + kept
    elif isinstance(source, str) and "authorizationToken" in event:  # HTTP API, payload 1.0
        parts = [v for v in source.split(",") if v and v != old]
        joined = ",".join(([new] if new is not None else []) + parts)
        event["identitySource"] = event["authorizationToken"] = joined


def example_path(path: str) -> str:
    """A route path with every ``{param}`` filled with ``1`` (``/shows/{id}`` -> ``/shows/1``)."""
    return "/".join("1" if part.startswith("{") and part.endswith("}") else part for part in path.split("/"))
