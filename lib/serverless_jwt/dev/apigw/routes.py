"""What the local API Gateway serves: APIs, their routes and authorizers, and how a request finds its route.

Matching follows API Gateway: a REST API answers under its stage (``/prod/me``), an HTTP API at the
root (its ``$default`` stage; another stage name is a prefix too). Within an API the most specific route
wins, segment by segment from the left: a literal segment before ``{param}``, ``{param}`` before a
greedy ``{proxy+}`` (which takes one or more segments); a route for the request's method before
``ANY``; an HTTP API's ``$default`` route catches what nothing else does. Then, as ``sam local
start-api`` serves every route at the root, a staged route may answer there (:func:`at_root`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

__all__ = ["METHODS", "Api", "Authorizer", "Cors", "Match", "Route", "api_id", "at_root", "match",
           "rest_owner", "without_lambda_authorizers"]

# The methods API Gateway serves (``ANY`` is these, as sam's ``Route.ANY_HTTP_METHODS``): a request with
# another one (``PROPFIND``, ``TRACE``) has no route, whatever its path.
METHODS = frozenset({"GET", "DELETE", "PUT", "POST", "HEAD", "OPTIONS", "PATCH"})

ApiKind = Literal["REST", "HTTP"]
AuthorizerKind = Literal["token", "request", "jwt"]


def api_id(logical_id: str) -> str:
    """A stable 10-character id for an API (as ``abc123defg`` in an execute-api host name)."""
    return hashlib.sha256(logical_id.encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class Cors:
    """An API's CORS settings (REST ``Cors`` or HTTP API ``CorsConfiguration``), values unquoted."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True, slots=True)
class Authorizer:
    """A Lambda (REST TOKEN/REQUEST, HTTP API) or HTTP API JWT authorizer from an API's ``Auth``.

    ``identity_sources`` are ``("header", "Authorization")``, ``("query", "q")``,
    ``("context", "sourceIp")`` or ``("stage", "v")`` pairs.
    """

    name: str
    kind: AuthorizerKind
    function: str | None = None
    identity_sources: tuple[tuple[str, str], ...] = ()
    validation_expression: str | None = None
    ttl_seconds: int = 300
    payload_version: str = "1.0"
    simple_responses: bool = False
    issuer: str | None = None
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Api:
    """One API: ``AWS::Serverless::Api`` (REST) or ``AWS::Serverless::HttpApi``, implicit or explicit."""

    name: str
    kind: ApiKind
    stage: str
    binary_media_types: tuple[str, ...] = ()
    cors: Cors | None = None
    authorize_preflight: bool = False  # REST: AddDefaultAuthorizerToCorsPreflight with a default authorizer
    default_authorizer: Authorizer | None = None
    stage_variables: tuple[tuple[str, str], ...] = ()
    # REST GatewayResponses: (type, status or None, static headers), e.g. ("UNAUTHORIZED", None, (...)).
    gateway_responses: tuple[tuple[str, int | None, tuple[tuple[str, str], ...]], ...] = ()

    @property
    def prefix(self) -> str:
        """Where the API answers locally: ``/prod`` for a REST stage, ``""`` for ``$default``."""
        return "" if self.stage == "$default" else "/" + self.stage

    @property
    def id(self) -> str:
        return api_id(self.name)


@dataclass(frozen=True, slots=True)
class Route:
    """One route: ``method`` (upper case or ``ANY``), ``path`` (``/shows/{id}``, ``$default``)."""

    api: Api
    method: str
    path: str
    function: str
    authorizer: Authorizer | None = None
    scopes: tuple[str, ...] = ()
    payload_version: str = "1.0"
    timeout_ms: int | None = None  # the event's TimeoutInMillis; None: 29000 (REST) or 30000 (HTTP API)
    _segments: tuple[str, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.path != "$default":
            object.__setattr__(self, "_segments", tuple(s for s in self.path.split("/") if s))

    @property
    def key(self) -> str:
        """The route key as API Gateway writes it: ``"GET /shows/{id}"`` or ``"$default"``."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def rank(self) -> tuple[tuple[int, ...], int]:
        """Sort key: smaller is more specific (per segment: literal 0, ``{param}`` 1, greedy 2)."""
        if self.path == "$default":
            return ((3,), 1)
        kinds = tuple(2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in self._segments)
        return ((*kinds, -1), int(self.method == "ANY"))

    def bind(self, path: str) -> dict[str, str] | None:
        """Path parameters when ``path`` (inside the API, no stage) fits this route, else ``None``."""
        if self.path == "$default":
            return {}
        decode: Callable[[str], str] = unquote
        if self.api.kind != "REST":  # an HTTP API decodes the whole path first (%2F is a "/" there)
            path, decode = unquote(path), _as_is
        parts = path.split("/")[1:] if path != "/" else []
        if parts and parts[-1] == "" and self.api.kind == "REST":
            parts.pop()  # REST ignores one trailing slash; for HTTP APIs "/a/" is not "/a"
        params: dict[str, str] = {}
        for i, seg in enumerate(self._segments):
            if seg.startswith("{") and seg.endswith("+}"):
                if i >= len(parts) or not parts[i]:
                    return None
                params[seg[1:-2]] = decode("/".join(parts[i:]))
                return params
            if i >= len(parts):
                return None
            if not parts[i]:
                return None
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = decode(parts[i])
            elif seg != decode(parts[i]):
                return None
        return params if len(parts) == len(self._segments) else None


@dataclass(frozen=True, slots=True)
class Match:
    """A request's route, its path parameters and the path inside the API (without the stage)."""

    route: Route
    params: dict[str, str]
    resource_path: str


_SLASHES = re.compile(r"/{2,}")


def match(routes: Sequence[Route], method: str, raw_path: str) -> Match | None:
    """The route serving ``method raw_path`` (stage included for REST APIs), or ``None``.

    Examples
    --------
    >>> rest = Api("RestApi", "REST", "prod")
    >>> found = match([Route(rest, "GET", "/shows/{id}", "S")], "GET", "/prod/shows/7")
    >>> found.route.path, found.params, found.resource_path
    ('/shows/{id}', {'id': '7'}, '/shows/7')
    """
    return _first(routes, method, raw_path, root_only=False)


def at_root(routes: Sequence[Route], method: str, raw_path: str) -> Match | None:
    """A route of an API on a stage prefix (a REST stage, an HTTP API's named stage) serving ``raw_path``
    as if it had no prefix, as ``sam local start-api`` serves every route (its URLs carry no stage):
    asked only for a path nothing answers as deployed (``/me`` for ``/prod/me``). Not ``$default``.

    Examples
    --------
    >>> rest = Api("RestApi", "REST", "prod")
    >>> at_root([Route(rest, "GET", "/me", "Me")], "GET", "/me").resource_path
    '/me'
    """
    return _first(routes, method, raw_path, root_only=True)


def _first(routes: Sequence[Route], method: str, raw_path: str, *, root_only: bool) -> Match | None:
    path = _SLASHES.sub("/", raw_path) or "/"
    method = method.upper()
    if method not in METHODS:
        return None
    for route in sorted(routes, key=_order):
        if route.method not in ("ANY", method):
            continue
        prefix = route.api.prefix
        if root_only:
            if not prefix or route.path == "$default":
                continue
            prefix = ""
        if prefix:
            if path != prefix and not path.startswith(prefix + "/"):
                continue
            inner = path[len(prefix):] or "/"
        else:
            inner = path
        params = route.bind(inner)
        if params is not None:
            # REST APIs hand the function the path as sent; HTTP APIs decode it (path and rawPath).
            return Match(route, params, inner if route.api.kind == "REST" else unquote(inner))
    return None


def _as_is(text: str) -> str:
    return text


def _order(route: Route) -> tuple[int, tuple[tuple[int, ...], int]]:
    # REST stages first: their prefix is part of the URL, so /prod/me never falls to an HTTP API's
    # greedy route when the REST API has /me.
    return (0 if route.api.prefix else 1, route.rank())


def in_stage(apis: Sequence[Api], raw_path: str) -> Api | None:
    """The REST API whose stage prefix ``raw_path`` is under (for its 403 'Missing Authentication Token')."""
    for api in apis:
        if api.kind == "REST" and (raw_path == api.prefix or raw_path.startswith(api.prefix + "/")):
            return api
    return None


def rest_owner(apis: Sequence[Api], raw_path: str) -> Api | None:
    """The REST API whose own answers (403 'Missing Authentication Token', ``GatewayResponses``) a path
    gets: the one whose stage it is under; or, when no API answers at the root, the first REST API, as
    sam local serves REST routes there (and answers every unknown path with that 403)."""
    staged = in_stage(apis, raw_path)
    if staged is not None or any(not api.prefix for api in apis):
        return staged
    return next((api for api in apis if api.kind == "REST"), None)


def without_lambda_authorizers(routes: Sequence[Route]) -> list[Route]:
    """The routes with no Lambda authorizer (TOKEN, REQUEST, HTTP API Lambda), their APIs with no Lambda
    default authorizer for CORS preflights: ``sam local start-api --disable-authorizer``. JWT
    authorizers stay (sam local has none to disable)."""
    apis: dict[Api, Api] = {}
    out = []
    for route in routes:
        api = route.api
        if api not in apis:
            lambda_default = api.default_authorizer is not None and api.default_authorizer.kind != "jwt"
            apis[api] = dataclasses.replace(api, default_authorizer=None, authorize_preflight=False) \
                if lambda_default else api
        keep = route.authorizer is not None and route.authorizer.kind == "jwt"
        out.append(dataclasses.replace(route, api=apis[api], authorizer=route.authorizer if keep else None))
    return out
