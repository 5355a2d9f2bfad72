"""Helpers of the ``serverless-jwt`` command: the state folder, events, banners, readable times."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.template import Function, Template
from serverless_jwt.errors import ConfigurationError

if TYPE_CHECKING:
    from serverless_jwt.dev.apigw import LocalApiGateway, Route

__all__ = ["AttachedIssuer", "api_banner", "default_event", "describe_times", "get_authorization",
           "port_error", "read_event", "read_record", "running_issuer", "set_authorization", "shared_issuer",
           "start_issuer"]

RECORD = "issuer.json"


def read_record(state_dir: Path) -> dict[str, Any]:
    """What the last dev issuer started here wrote: ``{"issuer": url, "audience": aud}`` (or ``{}``)."""
    try:
        data = json.loads((state_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # a damaged record is no record
        return {}
    return data if isinstance(data, dict) else {}


def running_issuer(state_dir: Path) -> dict[str, Any] | None:
    """The record of the dev issuer serving now from this state folder, or ``None`` when none answers.

    Running means: its process is alive and its discovery document names the recorded issuer.
    """
    record = read_record(state_dir)
    issuer, pid = record.get("issuer"), record.get("pid")
    if not isinstance(issuer, str) or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # gone, or no pid at all
        return None
    except PermissionError:
        pass  # alive, someone else's
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(issuer + "/.well-known/openid-configuration", timeout=2) as response:
            served = json.loads(response.read()).get("issuer")
    except (OSError, ValueError, AttributeError):
        return None
    return record if served == issuer else None


class AttachedIssuer:
    """The dev issuer another command runs (``start-api``, ``issuer``): mint for it, never stop it."""

    def __init__(self, state_dir: Path, record: Mapping[str, Any]) -> None:
        self.issuer = str(record["issuer"])
        self.audience = str(record.get("audience") or "serverless-jwt-dev")
        self.pid = int(record["pid"])
        self._keys = DevIssuer(key_dir=state_dir)

    def mint(self, **claims: Any) -> str:
        claims.setdefault("issuer", self.issuer)
        claims.setdefault("audience", self.audience)
        return self._keys.mint(**claims)

    def stop(self) -> None:
        pass


LONG_LIVED = ("issuer", "start-api")  # commands whose dev issuer others may use: it outlives them


def shared_issuer(state_dir: Path, *, owner: str) -> DevIssuer | AttachedIssuer:
    """The one dev issuer identity of this folder: the one ``issuer`` or ``start-api`` runs, else a
    new one (same key, recorded address) that the caller (``owner``) stops.

    An issuer another ``invoke`` runs is never attached to: it stops when that invoke ends, which
    would leave this caller's function fetching keys from nobody (a 503). The caller then serves its
    own on a free port, recorded only when it is long-lived itself.
    """
    record = running_issuer(state_dir)
    if record is not None and is_shared(record):
        return AttachedIssuer(state_dir, record)
    if record is not None:
        return start_issuer(state_dir, port=0, owner=owner, record=owner in LONG_LIVED)
    return start_issuer(state_dir, port=None, owner=owner)


def is_shared(record: Mapping[str, Any]) -> bool:
    """Whether a running issuer's record is one others may use (``issuer``, ``start-api``; records
    written before owners were recorded count as shared)."""
    return record.get("owner", "issuer") in LONG_LIVED


def port_error(exc: OSError, what: str, host: str, port: int) -> ConfigurationError:
    """A readable error for a failed bind (port in use, address not available)."""
    if exc.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"{what}: port {port} on {host} is already in use (pass --port, or --port 0 for a free one)")
    return ConfigurationError(f"{what}: cannot listen on {host}:{port} ({exc.strerror or 'unavailable'})")


def start_issuer(state_dir: Path, *, port: int | None, owner: str = "issuer",
                 record: bool = True) -> DevIssuer:
    """Start a dev issuer with the folder's keys and record its address for ``serverless-jwt token``.

    ``port=None`` reuses the recorded port when it is free (tokens minted earlier stay valid), else
    any free port. Raises ConfigurationError when an explicit port is taken.
    """
    candidates = [port] if port is not None else []
    if port is None:
        recorded = read_record(state_dir).get("port")
        candidates = ([recorded] if isinstance(recorded, int) and 0 < recorded < 65536 else []) + [0]
    for n, candidate in enumerate(candidates):
        issuer = DevIssuer(key_dir=state_dir, port=candidate)
        try:
            issuer.start()
        except OSError as exc:
            if n == len(candidates) - 1:
                raise port_error(exc, "issuer", issuer.host, candidate) from None
            continue
        if record:
            bound = int(issuer.issuer.rsplit(":", 1)[1])
            entry = {"issuer": issuer.issuer, "audience": issuer.audience, "port": bound, "pid": os.getpid(),
                     "owner": owner}
            (state_dir / RECORD).write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
        return issuer
    raise AssertionError("unreachable")


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
    path = "/" if route.path == "$default" else _example_path(route.path)
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


def command() -> str:
    """How to call us again: ``serverless-jwt`` when on PATH, else the path we were started by
    (``.venv/bin/serverless-jwt`` after ``./scripts/demo``)."""
    started = Path(sys.argv[0])
    if started.name != "serverless-jwt" or shutil.which("serverless-jwt") is not None:
        return "serverless-jwt"
    try:
        return os.path.relpath(started)
    except ValueError:  # another drive (Windows)
        return str(started)


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


def read_event(source: str | None, function: Function, template: Template | None = None) -> dict[str, Any]:
    """The event for ``invoke``: a JSON file, ``-`` for stdin, or :func:`default_event`."""
    if source is None:
        return default_event(function, template)
    event = _json_object(source, "event", "event file")
    if not isinstance(event, dict):
        raise ConfigurationError(f"event {source} must be a JSON object")
    return event


def read_env_vars(source: str) -> dict[str, dict[str, Any]]:
    """An ``--env-vars`` file as ``sam local`` reads it: a JSON object of objects (``Parameters`` for
    every function, a logical id for one)."""
    values = _json_object(source, "--env-vars", "--env-vars file")
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ConfigurationError(f"--env-vars {source} must be a JSON object of objects, such as "
                                 '{"Parameters": {"NAME": "value"}, "MeFunction": {"NAME": "value"}}')
    return values


def _json_object(source: str, what: str, file: str) -> Any:
    """The JSON value in file ``source`` (``-``: stdin); a ConfigurationError names ``what`` it was."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
    except IsADirectoryError:
        raise ConfigurationError(f"cannot read {file} {source}: it is a folder") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {file} {source}: {exc.strerror or 'unreadable'}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{what} {source} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigurationError(f"{what} {source} nests too deeply") from None
    except ValueError as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigurationError(f"{what} {source} is not valid JSON{where}") from None


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
    event["headers"]["authorization"] = value
    if isinstance(event.get("multiValueHeaders"), dict):
        event["multiValueHeaders"]["Authorization"] = [value]


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


def _example_path(path: str) -> str:
    return "/".join("1" if part.startswith("{") and part.endswith("}") else part for part in path.split("/"))


def api_banner(api: LocalApiGateway, template: Template, issuer: DevIssuer | AttachedIssuer | None,
               scopes: Iterable[str] | None, mode: str = "in-process") -> str:
    """What ``start-api`` prints: every route's URL, how functions run, the issuer, and curl lines."""
    url = api.url
    how = ("each function in Lambda's Python runtime under the Runtime Interface Emulator, kept warm"
           if mode == "emulator" else "functions run in this process")
    lines = [f"local API Gateway on {url} (from {template.path}; {how})",
             "routes (REST APIs under their stage, HTTP APIs at the root):", *api.route_lines()]
    if issuer is None:
        lines.append("functions use the template's JWT_* settings (--no-dev-issuer): bring your own token")
        return "\n".join(lines)
    granted = [s for value in (scopes if scopes is not None else ["read:shows"]) for s in value.split()]
    token = issuer.mint(sub="dev-user", scopes=granted)
    lines += [
        f"dev issuer on {issuer.issuer} (audience {issuer.audience}); the functions verify its tokens",
        f"ready-to-paste requests (token for dev-user, scopes: {' '.join(granted) or 'none'}, valid 1 hour):",
    ]
    for route in api.routes:
        if route.path != "$default" and route.method in ("GET", "ANY"):
            target = url + quote(route.api.prefix + _example_path(route.path))  # a path may hold spaces
            lines.append(f"  curl -i -H 'Authorization: Bearer {token}' {target}")
    first = api.routes[0]
    first_path = _example_path(first.path) if first.path != "$default" else "/"
    lines.append(f"  curl -i {url}{quote(first.api.prefix + first_path)}   # no token: 401")
    lines.append(f"more tokens: {command()} token --sub alice --scope read:shows")
    return "\n".join(lines)


def describe_times(claims: Mapping[str, Any], now: float | None = None) -> list[str]:
    """``iat``/``nbf``/``exp`` as UTC times with a relative hint (for ``decode``)."""
    now = time.time() if now is None else now
    out = []
    for name in ("iat", "nbf", "exp", "auth_time"):
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        with contextlib.suppress(OverflowError, OSError, ValueError):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
            delta = int(value - now)
            when = f"in {delta}s" if delta > 0 else f"{-delta}s ago"
            # Past exp: within the default 60 s leeway a verifier still accepts it; past that, none does.
            expired = "" if name != "exp" or delta >= 0 else (
                " (past exp: accepted only within the leeway, 60 s by default)" if delta >= -60
                else " (expired, past the default 60 s leeway)")
            out.append(f"  {name:<9} {stamp}  ({when}){expired}")
    return out
