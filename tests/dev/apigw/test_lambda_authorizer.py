"""HTTP API Lambda authorizers (simple and IAM answers) and REST REQUEST authorizers, over real HTTP."""

from __future__ import annotations

import pytest

from .conftest import Project

HTTP_LAMBDA = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Handler: app.handler, Runtime: python3.12}
Resources:
  Simple:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Fn
        Authorizers:
          Fn:
            FunctionArn: !GetAtt Auth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization], ReauthorizeEvery: 0}
  Iam:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: iam
      Auth:
        DefaultAuthorizer: Fn
        Authorizers:
          Fn:
            FunctionArn: !GetAtt Auth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            Identity: {Headers: [Authorization], QueryStrings: [tenant], ReauthorizeEvery: 60}
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: Req
        Authorizers:
          Req:
            FunctionArn: !GetAtt Auth.Arn
            FunctionPayloadType: REQUEST
            Identity: {Headers: [X-Key], ReauthorizeEvery: 0}
  Auth:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: auth/}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Events:
        A: {Type: HttpApi, Properties: {ApiId: !Ref Simple, Path: /a, Method: GET}}
        B: {Type: HttpApi, Properties: {ApiId: !Ref Iam, Path: /b, Method: GET}}
        C: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /c, Method: GET}}
"""


@pytest.fixture
def apis(project: Project) -> Project:
    project.start(HTTP_LAMBDA)
    return project


def test_simple_responses_allow_and_deny(apis: Project) -> None:
    assert apis.call("GET", "/a").status == 401  # identity source missing: the function is not called
    yes = apis.call("GET", "/a", headers={"Authorization": "simple-yes"})
    assert yes.status == 200
    # Payload 2.0 backends find the context under "lambda", nested values kept.
    assert yes.json()["event"]["requestContext"]["authorizer"]["lambda"]["nested"] == {"a": [1]}
    no = apis.call("GET", "/a", headers={"Authorization": "simple-no"})
    assert (no.status, no.json()) == (403, {"message": "Forbidden"})
    unauthorized = apis.call("GET", "/a", headers={"Authorization": "unauthorized"})
    assert (unauthorized.status, unauthorized.json()) == (401, {"message": "Unauthorized"})
    crash = apis.call("GET", "/a", headers={"Authorization": "crash"})
    assert (crash.status, crash.json()) == (500, {"message": "Internal Server Error"})
    # The authorizer's own traceback, as for a failing function; never this server's stack.
    logged = apis.logs.getvalue()
    assert "failed: Traceback" in logged
    assert "lambda_authorizer.py" not in logged


def test_iam_responses_on_a_staged_http_api_cache_per_identity_values(apis: Project) -> None:
    assert apis.call("GET", "/iam/b", headers={"Authorization": "allow"}).status == 401  # no ?tenant
    first = apis.call("GET", "/iam/b?tenant=t1", headers={"Authorization": "t-allow"})
    assert first.status == 200
    context = first.json()["event"]["requestContext"]["authorizer"]["lambda"]
    again = apis.call("GET", "/iam/b?tenant=t1", headers={"Authorization": "t-allow"})
    assert again.json()["event"]["requestContext"]["authorizer"]["lambda"]["calls"] == context["calls"]
    other = apis.call("GET", "/iam/b?tenant=t2", headers={"Authorization": "t-allow"})
    assert other.json()["event"]["requestContext"]["authorizer"]["lambda"]["calls"] == context["calls"] + 1
    deny = apis.call("GET", "/iam/b?tenant=t1", headers={"Authorization": "deny"})
    assert (deny.status, deny.json()) == (403, {"message": "Forbidden"})


def test_rest_request_authorizer_without_cache_is_called_even_without_identity(apis: Project) -> None:
    # REST REQUEST authorizers with caching off do not require their identity sources (API Gateway).
    reply = apis.call("GET", "/v1/c", headers={"X-Key": "k-allow"})
    assert reply.status == 200
    assert reply.json()["event"]["requestContext"]["authorizer"]["principalId"] == "user-1"
    assert apis.call("GET", "/v1/c").status == 200  # the token is "" -> "Allow" for its own ARN
    assert apis.call("GET", "/v1/c", headers={"X-Key": "deny"}).status == 403
