"""Route matching: stages, specificity segment by segment, greedy paths, ANY, $default."""

from __future__ import annotations

import pytest

from serverless_jwt.dev.apigw.routes import (
    Api,
    Authorizer,
    Route,
    at_root,
    match,
    rest_owner,
    without_lambda_authorizers,
)

REST = Api("RestApi", "REST", "prod")
HTTP = Api("HttpApi", "HTTP", "$default")
ROUTES = [
    Route(HTTP, "GET", "/shows/{id}", "Show"),
    Route(HTTP, "GET", "/shows", "Shows"),
    Route(HTTP, "GET", "/shows/latest", "Latest"),
    Route(HTTP, "ANY", "/files/{path+}", "Files"),
    Route(HTTP, "GET", "/files/{path+}", "FilesGet"),
    Route(HTTP, "POST", "/shows", "Create"),
    Route(HTTP, "GET", "/{a}/fixed", "ParamFirst"),
    Route(HTTP, "GET", "/shows/{id}/{rest+}", "Deep"),
    Route(REST, "GET", "/me", "RestMe"),
    Route(HTTP, "GET", "/me", "HttpMe"),
    Route(REST, "ANY", "/{proxy+}", "RestProxy"),
]


@pytest.mark.parametrize(("method", "path", "function", "params", "inner"), [
    ("GET", "/shows", "Shows", {}, "/shows"),
    ("POST", "/shows", "Create", {}, "/shows"),
    ("GET", "/shows/latest", "Latest", {}, "/shows/latest"),
    ("GET", "/shows/42", "Show", {"id": "42"}, "/shows/42"),
    ("GET", "/shows/a%20b", "Show", {"id": "a b"}, "/shows/a b"),  # HTTP APIs decode the path
    ("GET", "/shows/a%2Fb", "Deep", {"id": "a", "rest": "b"}, "/shows/a/b"),  # %2F too, before routing
    ("GET", "/prod/a%20b", "RestProxy", {"proxy": "a b"}, "/a%20b"),  # REST: the path as sent
    ("GET", "/shows/1/x/y", "Deep", {"id": "1", "rest": "x/y"}, "/shows/1/x/y"),
    ("DELETE", "/files/a/b/c.txt", "Files", {"path": "a/b/c.txt"}, "/files/a/b/c.txt"),
    ("GET", "/files/a", "FilesGet", {"path": "a"}, "/files/a"),
    ("GET", "/shows/fixed", "Show", {"id": "fixed"}, "/shows/fixed"),  # literal first segment wins
    ("GET", "/me", "HttpMe", {}, "/me"),
    ("GET", "/prod/me", "RestMe", {}, "/me"),
    ("PUT", "/prod/any/thing", "RestProxy", {"proxy": "any/thing"}, "/any/thing"),
    ("GET", "/prod/me/", "RestMe", {}, "/me/"),  # REST ignores a trailing slash
])
def test_most_specific_route_wins(method: str, path: str, function: str, params: dict[str, str],
                                  inner: str) -> None:
    found = match(ROUTES, method, path)
    assert found is not None
    assert (found.route.function, found.params, found.resource_path) == (function, params, inner)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/shows/1/"), ("DELETE", "/shows"), ("GET", "/"), ("GET", "/files"), ("GET", "/prod"),
    ("GET", "/production/me"),
])
def test_unmatched_requests_have_no_route(method: str, path: str) -> None:
    found = match(ROUTES, method, path)
    assert found is None


def test_default_route_catches_the_rest() -> None:
    found = match([*ROUTES, Route(HTTP, "ANY", "$default", "Fallback")], "PUT", "/anything/else")
    assert found is not None
    assert (found.route.key, found.params) == ("$default", {})


def test_route_keys() -> None:
    assert Route(HTTP, "GET", "/shows/{id}", "S").key == "GET /shows/{id}"
    assert Route(HTTP, "ANY", "$default", "S").key == "$default"


def test_staged_routes_match_at_the_root_as_sam_local_serves_them() -> None:
    # Asked for a path nothing answers as deployed: a stage's route, never an unstaged one or $default.
    found = at_root([*ROUTES, Route(REST, "ANY", "$default", "Never")], "GET", "/me")
    assert found is not None
    assert (found.route.function, found.resource_path) == ("RestMe", "/me")
    proxy = at_root(ROUTES, "PUT", "/any/thing")
    assert proxy is not None
    assert (proxy.route.function, proxy.params) == ("RestProxy", {"proxy": "any/thing"})
    assert at_root([Route(HTTP, "GET", "/shows", "Shows")], "GET", "/shows") is None


def test_the_rest_api_owns_the_root_only_when_no_api_answers_there() -> None:
    staged_http = Api("V2", "HTTP", "v2")
    assert rest_owner([REST, HTTP], "/nothing") is None  # the HTTP API's root: its 404
    assert rest_owner([REST, HTTP], "/prod/nothing") == REST
    assert rest_owner([staged_http, REST], "/nothing") == REST
    assert rest_owner([staged_http], "/nothing") is None


def test_without_lambda_authorizers_opens_their_routes_and_keeps_jwt_ones() -> None:
    token = Authorizer("Tok", "token", function="Auth", identity_sources=(("header", "Authorization"),))
    jwt = Authorizer("Jwt", "jwt", issuer="https://issuer.example", audiences=("api",))
    rest = Api("RestApi", "REST", "prod", default_authorizer=token, authorize_preflight=True)
    opened = without_lambda_authorizers([Route(rest, "GET", "/me", "Me", token),
                                         Route(HTTP, "GET", "/me", "Me", jwt)])
    assert [r.authorizer for r in opened] == [None, jwt]
    assert (opened[0].api.default_authorizer, opened[0].api.authorize_preflight) == (None, False)
    assert opened[0].bind("/me") == {}
