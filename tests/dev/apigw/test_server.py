"""The local API Gateway end to end: real HTTP requests to a gateway on a free port."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from serverless_jwt.dev.apigw import LocalApiGateway, collect
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.runtime import FunctionRunner
from serverless_jwt.dev.template import Template

from .conftest import ROOT, Project, request

REST_TOKEN = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Handler: app.handler, Runtime: python3.12}
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      BinaryMediaTypes: ["image~1png"]
      Auth:
        DefaultAuthorizer: Tokens
        Authorizers:
          Tokens:
            FunctionArn: !GetAtt Auth.Arn
            Identity: {Header: Authorization, ReauthorizeEvery: 300}
  Auth:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: auth/}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Events:
        Item: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{id}", Method: get}}
        Files: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/files/{proxy+}", Method: ANY}}
        Open:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /open, Method: post, Auth: {Authorizer: NONE}}
"""


@pytest.fixture
def rest(project: Project) -> Project:
    project.start(REST_TOKEN)
    return project


def test_rest_routes_answer_under_their_stage_and_at_the_root_as_sam_local_serves_them(rest: Project) -> None:
    assert rest.call("POST", "/dev/open").status == 200
    # sam local start-api's URLs carry no stage: `curl localhost:3000/open` reaches the route there too,
    # with the event the staged URL gets, and the log says where it answers deployed.
    at_root = rest.call("POST", "/open?x=1")
    assert at_root.status == 200
    event = at_root.json()["event"]
    assert (event["path"], event["resource"], event["requestContext"]["stage"]) == ("/open", "/open", "dev")
    assert "POST /open is served at the root as sam local serves it; deployed, it is /dev/open" \
        in rest.logs.getvalue()
    item = rest.call("GET", "/items/7", headers={"Authorization": "allow"})  # its authorizer runs there too
    assert item.json()["event"]["pathParameters"] == {"id": "7"}
    assert rest.call("GET", "/items/7").status == 401
    in_stage = rest.call("GET", "/dev/nothing-here")
    assert (in_stage.status, in_stage.json()) == (403, {"message": "Missing Authentication Token"})


def test_with_no_api_at_the_root_a_path_nothing_serves_is_the_rest_apis_403(rest: Project) -> None:
    # Only a REST API: the root is its (as under sam local, which answers every unknown path so), not an
    # HTTP API's 404 Not Found, which no API of this template would answer.
    missing = rest.call("POST", "/nothing-here")
    assert (missing.status, missing.json()) == (403, {"message": "Missing Authentication Token"})
    assert missing.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_a_route_at_the_root_comes_before_a_staged_one_served_there(project: Project) -> None:
    project.function("other", "def handler(event, context):\n"
                              "    return {'statusCode': 200, 'body': 'http'}\n")
    project.start(REST_TOKEN.replace("Open:\n", "Both: {Type: Api, Properties: {RestApiId: !Ref Api, "
                                     "Path: /both, Method: get, Auth: {Authorizer: NONE}}}\n        Open:\n")
                  + """\
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: other/
      Events:
        Both: {Type: HttpApi, Properties: {Path: /both, Method: get}}
""")
    assert project.call("GET", "/both").body == b"http"
    assert project.call("GET", "/dev/both").json()["function"] == "Echo"


def test_token_authorizer_missing_identity_is_401_without_calling_it(rest: Project) -> None:
    reply = rest.call("GET", "/dev/items/1")
    assert (reply.status, reply.json()) == (401, {"message": "Unauthorized"})
    assert "-> authorizer Tokens (Auth) 401 (unauthorized)" in rest.logs.getvalue()  # who refused
    allowed = rest.call("GET", "/dev/items/1", headers={"Authorization": "allow"})
    # The first call of the authorizer function: the request without identity never reached it.
    assert allowed.json()["event"]["requestContext"]["authorizer"]["calls"] == "1"


def test_token_authorizer_answers(rest: Project) -> None:
    unauthorized = rest.call("GET", "/dev/items/1", headers={"Authorization": "x-unauthorized"})
    assert (unauthorized.status, unauthorized.json()) == (401, {"message": "Unauthorized"})
    deny = rest.call("GET", "/dev/items/1", headers={"Authorization": "x-deny"})
    assert deny.status == 403
    assert deny.json() == {"Message": "User is not authorized to access this resource with an explicit deny"}
    other = rest.call("GET", "/dev/items/1", headers={"Authorization": "x-other"})
    assert other.status == 403
    assert other.json() == {"Message": "User is not authorized to access this resource"}
    crash = rest.call("GET", "/dev/items/1", headers={"Authorization": "x-crash"})
    assert (crash.status, crash.json()) == (500, {"message": None})
    assert "authorizer bug" in rest.logs.getvalue()
    broken = rest.call("GET", "/dev/items/1", headers={"Authorization": "x-broken"})
    assert broken.status == 500


def test_authorizer_context_reaches_the_backend_stringified(rest: Project) -> None:
    reply = rest.call("GET", "/dev/items/7?q=1", headers={"Authorization": "Bearer ok-allow"})
    assert reply.status == 200
    event = reply.json()["event"]
    # A REST API hands the backend every context value as text (a number 3 is "3", false is "false").
    assert event["requestContext"]["authorizer"] == {
        "calls": "1", "token": "Bearer ok-allow", "admin": "false", "level": "3", "principalId": "user-1",
        "integrationLatency": 0}
    assert event["pathParameters"] == {"id": "7"}
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/7"
    assert event["requestContext"]["path"] == "/dev/items/7"
    assert event["requestContext"]["stage"] == "dev"


def test_cached_answer_is_reused_within_the_ttl_and_not_after(rest: Project) -> None:
    headers = {"Authorization": "cached-stage"}

    def context(path: str) -> dict[str, Any]:
        ctx: dict[str, Any] = rest.call("GET", path, headers=headers).json()["event"]["requestContext"]
        return dict(ctx["authorizer"])

    first = context("/dev/items/1")
    rest.clock.now += 299
    # Another resource of the stage: the cached stage-wide policy covers it, no new call.
    assert context("/dev/files/a/b")["calls"] == first["calls"]
    rest.clock.now += 2
    later = context("/dev/items/1")
    assert int(later["calls"]) == int(first["calls"]) + 1


def test_cached_policy_is_evaluated_against_each_method_arn(rest: Project) -> None:
    headers = {"Authorization": "exact-allow"}  # Allow for exactly the first request's ARN
    assert rest.call("GET", "/dev/items/1", headers=headers).status == 200
    assert rest.call("GET", "/dev/items/2", headers=headers).status == 403  # same cached policy


def test_greedy_path_any_method_and_binary_bodies(rest: Project) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    reply = rest.call("PUT", "/dev/files/a/b%20c.png", body=png,
                      headers={"Authorization": "allow", "Content-Type": "image/png"})
    event = reply.json()["event"]
    assert event["pathParameters"] == {"proxy": "a/b c.png"}
    assert event["httpMethod"] == "PUT"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    text = rest.call("POST", "/dev/files/x", body=b"caf\xc3\xa9",
                     headers={"Authorization": "other-allow", "Content-Type": "text/plain"}).json()["event"]
    assert (text["body"], text["isBase64Encoded"]) == ("café", False)


def test_chunked_request_body_reaches_the_handler(rest: Project) -> None:
    reply = rest.call("POST", "/dev/open", chunks=[b'{"a":', b" 1", b"}"],
                      headers={"Content-Type": "application/json"})
    event = reply.json()["event"]
    assert event["body"] == '{"a": 1}'
    assert "Transfer-Encoding" not in event["headers"]


def test_unreadable_or_oversized_bodies_are_refused_before_any_function(rest: Project) -> None:
    chunked = {"Transfer-Encoding": "chunked"}
    bad = rest.call("POST", "/dev/open", body=b"zz\r\nabc\r\n0\r\n\r\n", headers=chunked)
    assert bad.status == 400
    # 20 MB announced, nothing sent: answered at once, API Gateway's REST wording.
    big = rest.call("POST", "/dev/open", headers={"Content-Length": str(20 * 1024 * 1024)})
    assert (big.status, big.json()) == (413, {"message": "Request Too Long"})
    assert "-> Echo" not in rest.logs.getvalue()


def test_a_client_that_resets_the_connection_costs_no_traceback(rest: Project,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    host, port = urlsplit(rest.gateway.url).hostname, urlsplit(rest.gateway.url).port
    for _ in range(3):
        with socket.create_connection((host, port)) as sock:
            sock.sendall(b"POST /dev/open HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            time.sleep(0.2)  # answered; the reply is left unread
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    time.sleep(0.3)
    assert rest.call("POST", "/dev/open").status == 200  # still serving
    assert "Traceback" not in capsys.readouterr().err


def test_an_absolute_form_request_target_is_routed_by_its_path(rest: Project) -> None:
    # RFC 9112 §3.2.2: a server must accept "POST http://host/path"; the authority is not part of the path.
    host, port = urlsplit(rest.gateway.url).hostname, urlsplit(rest.gateway.url).port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"POST http://{host}:{port}/dev/open?x=1 HTTP/1.1\r\nHost: {host}\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    event = json.loads(answer.partition(b"\r\n\r\n")[2])["event"]
    assert (event["path"], event["queryStringParameters"]) == ("/open", {"x": "1"})


def _raw_get(base: str, target: bytes) -> dict[str, Any]:
    """The event for a GET whose request line carries ``target`` byte for byte."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"GET " + target + f" HTTP/1.1\r\nHost: {host}\r\nAuthorization: allow\r\n"
                     "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b" ", 2)[1] == b"200", answer
    return dict(json.loads(answer.partition(b"\r\n\r\n")[2])["event"])


def test_raw_utf_8_in_the_request_target_reads_as_the_text_sent(rest: Project) -> None:
    # `curl http://127.0.0.1:3000/dev/files/café?q=✓` sends the UTF-8 bytes unencoded: they mean what
    # %C3%A9 means, not Latin-1 mojibake ("cafÃ©").
    event = _raw_get(rest.gateway.url, "/dev/files/café?q=✓".encode())
    assert (event["pathParameters"], event["queryStringParameters"]) == ({"proxy": "café"}, {"q": "✓"})
    assert event["path"] == "/files/caf%C3%A9"  # REST passes the path as a browser would send it


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_host_is_served(project: Project) -> None:
    # `start-api --host ::1`, as sam's server binds it (werkzeug picks AF_INET6 for an address with ':').
    (project.root / "template.yaml").write_text(REST_TOKEN)
    template = Template(project.root / "template.yaml")
    runners = {n: FunctionRunner(f) for n, f in template.functions.items()}
    with LocalApiGateway(collect(template).routes, runners, host="::1") as gateway:
        assert gateway.url.startswith("http://[::1]:")
        reply = request(gateway.url, "POST", "/dev/open")
    assert (reply.status, reply.json()["event"]["requestContext"]["identity"]["sourceIp"]) == (200, "::1")


def _http_1_0(base: str, method: str, path: str) -> dict[str, Any]:
    """The event a request sent as HTTP/1.0 (``curl -0``) hands the function."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b" ", 2)[1] == b"200"
    return dict(json.loads(answer.partition(b"\r\n\r\n")[2])["event"])


def test_request_context_protocol_is_the_one_the_client_spoke(rest: Project) -> None:
    assert rest.call("POST", "/dev/open").json()["event"]["requestContext"]["protocol"] == "HTTP/1.1"
    assert _http_1_0(rest.gateway.url, "POST", "/dev/open")["requestContext"]["protocol"] == "HTTP/1.0"


HTTP_API = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Handler: app.handler, Runtime: python3.12}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Events:
        Show: {Type: HttpApi, Properties: {Path: "/shows/{id}", Method: GET}}
        Latest: {Type: HttpApi, Properties: {Path: /shows/latest, Method: GET}}
        Any: {Type: HttpApi, Properties: {Path: "/any/{proxy+}", Method: ANY}}
        Fallback: {Type: HttpApi}
  Fail:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fail/
      Events:
        Boom: {Type: HttpApi, Properties: {Path: "/fail/{how}", Method: GET}}
  Rest:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fail/
      Events:
        Boom: {Type: Api, Properties: {Path: "/fail/{how}", Method: GET}}
"""

FAIL = """\
def handler(event, context):
    how = event["pathParameters"]["how"]
    if how == "raise":
        raise RuntimeError("handler bug")
    if how == "status":
        return {"statusCode": "teapot"}
    if how == "extra":
        return {"statusCode": 200, "body": "x", "unexpected": 1}
    if how == "simple":
        return {"hello": "world"}
    if how in ("204", "304"):
        return {"statusCode": int(how), "body": "never sent"}
    if how == "unicode-header":
        return {"statusCode": 200, "headers": {"Content-Disposition": "attachment; filename=\u2713.txt"}}
    if how == "binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": "iVBORw0K", "cookies": ["a=1", "b=2"]}
    return {"statusCode": 201, "headers": {"X-One": "1"}, "multiValueHeaders": {"X-Two": ["a", "b"]},
            "body": "made"}
"""


@pytest.fixture
def http_api(project: Project) -> Project:
    project.function("fail", FAIL)
    (project.root / "public").mkdir()
    (project.root / "public" / "index.html").write_text("<h1>home</h1>")
    (project.root / "public" / "app.js").write_text("console.log(1)")
    (project.root / "secret.txt").write_text("outside")
    project.start(HTTP_API)
    return project


def test_most_specific_http_route_wins(http_api: Project) -> None:
    latest = http_api.call("GET", "/shows/latest").json()["event"]
    assert latest["routeKey"] == "GET /shows/latest"
    show = http_api.call("GET", "/shows/42").json()["event"]
    assert (show["routeKey"], show["pathParameters"]) == ("GET /shows/{id}", {"id": "42"})
    anything = http_api.call("DELETE", "/any/a/b/c").json()["event"]
    assert (anything["routeKey"], anything["pathParameters"]) == ("ANY /any/{proxy+}", {"proxy": "a/b/c"})
    fallback = http_api.call("PATCH", "/elsewhere").json()["event"]
    assert fallback["routeKey"] == "$default"


def test_a_method_api_gateway_does_not_serve_has_no_route_even_under_any(http_api: Project) -> None:
    # ANY is API Gateway's seven methods (sam's Route.ANY_HTTP_METHODS); sam local answers another
    # method as a missing route, in JSON, never an HTML page or the function.
    for method in ("PROPFIND", "TRACE", "FOO"):
        odd = http_api.call(method, "/any/a")  # ANY route, and the HTTP API's $default
        assert (odd.status, odd.json()) == (404, {"message": "Not Found"})
        rest = http_api.call(method, "/Prod/fail/raise")
        assert (rest.status, rest.json()) == (403, {"message": "Missing Authentication Token"})
    assert "-> Echo" not in http_api.logs.getvalue()


def test_static_files_and_index(http_api: Project) -> None:
    home = http_api.call("GET", "/")
    assert (home.status, home.body) == (200, b"<h1>home</h1>")
    assert home.headers["content-type"].startswith("text/html")
    assert http_api.call("GET", "/app.js").body == b"console.log(1)"
    # Outside the folder: never served; the $default route gets the request instead.
    escaped = http_api.call("GET", "/..%2fsecret.txt")
    assert escaped.json()["event"]["routeKey"] == "$default"


def test_function_failures_are_api_gateway_answers(http_api: Project) -> None:
    raised = http_api.call("GET", "/fail/raise")
    assert (raised.status, raised.json()) == (500, {"message": "Internal Server Error"})
    logs = http_api.logs.getvalue()
    assert "handler bug" in logs
    assert "apigw/server.py" not in logs  # the function's failure, not a stack of the local gateway's
    assert http_api.call("GET", "/fail/status").status == 500
    rest_raised = http_api.call("GET", "/Prod/fail/raise")
    assert (rest_raised.status, rest_raised.json()) == (502, {"message": "Internal server error"})
    rest_extra = http_api.call("GET", "/Prod/fail/extra")
    assert (rest_extra.status, rest_extra.json()) == (502, {"message": "Internal server error"})
    assert http_api.call("GET", "/fail/extra").status == 200  # payload 2.0 ignores unknown keys
    # A header HTTP/1.1 has no octets for: API Gateway's answer and a reason, not a dropped connection.
    unicode_header = http_api.call("GET", "/fail/unicode-header")
    assert (unicode_header.status, unicode_header.json()) == (500, {"message": "Internal Server Error"})
    assert "not Latin-1 text (character 22)" in http_api.logs.getvalue()
    assert "attachment" not in http_api.logs.getvalue()  # the value itself is never logged


def test_responses_become_http_as_api_gateway_sends_them(http_api: Project) -> None:
    simple = http_api.call("GET", "/fail/simple")
    assert (simple.status, simple.json(), simple.headers["content-type"]) == (
        200, {"hello": "world"}, "application/json")
    binary = http_api.call("GET", "/fail/binary")
    assert binary.body == base64.b64decode("iVBORw0K")
    assert [v for k, v in binary.all_headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]
    made = http_api.call("GET", "/Prod/fail/made")
    assert (made.status, made.body) == (201, b"made")
    assert [v for k, v in made.all_headers if k.lower() in ("x-one", "x-two")] == ["a", "b", "1"]


def test_a_204_or_304_goes_without_its_body_and_the_connection_stays_usable(http_api: Project) -> None:
    # As sam local's server (and HTTP) has it: no body after 204 / 304, so none is left on a kept-alive
    # connection to be read as the start of the next answer.
    assert http_api.gateway is not None
    parts = urlsplit(http_api.gateway.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        for path in ("/fail/204", "/Prod/fail/304"):
            conn.request("GET", path)
            empty = conn.getresponse()
            assert (empty.status, empty.read(), empty.getheader("Content-Length")) == (
                int(path[-3:]), b"", None)
        conn.request("GET", "/fail/made")
        after = conn.getresponse()
        assert (after.status, after.read()) == (201, b"made")
    finally:
        conn.close()


def test_http_api_event_protocol_is_the_one_the_client_spoke(http_api: Project) -> None:
    spoken = http_api.call("GET", "/shows/7").json()["event"]["requestContext"]["http"]["protocol"]
    assert spoken == "HTTP/1.1"
    event = _http_1_0(http_api.gateway.url, "GET", "/shows/7")
    assert event["requestContext"]["http"]["protocol"] == "HTTP/1.0"


def test_http_api_event_carries_cookies_query_and_headers(http_api: Project) -> None:
    event = http_api.call("GET", "/shows/1?a=1&a=2&b=", headers={
        "Cookie": "s=1; t=2", "X-Multi": "v", "User-Agent": "tests"}).json()["event"]
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["headers"]["x-multi"] == "v"
    assert "cookie" not in event["headers"]
    assert event["requestContext"]["http"]["userAgent"] == "tests"
    assert event["requestContext"]["stage"] == "$default"


def _sample_gateway(issuer: DevIssuer, tmp_path: Path, scopes: str = "") -> LocalApiGateway:
    # The repository's template with an echo backend behind both APIs, the real sample authorizer.
    text = (ROOT / "template.yaml").read_text()
    text = text.replace("CodeUri: lambdas/me/", f"CodeUri: {tmp_path / 'echo'}/")
    text = text.replace("CodeUri: lambdas/", f"CodeUri: {ROOT / 'lambdas'}/")
    text = text.replace('AUTHORIZER_SCOPES: ""', f'AUTHORIZER_SCOPES: "{scopes}"')
    (tmp_path / "echo").mkdir(exist_ok=True)
    (tmp_path / "echo" / "app.py").write_text(
        "import json\nfrom serverless_jwt import require_auth\n"
        "@require_auth(trust_authorizer=True)\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps({'sub': context.identity_context.subject,"
        " 'authorizer': event['requestContext'].get('authorizer')})}\n")
    (tmp_path / "template.yaml").write_text(text)
    template = Template(tmp_path / "template.yaml")
    env = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience}
    runners = {n: FunctionRunner(f, environment=env) for n, f in template.functions.items()}
    return LocalApiGateway(collect(template).routes, runners)


@pytest.fixture
def sample(issuer: DevIssuer, tmp_path: Path) -> Iterator[LocalApiGateway]:
    with _sample_gateway(issuer, tmp_path, scopes="read:shows") as gateway:
        yield gateway


def test_sample_template_serves_both_apis(sample: LocalApiGateway,
                                          bearer: Callable[..., dict[str, str]]) -> None:
    token = bearer(sub="alice", scopes=["read:shows"])
    rest = request(sample.url, "GET", "/prod/me", headers=token)
    assert rest.status == 200
    body = rest.json()
    assert body["sub"] == "alice"  # the authorizer's context, read back by require_auth(trust_authorizer)
    assert body["authorizer"]["principalId"] == "alice"
    # The same backend on the HTTP API has no authorizer in front: a trusting backend finds no claims.
    assert request(sample.url, "GET", "/me", headers=token).status == 401
    assert request(sample.url, "GET", "/shows/1", headers=token).status == 200
    assert request(sample.url, "GET", "/prod/me").status == 401
    assert request(sample.url, "GET", "/prod/me", headers={"Authorization": "Bearer nope"}).status == 401
    denied = request(sample.url, "GET", "/prod/me", headers=bearer(sub="bob"))  # without read:shows
    assert denied.status == 403


def test_route_lines_name_every_url(sample: LocalApiGateway) -> None:
    lines = "\n".join(sample.route_lines())
    for path in ("/me ", "/prod/me ", "/shows ", "/shows/{id} "):
        assert f"{sample.url}{path}" in lines
    assert "authorizer JwtTokenAuthorizer (token)" in lines


INLINE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context): return {'statusCode': 200}"
      Handler: index.handler
      Runtime: python3.12
      Events:
        Http: {Type: HttpApi, Properties: {Path: /inline, Method: GET}}
        Rest: {Type: Api, Properties: {Path: /inline, Method: GET}}
"""


def test_a_route_to_inline_code_answers_sam_locals_501(tmp_path: Path) -> None:
    from serverless_jwt.dev.runners import prepare

    (tmp_path / "template.yaml").write_text(INLINE)
    template = Template(tmp_path / "template.yaml")
    prepared = prepare(template, ["Inline"], mode="in-process")
    logs = io.StringIO()
    with LocalApiGateway(collect(template).routes, prepared.runners, access_log=logs) as api:
        for path in ("/inline", "/Prod/inline"):
            reply = request(api.url, "GET", path)
            assert (reply.status, reply.json()) == (501, {"message": (
                "Inline code is not supported for sam local commands. Please write your code in a separate "
                "file.")}), path
    assert "GET /inline -> Inline 501 (inline code)" in logs.getvalue()


def test_a_route_to_a_function_not_run_locally_answers_sam_locals_502(tmp_path: Path) -> None:
    # Code in S3: sam local skips the function, and its routes answer 502 "No function defined".
    (tmp_path / "template.yaml").write_text(INLINE.replace(
        "InlineCode: \"def handler(event, context): return {'statusCode': 200}\"", "CodeUri: s3://bucket/key.zip"))
    template = Template(tmp_path / "template.yaml")
    assert "Inline" not in template.functions
    logs = io.StringIO()
    with LocalApiGateway(collect(template).routes, {}, access_log=logs) as api:
        for path in ("/inline", "/Prod/inline"):
            reply = request(api.url, "GET", path)
            assert reply.status == 502
            assert reply.json() == {"message": "No function defined for resource method"}
    assert "not run locally" in logs.getvalue()


def test_the_access_log_gives_a_refusals_reason_and_a_503s_retry_after() -> None:
    from serverless_jwt.dev.apigw.responses import Answer
    from serverless_jwt.dev.apigw.server import _reason

    refused = Answer(401, [("WWW-Authenticate", 'Bearer error="invalid_token", error_description="expired"')])
    assert _reason(refused) == " (invalid_token: expired)"
    assert _reason(Answer(401, [("WWW-Authenticate", 'Bearer realm="api"')])) == " (no token)"
    assert _reason(Answer(503, [("Retry-After", "30")])) == " (Retry-After: 30)"
    assert _reason(Answer(503, [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")])) == ""  # digits only
    assert _reason(Answer(200, [("Retry-After", "30")])) == ""


SLOW = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Handler: app.handler, Runtime: python3.12, Timeout: 60}
Resources:
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Events:
        Rest: {Type: Api, Properties: {Path: /slow, Method: GET, TimeoutInMillis: 100}}
        Http: {Type: HttpApi, Properties: {Path: /slow, Method: GET, TimeoutInMillis: 100}}
        Quick: {Type: HttpApi, Properties: {Path: /quick, Method: GET}}
"""


def test_a_function_slower_than_the_integration_timeout_gets_api_gateways_timeout_answer(
        project: Project) -> None:
    # The function's own Timeout (60 s) is not API Gateway's: it stops waiting after TimeoutInMillis
    # (29 s / 30 s by default) and answers REST 504, HTTP API 503, while the function runs on.
    project.function("slow", """\
        import time
        def handler(event, context):
            if event.get("rawPath") != "/quick":
                time.sleep(1)
            return {"statusCode": 200, "body": "late"}
        """)
    project.start(SLOW)
    rest = project.call("GET", "/Prod/slow")
    assert (rest.status, rest.json()) == (504, {"message": "Endpoint request timed out"})
    http = project.call("GET", "/slow")
    assert (http.status, http.json()) == (503, {"message": "Service Unavailable"})
    assert project.call("GET", "/quick").body == b"late"  # API Gateway's default: 30 s
    assert "GET /Prod/slow -> Slow 504 (integration timeout)" in project.logs.getvalue()


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
def test_resource_metadata_names_the_resource_by_the_loopback_name_it_was_fetched_under(name: str) -> None:
    # RFC 9728 §3.3: a client fetching http://localhost:PORT/.well-known/oauth-protected-resource must
    # find "resource": "http://localhost:PORT", or reject the document.
    with LocalApiGateway([], {}, resource_metadata=lambda url: {"resource": url}) as api:
        port = urlsplit(api.url).port
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            for host, expected in ((f"{name}:{port}", f"http://{name}:{port}"),
                                   (f"example.com:{port}", api.url)):  # not a name of ours: our own URL
                connection.request("GET", "/.well-known/oauth-protected-resource", headers={"Host": host})
                assert json.loads(connection.getresponse().read())["resource"] == expected
        finally:
            connection.close()
