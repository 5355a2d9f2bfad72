"""Every API of a template collected: explicit and implicit, REST and HTTP, authorizers and CORS."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from serverless_jwt.dev.apigw import collect
from serverless_jwt.dev.intrinsics import region
from serverless_jwt.dev.template import Template
from serverless_jwt.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[3]


def _collect(tmp_path: Path, text: str) -> tuple[list[tuple[str, str, str, str | None]], list[str]]:
    (tmp_path / "template.yaml").write_text(textwrap.dedent(text))
    found = collect(Template(tmp_path / "template.yaml"))
    routes = [(r.api.prefix, r.key, r.payload_version, r.authorizer.name if r.authorizer else None)
              for r in found.routes]
    return routes, found.warnings


def test_sample_template_keeps_both_me_routes() -> None:
    found = collect(Template(ROOT / "template.yaml"))
    keys = [(r.api.name, r.api.prefix, r.key, r.payload_version) for r in found.routes]
    assert keys == [("HttpApi", "", "GET /me", "2.0"), ("RestApi", "/prod", "GET /me", "1.0"),
                    ("HttpApi", "", "GET /shows", "2.0"), ("HttpApi", "", "GET /shows/{id}", "2.0")]
    rest = found.routes[1].authorizer
    assert rest is not None
    assert (rest.kind, rest.function, rest.identity_sources, rest.ttl_seconds) == (
        "token", "AuthorizerFunction", (("header", "Authorization"),), 300)
    assert found.warnings == []


def test_implicit_apis_globals_and_event_auth(tmp_path: Path) -> None:
    routes, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Api:
            Auth:
              DefaultAuthorizer: Tok
              Authorizers:
                Tok: {FunctionArn: {"Fn::GetAtt": [Auth, Arn]}}
                Pool: {UserPoolArn: arn:aws:cognito-idp:us-east-1:1:userpool/x}
        Resources:
          Auth:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: ., Handler: app.handler}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                Rest: {Type: Api, Properties: {Path: /items, Method: post}}
                Open: {Type: Api, Properties: {Path: open, Method: get, Auth: {Authorizer: NONE}}}
                Pooled: {Type: Api, Properties: {Path: /pool, Method: get, Auth: {Authorizer: Pool}}}
                Http: {Type: HttpApi, Properties: {Path: /h, Method: get, PayloadFormatVersion: "1.0"}}
                Default: {Type: HttpApi}
        """)
    assert routes == [("/Prod", "POST /items", "1.0", "Tok"), ("/Prod", "GET /open", "1.0", None),
                      ("/Prod", "GET /pool", "1.0", None), ("", "GET /h", "1.0", None),
                      ("", "$default", "2.0", None)]
    assert any("Pool" in w and "not emulated" in w for w in warnings)


def test_an_authorizer_name_the_api_does_not_define_is_named_as_a_typo_not_as_unemulated(
        tmp_path: Path) -> None:
    routes, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Auth:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: ., Handler: app.handler}
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: prod
              Auth:
                DefaultAuthorizer: Tokn
                Authorizers:
                  Tok: {FunctionArn: {"Fn::GetAtt": [Auth, Arn]}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                Typo: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /a, Method: get,
                                               Auth: {Authorizer: Tk}}}
        """)
    assert routes == [("/prod", "GET /a", "1.0", None)]
    assert warnings == [
        "Api: DefaultAuthorizer Tokn is not defined in Auth.Authorizers; its routes are open",
        "Fn GET /a: authorizer Tk is not defined in Api's Auth.Authorizers (sam deploy refuses it); "
        "the route is open"]


def test_a_misspelt_event_type_or_api_reference_is_named_not_dropped_unsaid(tmp_path: Path) -> None:
    # `sam validate` refuses both; before, the HttpAPI route vanished and HttpAp became an API of its own.
    routes, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          HttpApi:
            Type: AWS::Serverless::HttpApi
          RestApi:
            Type: AWS::Serverless::Api
            Properties: {StageName: prod}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                Cased: {Type: HttpAPI, Properties: {ApiId: !Ref HttpApi, Path: /a, Method: get}}
                Typo: {Type: HttpApi, Properties: {ApiId: !Ref HttpAp, Path: /b, Method: get}}
                Wrong: {Type: Api, Properties: {RestApiId: !Ref HttpApi, Path: /c, Method: get}}
                Good: {Type: Api, Properties: {RestApiId: !Ref RestApi, Path: /d, Method: get}}
                Gett: {Type: Api, Properties: {RestApiId: !Ref RestApi, Path: /e, Method: gett}}
                Queue: {Type: SQS, Properties: {Queue: arn:aws:sqs:us-east-1:1:q}}
        """)
    assert routes == [("", "GET /b", "2.0", None), ("", "GET /c", "2.0", None),
                      ("/prod", "GET /d", "1.0", None), ("/prod", "GETT /e", "1.0", None)]
    assert warnings == [
        "Fn event Cased: Type HttpAPI is no SAM event type (Api for a REST API, HttpApi for an HTTP API; "
        "sam deploy refuses it); not served",
        "Fn event Typo: ApiId HttpAp is not an AWS::Serverless::HttpApi of the template (sam deploy refuses "
        "it); its routes are served as an API of that name",
        "Fn event Wrong: RestApiId HttpApi is not an AWS::Serverless::Api of the template (sam deploy "
        "refuses it); its routes are served as an API of that name",
        "Fn GETT /e: Method GETT is none API Gateway routes (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, "
        "ANY); no request reaches it"]


def test_http_api_jwt_and_cors_configuration(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Iss: {Type: String, Default: "https://issuer.example/"}
        Resources:
          Api:
            Type: AWS::Serverless::HttpApi
            Properties:
              StageName: v2
              CorsConfiguration: true
              Auth:
                DefaultAuthorizer: J
                Authorizers:
                  J:
                    JwtConfiguration: {issuer: !Ref Iss, audience: [a, b]}
                    IdentitySource: $request.header.X-Token
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                E:
                  Type: HttpApi
                  Properties: {ApiId: !Ref Api, Path: /x, Method: get, Auth: {AuthorizationScopes: [s1]}}
        """))
    (route,) = collect(Template(tmp_path / "template.yaml")).routes
    assert route.api.prefix == "/v2"
    assert route.api.cors is not None
    assert route.api.cors.allow_origins == ("*",)
    auth = route.authorizer
    assert auth is not None
    assert (auth.kind, auth.issuer, auth.audiences, auth.identity_sources) == (
        "jwt", "https://issuer.example/", ("a", "b"), (("header", "X-Token"),))
    assert route.scopes == ("s1",)


def test_an_events_timeout_in_millis_is_its_integration_timeout(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Wait: {Type: Number, Default: 5000}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                Set: {Type: Api, Properties: {Path: /a, Method: get, TimeoutInMillis: !Ref Wait}}
                Unset: {Type: HttpApi, Properties: {Path: /b, Method: get}}
                Bad: {Type: HttpApi, Properties: {Path: /c, Method: get, TimeoutInMillis: soon}}
        """))
    found = collect(Template(tmp_path / "template.yaml"))
    assert [r.timeout_ms for r in found.routes] == [5000, None, None]
    assert any("/c: TimeoutInMillis" in w for w in found.warnings)


def test_stage_variables_come_from_each_kinds_own_property(tmp_path: Path) -> None:
    # AWS::Serverless::Api calls them Variables, AWS::Serverless::HttpApi StageVariables (as SAM CLI reads).
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Rest:
            Type: AWS::Serverless::Api
            Properties: {StageName: prod, Variables: {r: "1"}, StageVariables: {wrong: "x"}}
          Http:
            Type: AWS::Serverless::HttpApi
            Properties: {StageVariables: {h: "2"}, Variables: {wrong: "x"}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                R: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /r, Method: get}}
                H: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /h, Method: get}}
        """))
    found = collect(Template(tmp_path / "template.yaml"))
    assert {r.api.name: r.api.stage_variables for r in found.routes} == {"Rest": (("r", "1"),),
                                                                         "Http": (("h", "2"),)}


def test_an_authorizer_arn_built_with_sub_or_written_out_names_the_template_function(tmp_path: Path) -> None:
    routes, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Api:
            Type: AWS::Serverless::HttpApi
            Properties:
              Auth:
                DefaultAuthorizer: Built
                Authorizers:
                  Built:
                    FunctionArn: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${Auth}"
                    Identity: {Headers: [Authorization]}
                  Named:
                    FunctionArn: arn:aws:lambda:eu-west-1:111122223333:function:team-auth:live
                    Identity: {Headers: [Authorization]}
                  Elsewhere:
                    FunctionArn: arn:aws:lambda:eu-west-1:111122223333:function:other-stack-auth
                    Identity: {Headers: [Authorization]}
          Auth:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.12, FunctionName: team-auth}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Runtime: python3.12
              Events:
                A: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /a, Method: get}}
                B: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /b, Method: get,
                                                Auth: {Authorizer: Named}}}
                C: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /c, Method: get,
                                                Auth: {Authorizer: Elsewhere}}}
        """)
    assert routes == [("", "GET /a", "2.0", "Built"), ("", "GET /b", "2.0", "Named"),
                      ("", "GET /c", "2.0", None)]
    assert [w for w in warnings if "outside the template" in w] == [
        "Api: authorizer Elsewhere names a function outside the template; not emulated"]
    found = collect(Template(tmp_path / "template.yaml"))
    assert {r.authorizer.function for r in found.routes if r.authorizer} == {"Auth"}


def test_cloudformation_api_resources_are_named_as_not_emulated(tmp_path: Path) -> None:
    routes, warnings = _collect(tmp_path, """\
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties: {Code: ., Handler: app.handler, Runtime: python3.12}
          Quick:
            Type: AWS::ApiGatewayV2::Api
            Properties:
              ProtocolType: HTTP
              Target: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/x"
          Rest:
            Type: AWS::ApiGateway::RestApi
            Properties: {Name: rest}
        """)
    assert routes == []
    assert warnings == ["Quick (AWS::ApiGatewayV2::Api), Rest (AWS::ApiGateway::RestApi): CloudFormation API "
                        "resources are not emulated (sam local routes them); routes come only from Api and "
                        "HttpApi events of functions"]


def test_a_jwt_authorizer_naming_the_templates_own_cognito_pool_is_served_with_a_warning(
        tmp_path: Path) -> None:
    # The usual Cognito shape: pool and client of the same template, known only once deployed.
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Auds: {Type: String, Default: "a,b"}
        Resources:
          UserPool: {Type: AWS::Cognito::UserPool}
          Client: {Type: AWS::Cognito::UserPoolClient, Properties: {UserPoolId: !Ref UserPool}}
          Api:
            Type: AWS::Serverless::HttpApi
            Properties:
              Auth:
                DefaultAuthorizer: Pool
                Authorizers:
                  Pool:
                    JwtConfiguration:
                      issuer: !Sub https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}
                      audience: [!Ref Client]
                  Listed:
                    JwtConfiguration: {issuer: "https://issuer.example/", audience: !Split [",", !Ref Auds]}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                E: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /x, Method: get}}
                L: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /l, Method: get,
                                                Auth: {Authorizer: Listed}}}
        """))
    found = collect(Template(tmp_path / "template.yaml"))
    pool, listed = (route.authorizer for route in found.routes)
    assert pool is not None
    assert listed is not None
    assert pool.issuer is None
    assert pool.audiences == ("(not resolved locally: Ref Client (AWS::Cognito::UserPoolClient) exists only "
                              "once deployed)",)  # matches no token's aud: nothing passes unchecked
    assert listed.audiences == ("a", "b")
    assert found.warnings == [
        "Api: JWT authorizer Pool: Ref UserPool (AWS::Cognito::UserPool) exists only once deployed; "
        "Ref Client (AWS::Cognito::UserPoolClient) exists only once deployed; the dev issuer's tokens are "
        "checked instead (with --no-dev-issuer, its routes answer 500)"]


def test_a_stage_path_or_method_that_cannot_be_resolved_is_an_error_naming_it(tmp_path: Path) -> None:
    text = """\
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          StageParam: {Type: String}
          Prefix: {Type: String}
          M: {Type: String}
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties: {StageName: !Ref StageParam}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                A: {Type: Api, Properties: {RestApiId: !Ref Api, Path: !Sub "/${Prefix}/a", Method: !Ref M}}
        """
    (tmp_path / "template.yaml").write_text(textwrap.dedent(text))
    path = tmp_path / "template.yaml"
    with pytest.raises(ConfigurationError, match=r"^Api\.StageName: parameter StageParam has no Default"):
        collect(Template(path))
    with pytest.raises(ConfigurationError, match=r"^Fn: an Api event's Path: parameter Prefix has no"):
        collect(Template(path, parameter_overrides={"StageParam": "dev"}))
    with pytest.raises(ConfigurationError, match=r"^Fn: an Api event's Method: parameter M has no Default"):
        collect(Template(path, parameter_overrides={"StageParam": "dev", "Prefix": "v1"}))
    found = collect(Template(path, parameter_overrides={"StageParam": "dev", "Prefix": "v1", "M": "get"}))
    assert [(r.api.prefix, r.key) for r in found.routes] == [("/dev", "GET /v1/a")]


def test_a_stage_variable_known_only_once_deployed_is_empty_text_with_a_warning(tmp_path: Path) -> None:
    _, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Api:
            Variables: {TableName: !Ref Table, Mode: !Sub "${AWS::Region}-x", Flag: true}
        Resources:
          Table: {Type: AWS::DynamoDB::Table}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                R: {Type: Api, Properties: {Path: /r, Method: get}}
        """)
    found = collect(Template(tmp_path / "template.yaml"))
    assert found.routes[0].api.stage_variables == (
        ("TableName", ""), ("Mode", f"{region()}-x"), ("Flag", "true"))
    assert warnings == ['ServerlessRestApi stage variable TableName is "": Ref Table (AWS::DynamoDB::Table) '
                        "exists only once deployed"]


def test_a_cors_origin_known_only_once_deployed_is_left_out_and_the_others_still_apply(
        tmp_path: Path) -> None:
    _, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Cdn: {Type: AWS::CloudFront::Distribution}
          Http:
            Type: AWS::Serverless::HttpApi
            Properties:
              CorsConfiguration:
                AllowOrigins: [!Sub "https://${Cdn.DomainName}", "http://localhost:3000"]
                AllowMethods: [GET]
          Rest:
            Type: AWS::Serverless::Api
            Properties:
              StageName: prod
              Cors: {AllowOrigin: !Sub "'https://${Cdn.DomainName}'", AllowMethods: "'GET'"}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                H: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /h, Method: get}}
                R: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /r, Method: get}}
        """)
    http, rest = (route.api.cors for route in collect(Template(tmp_path / "template.yaml")).routes)
    assert http is not None
    assert (http.allow_origins, http.allow_methods) == (("http://localhost:3000",), ("GET",))
    assert rest is not None
    assert (rest.allow_origins, rest.allow_methods) == ((), ("GET",))  # no origin sent, as SAM CLI
    assert warnings == [
        "Http CORS AllowOrigins: a value is left out: Fn::GetAtt Cdn.DomainName exists only once deployed",
        "Rest CORS AllowOrigin: a value is left out: Fn::GetAtt Cdn.DomainName exists only once deployed"]


def test_api_keys_and_resource_policies_are_named_as_not_checked(tmp_path: Path) -> None:
    _, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Keyed:
            Type: AWS::Serverless::Api
            Properties:
              StageName: prod
              Auth:
                ApiKeyRequired: true
                ResourcePolicy: {IpRangeWhitelist: [10.0.0.0/8]}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                K: {Type: Api, Properties: {RestApiId: !Ref Keyed, Path: /k, Method: get}}
                E: {Type: Api, Properties: {Path: /e, Method: get, Auth: {ApiKeyRequired: true}}}
        """)
    assert warnings == [
        "Keyed: API keys (ApiKeyRequired) are not checked locally; a request without x-api-key is served "
        "(API Gateway answers 403)",
        "Keyed: Auth.ResourcePolicy is not applied locally",
        "Fn GET /e: API keys (ApiKeyRequired) are not checked locally"]


def test_an_event_with_the_iam_authorizer_is_named_as_open(tmp_path: Path) -> None:
    _, warnings = _collect(tmp_path, """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                I: {Type: Api, Properties: {Path: /i, Method: post, Auth: {Authorizer: AWS_IAM}}}
        """)
    assert warnings == [
        "Fn POST /i: authorizer AWS_IAM (IAM, SigV4) is not checked locally; the route is open"]
