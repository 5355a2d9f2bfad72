"""The local HTTP API: route matching, request -> payload 2.0 event, proxy response -> HTTP, isolation."""

from __future__ import annotations

import base64
import http.client
import io
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from serverless_jwt.dev.local_api import LocalApi, build_event, match_route, proxy_response
from serverless_jwt.dev.runtime import FunctionRunner
from serverless_jwt.dev.template import Route, Template

ROUTES = [
    Route("GET", "/shows/{id}", "Show"),
    Route("GET", "/shows", "Shows"),
    Route("GET", "/shows/latest", "Latest"),
    Route("ANY", "/files/{path+}", "Files"),
    Route("POST", "/shows", "Create"),
]


@pytest.mark.parametrize(("method", "path", "function", "params"), [
    ("GET", "/shows", "Shows", {}),
    ("POST", "/shows", "Create", {}),
    ("GET", "/shows/latest", "Latest", {}),
    ("GET", "/shows/42", "Show", {"id": "42"}),
    ("GET", "/shows/a%20b", "Show", {"id": "a b"}),
    ("DELETE", "/files/a/b/c.txt", "Files", {"path": "a/b/c.txt"}),
])
def test_routes_match_most_specific_first(method: str, path: str, function: str,
                                          params: dict[str, str]) -> None:
    found = match_route(ROUTES, method, path)
    assert found is not None
    assert found[0].function == function
    assert found[1] == params


@pytest.mark.parametrize(("method", "path"), [("GET", "/shows/1/extra"), ("DELETE", "/shows"), ("GET", "/")])
def test_unmatched_requests_have_no_route(method: str, path: str) -> None:
    assert match_route(ROUTES, method, path) is None


def test_default_route_catches_the_rest() -> None:
    found = match_route([*ROUTES, Route("ANY", "$default", "Fallback")], "PUT", "/anything")
    assert found is not None
    assert found[0].key == "$default"


def test_event_is_payload_2_0() -> None:
    event = build_event(
        Route("GET", "/shows/{id}", "S"), method="get", raw_path="/shows/7", raw_query="a=1&a=2&b=",
        headers=[("Host", "127.0.0.1:3000"), ("X-Multi", "1"), ("x-multi", "2"), ("Cookie", "a=1; b=2"),
                 ("User-Agent", "curl/8")],
        body=b"", source_ip="127.0.0.1", path_parameters={"id": "7"}, request_id="r1", now=1700000000.5)
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /shows/{id}"
    assert event["rawPath"] == "/shows/7"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"] == {"host": "127.0.0.1:3000", "x-multi": "1,2", "user-agent": "curl/8"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["pathParameters"] == {"id": "7"}
    http = event["requestContext"]["http"]
    assert http == {"method": "GET", "path": "/shows/7", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                    "userAgent": "curl/8"}
    assert event["requestContext"]["timeEpoch"] == 1700000000500
    assert event["isBase64Encoded"] is False
    assert "body" not in event


def test_text_bodies_stay_text_and_binary_bodies_are_base64() -> None:
    route = Route("POST", "/x", "X")
    common = {"method": "POST", "raw_path": "/x", "raw_query": "", "source_ip": "127.0.0.1"}
    text = build_event(route, headers=[("Content-Type", "application/json")], body=b'{"a":1}', **common)
    assert (text["body"], text["isBase64Encoded"]) == ('{"a":1}', False)
    binary = build_event(route, headers=[("Content-Type", "image/png")], body=b"\x89PNG\x00", **common)
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x89PNG\x00"


def test_proxy_response_shapes() -> None:
    status, headers, body = proxy_response({
        "statusCode": 201, "headers": {"X-A": "1"}, "multiValueHeaders": {"X-B": ["1", "2"]},
        "cookies": ["s=1; HttpOnly"], "body": base64.b64encode(b"\x00\x01").decode(),
        "isBase64Encoded": True})
    assert status == 201
    assert headers == [("X-A", "1"), ("X-B", "1"), ("X-B", "2"), ("Set-Cookie", "s=1; HttpOnly")]
    assert body == b"\x00\x01"
    # Payload 2.0: anything without statusCode is a 200 JSON body.
    assert proxy_response({"hello": "world"}) == (200, [("Content-Type", "application/json")],
                                                  b'{"hello": "world"}')


@pytest.mark.parametrize("bad", [
    {"statusCode": "200"}, {"statusCode": 99}, {"statusCode": 200, "body": {"not": "a string"}},
    {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    {"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}},
])
def test_malformed_proxy_responses_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the local API turns any of these into a 500
        proxy_response(bad)


def _function(root: Path, name: str, code: str, helper: str) -> None:
    (root / name).mkdir()
    (root / name / "app.py").write_text(textwrap.dedent(code))
    (root / name / "helper.py").write_text(f"WHO = {helper!r}\n")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LocalApi]:
    # Two functions, both app.py with a sibling helper.py: each must get its own.
    echo = """\
        import json, os
        import helper
        def handler(event, context):
            print("log line from", context.function_name)
            return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                    "cookies": ["seen=1"],
                    "body": json.dumps({"event": event, "who": helper.WHO, "env": os.environ.get("GREETING"),
                                        "request_id": context.aws_request_id})}
    """
    boom = """\
        import helper
        def handler(event, context):
            if event["rawPath"] == "/boom/bad":
                return {"statusCode": "teapot"}
            raise RuntimeError("boom: " + helper.WHO)
    """
    _function(tmp_path, "echo", echo, "echo-helper")
    _function(tmp_path, "boom", boom, "boom-helper")
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            Handler: app.handler
            Runtime: python3.12
            Environment: {Variables: {GREETING: hello}}
        Resources:
          Echo:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: echo/
              Events:
                Get: {Type: HttpApi, Properties: {Path: "/echo/{name}", Method: ANY}}
          Boom:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: boom/
              Events:
                Get: {Type: HttpApi, Properties: {Path: "/boom/{what}", Method: GET}}
    """))
    template = Template(tmp_path / "template.yaml")
    logs = io.StringIO()
    runners = {n: FunctionRunner(f, log_stream=logs) for n, f in template.functions.items()}
    with LocalApi(template.routes, runners, access_log=logs) as local:
        local.logs = logs  # type: ignore[attr-defined]
        yield local


def _request(api: LocalApi, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    url = urlsplit(api.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read_body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def test_real_request_reaches_the_handler_as_a_payload_2_0_event(api: LocalApi) -> None:
    r = _request(api, "POST", "/echo/al%20ice?x=1", body=b'{"k": 1}',
                 headers={"Content-Type": "application/json", "Authorization": "Bearer abc",
                          "Cookie": "a=1; b=2"})
    assert r.status == 200
    assert r.getheader("Content-Type") == "application/json"
    assert r.getheader("Set-Cookie") == "seen=1"
    data = json.loads(r.read_body)  # type: ignore[attr-defined]
    event = data["event"]
    assert event["routeKey"] == "ANY /echo/{name}"
    assert event["pathParameters"] == {"name": "al ice"}
    assert event["rawQueryString"] == "x=1"
    assert event["headers"]["authorization"] == "Bearer abc"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["body"] == '{"k": 1}'
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert data["request_id"]  # a Lambda request id of its own, as in AWS
    assert data["who"] == "echo-helper"
    assert data["env"] == "hello"
    assert "log line from Echo" in api.logs.getvalue()  # type: ignore[attr-defined]


def test_functions_with_same_module_names_stay_isolated(api: LocalApi) -> None:
    assert _request(api, "GET", "/boom/now").status == 500
    assert "boom: boom-helper" in api.logs.getvalue()  # type: ignore[attr-defined]
    assert json.loads(_request(api, "GET", "/echo/x").read_body)["who"] == "echo-helper"  # type: ignore[attr-defined]


def test_handler_errors_and_bad_responses_are_500_and_unknown_routes_404(api: LocalApi) -> None:
    failed = _request(api, "GET", "/boom/now")
    assert failed.status == 500
    assert json.loads(failed.read_body) == {"message": "Internal Server Error"}  # type: ignore[attr-defined]
    assert _request(api, "GET", "/boom/bad").status == 500
    missing = _request(api, "GET", "/nowhere")
    assert missing.status == 404
    assert json.loads(missing.read_body) == {"message": "Not Found"}  # type: ignore[attr-defined]
    assert _request(api, "POST", "/boom/now").status == 404  # method not routed


def test_stopped_api_releases_its_port(api: LocalApi) -> None:
    url = api.url
    api.stop()
    with pytest.raises(OSError):  # noqa: PT011 - connection refused, whatever the platform calls it
        _request_url(url)


def _request_url(url: str) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", "/echo/x")
        conn.getresponse()
    finally:
        conn.close()
