"""CORS preflights answered as API Gateway does for SAM's HttpApi and REST Api configurations."""

from __future__ import annotations

import pytest

from .conftest import Project

CORS = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Handler: app.handler, Runtime: python3.12}
Resources:
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["http://localhost:3000"]
        AllowMethods: [GET, POST]
        AllowHeaders: [authorization, content-type]
        ExposeHeaders: [x-total]
        MaxAge: 600
      Auth:
        DefaultAuthorizer: Fn
        Authorizers:
          Fn:
            FunctionArn: !GetAtt Auth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization], ReauthorizeEvery: 0}
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Cors: {AllowOrigin: "'*'", AllowHeaders: "'Authorization,Content-Type'", MaxAge: "'300'"}
      GatewayResponses:
        UNAUTHORIZED:
          ResponseParameters:
            Headers: {Access-Control-Allow-Origin: "'*'", X-From: method.request.header.Origin}
        DEFAULT_4XX:
          StatusCode: 404
          ResponseParameters: {Headers: {X-Default: "'yes'"}}
      Auth:
        DefaultAuthorizer: Tok
        AddDefaultAuthorizerToCorsPreflight: PREFLIGHT
        Authorizers:
          Tok: {FunctionArn: !GetAtt Auth.Arn, Identity: {ReauthorizeEvery: 0}}
  Auth:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: auth/}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Events:
        H: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: "/{proxy+}", Method: ANY}}
        R: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /me, Method: GET}}
"""

PREFLIGHT = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "authorization"}


@pytest.fixture
def cors(project: Project) -> Project:
    project.start(CORS.replace("PREFLIGHT", "false"))
    return project


def test_http_api_preflight_never_reaches_the_authorizer_or_function(cors: Project) -> None:
    reply = cors.call("OPTIONS", "/me", headers=PREFLIGHT)
    assert (reply.status, reply.body) == (204, b"")
    assert reply.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert reply.headers["access-control-allow-methods"] == "GET,POST"
    assert reply.headers["access-control-allow-headers"] == "authorization,content-type"
    assert reply.headers["access-control-max-age"] == "600"
    assert "Auth" not in cors.logs.getvalue()  # no invocation logged: the authorizer never ran
    stranger = cors.call("OPTIONS", "/me", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert stranger.status == 204
    assert "access-control-allow-origin" not in stranger.headers


def test_http_api_adds_cors_headers_to_answers_for_allowed_origins(cors: Project) -> None:
    denied = cors.call("GET", "/me", headers={"Origin": "http://localhost:3000"})
    assert denied.status == 401  # the browser can read the 401
    assert denied.headers["access-control-allow-origin"] == "http://localhost:3000"
    origin = {"Origin": "http://localhost:3000"}
    allowed = cors.call("GET", "/me", headers={**origin, "Authorization": "simple-yes"})
    assert allowed.status == 200
    assert allowed.headers["access-control-expose-headers"] == "x-total"
    other = cors.call("GET", "/me", headers={"Origin": "https://evil.example", "Authorization": "simple-yes"})
    assert "access-control-allow-origin" not in other.headers


def test_rest_preflight_skips_the_authorizer_when_configured_so(cors: Project) -> None:
    reply = cors.call("OPTIONS", "/prod/me", headers=PREFLIGHT)
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.headers["access-control-allow-methods"] == "GET,OPTIONS"
    assert reply.headers["access-control-allow-headers"] == "Authorization,Content-Type"
    assert reply.headers["access-control-max-age"] == "300"
    # Not a REST resource: the HTTP API at the root serves the path, and its CORS answers.
    assert cors.call("OPTIONS", "/prod/nothing", headers=PREFLIGHT).status == 204


def test_rest_cors_mock_method_answers_any_options_request(cors: Project) -> None:
    # SAM's OPTIONS method is a mock integration: no Origin or Access-Control-Request-Method needed.
    bare = cors.call("OPTIONS", "/prod/me")
    assert bare.status == 200
    assert bare.headers["access-control-allow-origin"] == "*"
    # An HTTP API answers only a real preflight; a bare OPTIONS goes to the route (and its authorizer).
    assert cors.call("OPTIONS", "/me").status == 401


def test_rest_gateway_responses_add_their_headers(cors: Project) -> None:
    # So a browser can read the REST authorizer's 401 (SAM's GatewayResponses).
    unauthorized = cors.call("GET", "/prod/me", headers={"Origin": "http://localhost:3000"})
    assert (unauthorized.status, unauthorized.json()) == (401, {"message": "Unauthorized"})
    assert unauthorized.headers["access-control-allow-origin"] == "*"
    assert "x-from" not in unauthorized.headers  # request mappings are not emulated
    denied = cors.call("GET", "/prod/me", headers={"Authorization": "deny"})
    assert (denied.status, denied.headers["x-default"]) == (404, "yes")  # DEFAULT_4XX, status overridden
    assert "x-default" not in cors.call("GET", "/prod/me", headers={"Authorization": "ok-allow"}).headers


def test_rest_preflight_runs_the_default_authorizer_by_default(project: Project) -> None:
    project.start(CORS.replace("PREFLIGHT", "true"))
    assert project.call("OPTIONS", "/prod/me", headers=PREFLIGHT).status == 401
    allowed = project.call("OPTIONS", "/prod/me", headers={**PREFLIGHT, "Authorization": "stage-allow"})
    assert allowed.status == 200


def test_http_api_on_a_named_stage_answers_preflights_under_its_stage(project: Project) -> None:
    # StageName v2: the API answers under /v2, and its CorsConfiguration answers the preflights there
    # (they reached the $default route, the function, instead).
    template = CORS.replace("PREFLIGHT", "false").replace(
        "      CorsConfiguration:", "      StageName: v2\n      CorsConfiguration:")
    project.start(template)
    reply = project.call("OPTIONS", "/v2/me", headers=PREFLIGHT)
    assert (reply.status, reply.body) == (204, b"")
    assert reply.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "Auth" not in project.logs.getvalue()
    # Nothing at the root has /me: the API answers there too, as sam local serves every route at the root.
    at_root = project.call("OPTIONS", "/me", headers=PREFLIGHT)
    assert (at_root.status, at_root.headers["access-control-allow-origin"]) == (204, "http://localhost:3000")


def test_rest_preflight_answers_at_the_root_where_sam_local_serves_the_route(project: Project) -> None:
    project.start(CORS.replace("PREFLIGHT", "false").replace(
        '        H: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: "/{proxy+}", Method: ANY}}\n', ""))
    reply = project.call("OPTIONS", "/me", headers=PREFLIGHT)
    assert (reply.status, reply.headers["access-control-allow-origin"]) == (200, "*")
    assert reply.headers["access-control-allow-methods"] == "GET,OPTIONS"
    assert project.call("OPTIONS", "/elsewhere", headers=PREFLIGHT).status == 404


def test_rest_preflight_without_a_known_origin_sends_no_allow_origin(project: Project) -> None:
    # AllowOrigin known only once deployed (a CloudFront domain) is left out, as SAM CLI leaves it.
    project.function("echo", "def handler(event, context):\n    return {'statusCode': 200, 'body': ''}\n")
    project.start("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Cdn: {Type: AWS::CloudFront::Distribution}
          Rest:
            Type: AWS::Serverless::Api
            Properties:
              StageName: prod
              Cors: {AllowOrigin: !Sub "'https://${Cdn.DomainName}'", AllowMethods: "'GET'"}
          Echo:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: echo/
              Handler: app.handler
              Runtime: python3.12
              Events:
                R: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /me, Method: GET}}
        """)
    reply = project.call("OPTIONS", "/prod/me", headers=PREFLIGHT)
    assert reply.status == 200
    assert reply.headers["access-control-allow-methods"] == "GET"
    assert "access-control-allow-origin" not in reply.headers
