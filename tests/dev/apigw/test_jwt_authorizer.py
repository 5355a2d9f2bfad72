"""HTTP API JWT authorizers: verified with our Verifier, claims placed and flattened as API Gateway does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from serverless_jwt.dev.apigw.jwt_authorizer import flatten
from serverless_jwt.dev.issuer import DevIssuer

from .conftest import Project

JWT_API = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Issuer: {Type: String, Default: "ISSUER"}
Globals:
  Function: {Handler: app.handler, Runtime: python3.12}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Ref Issuer
              audience: [AUDIENCE]
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Events:
        Me: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /me, Method: GET}}
        Admin:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /admin
            Method: GET
            Auth: {Authorizer: Jwt, AuthorizationScopes: [admin, "write:all"]}
        Legacy:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /legacy, Method: GET, PayloadFormatVersion: "1.0"}
        Open:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /open, Method: GET, Auth: {Authorizer: NONE}}
  Trusting:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: trusting/
      Events:
        Who: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /who, Method: GET}}
"""

TRUSTING = """\
import json
from serverless_jwt import require_auth, require_role

@require_auth(trust_authorizer=True)
def handler(event, context):
    identity = context.identity_context
    body = {"sub": identity.subject, "scopes": sorted(identity.scopes)}
    return {"statusCode": 200, "body": json.dumps(body)}
"""


@pytest.fixture
def jwt_api(project: Project, issuer: DevIssuer) -> Project:
    project.function("trusting", TRUSTING)
    # The template names the dev issuer itself (no override), as a user's template names Auth0.
    template = JWT_API.replace("ISSUER", issuer.issuer).replace("AUDIENCE", issuer.audience)
    project.start(template, jwt_override=False)
    return project


def test_missing_or_bad_tokens_are_401_as_api_gateway_answers(
        jwt_api: Project, issuer: DevIssuer, bearer: Callable[..., dict[str, str]]) -> None:
    missing = jwt_api.call("GET", "/me")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    expired = jwt_api.call("GET", "/me", headers=bearer(lifetime_seconds=-600))
    assert expired.status == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert "the token has expired" in expired.headers["www-authenticate"]
    foreign = issuer.mint_with_foreign_key()
    forged = jwt_api.call("GET", "/me", headers={"Authorization": f"Bearer {foreign}"})
    assert forged.status == 401
    assert foreign not in forged.headers["www-authenticate"] + forged.body.decode()
    wrong_aud = jwt_api.call("GET", "/me", headers=bearer(audience="someone-else"))
    assert wrong_aud.status == 401
    garbage = jwt_api.call("GET", "/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert garbage.status == 401
    assert jwt_api.call("GET", "/open").status == 200  # Authorizer: NONE


def test_claims_reach_the_backend_flattened(jwt_api: Project, bearer: Callable[..., dict[str, str]]) -> None:
    reply = jwt_api.call("GET", "/me", headers=bearer(sub="alice", scopes=["read", "write"], roles=["admin"]))
    assert reply.status == 200
    jwt = reply.json()["event"]["requestContext"]["authorizer"]["jwt"]
    claims = jwt["claims"]
    assert claims["sub"] == "alice"
    assert claims["scope"] == "read write"
    assert isinstance(claims["exp"], str)
    assert claims["exp"].isdigit()
    assert all(isinstance(v, str) for v in claims.values())
    assert jwt["scopes"] is None  # the route asks for no scopes


def test_payload_1_0_routes_get_the_claims_without_the_jwt_level(
        jwt_api: Project, bearer: Callable[..., dict[str, str]]) -> None:
    authorizer = jwt_api.call("GET", "/legacy", headers=bearer(sub="dave")).json()["event"]["requestContext"][
        "authorizer"]
    assert (authorizer["claims"]["sub"], authorizer["scopes"]) == ("dave", None)


def test_route_scopes_need_one_of_them(jwt_api: Project, bearer: Callable[..., dict[str, str]]) -> None:
    without = jwt_api.call("GET", "/admin", headers=bearer(scopes=["read"]))
    assert (without.status, without.json()) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in without.headers["www-authenticate"]
    granted = jwt_api.call("GET", "/admin", headers=bearer(scopes=["read", "write:all"]))
    assert granted.status == 200
    assert granted.json()["event"]["requestContext"]["authorizer"]["jwt"]["scopes"] == ["read", "write:all"]


def test_trusting_backend_reads_the_jwt_authorizer_claims(
        jwt_api: Project, bearer: Callable[..., dict[str, str]]) -> None:
    reply = jwt_api.call("GET", "/who", headers=bearer(sub="carol", scopes=["read"]))
    assert reply.json() == {"sub": "carol", "scopes": ["read"]}


def test_unreachable_issuer_keys_are_503_not_a_crash(project: Project, issuer: DevIssuer) -> None:
    project.function("trusting", TRUSTING)
    down = "http://127.0.0.1:9"  # nothing listens there: discovery fails
    project.start(JWT_API.replace("ISSUER", down).replace("AUDIENCE", "x"), jwt_override=False)
    token = issuer.mint(issuer=down, audience="x")
    reply = project.call("GET", "/me", headers={"Authorization": f"Bearer {token}"})
    assert (reply.status, reply.json()) == (503, {"message": "Service Unavailable"})


def test_override_points_every_jwt_authorizer_at_the_dev_issuer(
        project: Project, bearer: Callable[..., dict[str, str]]) -> None:
    project.function("trusting", TRUSTING)
    project.start(JWT_API.replace("ISSUER", "https://example.auth0.com/").replace("AUDIENCE", "api"))
    assert project.call("GET", "/me", headers=bearer()).status == 200


def test_a_token_in_the_query_string_identity_source_is_checked(
        project: Project, issuer: DevIssuer, bearer: Callable[..., dict[str, str]]) -> None:
    # CreateAuthorizer: "Currently only header-based and query parameter-based selections are supported".
    project.function("trusting", TRUSTING)
    template = JWT_API.replace("$request.header.Authorization", "$request.querystring.access_token")
    project.start(template.replace("ISSUER", issuer.issuer).replace("AUDIENCE", issuer.audience),
                  jwt_override=False)
    token = bearer(sub="erin")["Authorization"].removeprefix("Bearer ")
    reply = project.call("GET", f"/me?access_token={token}")
    assert reply.status == 200
    assert reply.json()["event"]["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "erin"
    assert project.call("GET", "/me", headers=bearer()).status == 401  # the header is not its source
    assert project.call("GET", "/me?access_token=not.a.jwt").status == 401


@pytest.mark.parametrize(("value", "text"), [
    ("a", "a"), (12, "12"), (1.5, "1.5"), (2.0, "2"), (True, "true"), (False, "false"), (None, ""),
    (["a", "b"], "[a b]"), ([], "[]"), ([1, ["x", "y"]], "[1 [x y]]"), ({"r": ["admin"]}, "map[r:[admin]]"),
])
def test_flatten_writes_claims_as_api_gateway_does(value: object, text: str) -> None:
    assert flatten(value) == text
