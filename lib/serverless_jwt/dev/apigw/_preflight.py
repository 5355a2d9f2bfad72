"""Which API answers an ``OPTIONS`` request with its CORS configuration, before any route runs.

Split from ``server.py`` to keep that module small. A REST resource with ``Cors`` answers any
``OPTIONS`` (SAM's mock method, after the default authorizer unless ``AddDefaultAuthorizerToCorsPreflight:
false``); an HTTP API with ``CorsConfiguration`` answers only a full preflight, under its own stage prefix.
A path no API has as deployed is looked for at the root, where sam local serves every route (no stage).
"""

from __future__ import annotations

from collections.abc import Sequence

from serverless_jwt.dev.apigw import cors, routes
from serverless_jwt.dev.apigw._target import under
from serverless_jwt.dev.apigw.events import Request
from serverless_jwt.dev.apigw.lambda_authorizer import LambdaAuthorizers
from serverless_jwt.dev.apigw.responses import Answer
from serverless_jwt.dev.apigw.routes import Api, Match, Route

__all__ = ["answer_preflight"]


def answer_preflight(all_routes: Sequence[Route], apis: Sequence[Api], authorizers: LambdaAuthorizers,
                     request: Request, full: bool) -> Answer | None:
    """CORS's answer to an ``OPTIONS`` request (``full``: with ``Origin`` and
    ``Access-Control-Request-Method``), or ``None`` when the request goes on to its route."""
    stage_api = routes.in_stage(apis, request.raw_path)
    inner = request.raw_path[len(stage_api.prefix):] or "/" if stage_api is not None else ""
    on_path = [r for r in all_routes if r.api == stage_api and r.bind(inner) is not None]
    if stage_api is None or not on_path:  # not a REST resource: an HTTP API at the root may answer
        answer = _http_preflight(all_routes, apis, request) if full else None
        staged = _staged_at_root(all_routes, apis, request) if answer is None and stage_api is None else None
        if staged is None:
            return answer
        # Nothing at the root has this path: a staged API's routes answer there, as under sam local.
        stage_api, inner, on_path = staged
        if stage_api.kind == "HTTP":
            return cors.http_preflight(stage_api.cors, request) if full and stage_api.cors else None
    if stage_api.cors is None or any(r.method == "OPTIONS" for r in on_path):
        return None  # no CORS here, or the template's own OPTIONS method serves it
    if stage_api.authorize_preflight and stage_api.default_authorizer is not None:
        probe = Match(Route(stage_api, "OPTIONS", on_path[0].path, "-", stage_api.default_authorizer),
                      on_path[0].bind(inner) or {}, inner)
        outcome = authorizers.authorize(probe, request)
        if isinstance(outcome, Answer):
            return outcome
    return cors.rest_preflight(stage_api.cors, on_path)


def _http_preflight(all_routes: Sequence[Route], apis: Sequence[Api], request: Request) -> Answer | None:
    # The HTTP API that serves this path (any method) answers with its CORS configuration; one on a
    # named stage answers under its stage prefix (/v2/...), as it does for requests.
    served = {r.api for r in all_routes if r.api.kind == "HTTP"
              and (inner_path := under(r.api.prefix, request.raw_path)) is not None
              and r.bind(inner_path) is not None}
    http = sorted((a for a in apis if a.kind == "HTTP" and a.cors is not None
                   and under(a.prefix, request.raw_path) is not None),
                  key=lambda a: (a not in served, not a.prefix))
    return cors.http_preflight(http[0].cors, request) if http and http[0].cors else None


def _staged_at_root(all_routes: Sequence[Route], apis: Sequence[Api],
                    request: Request) -> tuple[Api, str, list[Route]] | None:
    """The staged API whose routes have this path at the root (as sam local serves them), when no route
    serves an ``OPTIONS`` there as deployed: the API, the path, and its routes on that path."""
    if routes.match(all_routes, "OPTIONS", request.raw_path) is not None:
        return None
    for api in apis:
        on_path = [r for r in all_routes if r.api == api and api.prefix and r.path != "$default"
                   and r.bind(request.raw_path) is not None]
        if on_path:
            return api, request.raw_path, on_path
    return None
