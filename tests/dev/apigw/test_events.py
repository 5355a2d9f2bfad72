"""Events as API Gateway builds them, held to ``sam local generate-event`` output made at test time."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from serverless_jwt.dev.apigw import events
from serverless_jwt.dev.apigw.events import Request
from serverless_jwt.dev.apigw.routes import Api, Match, Route, match

SAMPLES = {"aws-proxy": "rest", "http-api-proxy": "http", "authorizer": "token",
           "request-authorizer": "request"}


def _sam() -> str:
    local = Path(sys.executable).parent / "sam"
    found = str(local) if local.exists() else shutil.which("sam")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("sam (aws-sam-cli) is needed to cross-check event shapes")
        pytest.skip("sam (aws-sam-cli) is not installed")
    return found


@pytest.fixture(scope="session")
def sam_events() -> dict[str, Any]:
    sam = _sam()
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    procs = {name: subprocess.Popen([sam, "local", "generate-event", "apigateway", command],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
             for command, name in SAMPLES.items()}
    out = {}
    for name, proc in procs.items():
        stdout, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, name
        out[name] = json.loads(stdout)
    return out


REST = Api("RestApi", "REST", "prod", binary_media_types=("image/png",), stage_variables=(("v", "1"),))
HTTP = Api("HttpApi", "HTTP", "$default", stage_variables=(("v", "1"),))


def _request(method: str = "POST", path: str = "/prod/items/7", **kwargs: Any) -> Request:
    defaults: dict[str, Any] = {
        "raw_query": "a=1&a=2&b=", "body": b'{"k": 1}', "source_ip": "127.0.0.1", "port": 3000,
        "headers": [("Host", "127.0.0.1:3000"), ("User-Agent", "tests"), ("X-Multi", "1"),
                    ("X-Multi", "2"), ("Cookie", "s=1; t=2"), ("Content-Type", "application/json")],
        "request_id": "req-1", "now": 1700000000.25}
    return Request(method, path, **{**defaults, **kwargs})


def _rest_match() -> Match:
    return Match(Route(REST, "POST", "/items/{id}", "Fn"), {"id": "7"}, "/items/7")


def _http_match() -> Match:
    return Match(Route(HTTP, "POST", "/items/{id}", "Fn", payload_version="2.0"), {"id": "7"}, "/items/7")


def _types(a: Any, b: Any, where: str = "") -> list[str]:
    # Shared members with values in both must have the same JSON type, recursively.
    if a is None or b is None:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in a.keys() & b.keys() for p in _types(a[k], b[k], f"{where}.{k}")]
    kind = {bool: "bool", int: "number", float: "number", str: "string", list: "list", dict: "object"}
    return [] if kind[type(a)] == kind[type(b)] else [where]


def test_payload_1_0_has_sams_members_and_types(sam_events: dict[str, Any]) -> None:
    ours = events.v1_event(_rest_match(), _request(path="/prod/items/7"))
    sam = sam_events["rest"]
    assert set(ours) == set(sam)
    assert set(sam["requestContext"]) <= set(ours["requestContext"])
    assert set(sam["requestContext"]["identity"]) <= set(ours["requestContext"]["identity"])
    assert _types(ours, sam) == []


def test_payload_1_0_values() -> None:
    ours = events.v1_event(_rest_match(), _request(path="/prod/items/7"))
    assert ours["headers"]["X-Multi"] == "2"
    assert ours["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert ours["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert ours["queryStringParameters"] == {"a": "2", "b": ""}
    assert ours["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert (ours["resource"], ours["path"], ours["requestContext"]["path"]) == (
        "/items/{id}", "/items/7", "/prod/items/7")
    assert ours["requestContext"]["requestTimeEpoch"] == 1700000000250
    assert ours["requestContext"]["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert (ours["body"], ours["isBase64Encoded"]) == ('{"k": 1}', False)
    empty = events.v1_event(_rest_match(), _request(raw_query="", body=b""))
    assert (empty["queryStringParameters"], empty["multiValueQueryStringParameters"], empty["body"]) == (
        None, None, None)


def test_payload_1_0_says_its_version_only_on_an_http_api() -> None:
    http = Match(Route(HTTP, "POST", "/items/{id}", "Fn", payload_version="1.0"), {"id": "7"}, "/items/7")
    assert events.v1_event(http, _request(path="/items/7"))["version"] == "1.0"
    assert "version" not in events.v1_event(_rest_match(), _request(path="/prod/items/7"))


def test_payload_1_0_on_an_http_api_has_the_route_key_as_resource_id() -> None:
    # A deployed HTTP API's 1.0 event: "resourceId": "ANY /webinar_payment_webhook"; REST has an id.
    http = Match(Route(HTTP, "ANY", "/items/{id}", "Fn", payload_version="1.0"), {"id": "7"}, "/items/7")
    context = events.v1_event(http, _request(path="/items/7"))["requestContext"]
    assert context["resourceId"] == "ANY /items/{id}"
    rest_id = events.v1_event(_rest_match(), _request(path="/prod/items/7"))["requestContext"]["resourceId"]
    assert len(rest_id) == 6
    assert " " not in rest_id


def test_http_apis_decode_the_path_rest_apis_keep_it_as_sent() -> None:
    http_routes = [Route(HTTP, "GET", "/items/{id}", "Fn", payload_version="2.0"),
                   Route(HTTP, "GET", "/v1/{id}", "Fn", payload_version="1.0")]
    found = match(http_routes, "GET", "/items/a%20b")
    assert found is not None
    v2 = events.v2_event(found, _request("GET", "/items/a%20b"))
    assert (v2["rawPath"], v2["requestContext"]["http"]["path"], v2["pathParameters"]) == (
        "/items/a b", "/items/a b", {"id": "a b"})
    found = match(http_routes, "GET", "/v1/a%20b")
    assert found is not None
    v1_http = events.v1_event(found, _request("GET", "/v1/a%20b"))
    assert (v1_http["path"], v1_http["requestContext"]["path"]) == ("/v1/a b", "/v1/a b")
    found = match([Route(REST, "GET", "/items/{id}", "Fn")], "GET", "/prod/items/a%20b")
    assert found is not None
    rest = events.v1_event(found, _request("GET", "/prod/items/a%20b"))
    assert (rest["path"], rest["requestContext"]["path"], rest["pathParameters"]) == (
        "/items/a%20b", "/prod/items/a%20b", {"id": "a b"})


def test_payload_1_0_base64_only_for_binary_media_types() -> None:
    png_request = _request(body=b"\x89PNG\x00", headers=[("Content-Type", "image/png")])
    png = events.v1_event(_rest_match(), png_request)
    assert png["isBase64Encoded"] is True
    assert base64.b64decode(png["body"]) == b"\x89PNG\x00"
    other = events.v1_event(_rest_match(), _request(body=b"\x00\x01", headers=[("Content-Type", "x/y")]))
    assert other["isBase64Encoded"] is False


def test_payload_2_0_has_sams_members_and_types(sam_events: dict[str, Any]) -> None:
    ours = events.v2_event(_http_match(), _request(path="/items/7"))
    sam = sam_events["http"]
    assert set(ours) == set(sam)
    assert set(sam["requestContext"]) - {"authentication", "authorizer"} <= set(ours["requestContext"])
    assert set(sam["requestContext"]["http"]) == set(ours["requestContext"]["http"])
    assert _types(ours, sam) == []


def test_payload_2_0_values() -> None:
    ours = events.v2_event(_http_match(), _request(path="/items/7"))
    assert ours["headers"]["x-multi"] == "1,2"
    assert "cookie" not in ours["headers"]
    assert ours["cookies"] == ["s=1", "t=2"]
    assert ours["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert ours["routeKey"] == ours["requestContext"]["routeKey"] == "POST /items/{id}"
    assert ours["requestContext"]["timeEpoch"] == 1700000000250
    bare = events.v2_event(_http_match(), _request(raw_query="", body=b"", headers=[]))
    assert not {"cookies", "queryStringParameters", "body"} & set(bare)
    binary_request = _request(body=b"\xff\x00", headers=[("Content-Type", "image/png")])
    binary = events.v2_event(_http_match(), binary_request)
    assert binary["isBase64Encoded"] is True


def test_authorizer_events_have_sams_members(sam_events: dict[str, Any]) -> None:
    arn = events.method_arn(REST, _request(method="GET"), "/items/7")
    assert arn.startswith("arn:aws:execute-api:us-east-1:123456789012:")
    assert arn.endswith(f"{REST.id}/prod/GET/items/7")
    token = events.token_authorizer_event("Bearer x", arn)
    assert set(token) == set(sam_events["token"])
    request = events.v1_authorizer_event(_rest_match(), _request(), arn)
    sam = sam_events["request"]
    assert set(sam) <= set(request)
    assert set(sam["requestContext"]) <= set(request["requestContext"])
    identity = set(request["requestContext"]["identity"])
    assert set(sam["requestContext"]["identity"]) - {"clientCert"} <= identity
    v2 = events.v2_authorizer_event(_http_match(), _request(path="/items/7"), arn, ["Bearer x"])
    assert (v2["version"], v2["type"], v2["routeArn"]) == ("2.0", "REQUEST", arn)
    assert v2["identitySource"] == ["Bearer x"]
    assert "body" not in v2


def test_an_http_api_on_payload_1_0_base64_encodes_a_body_that_is_not_text() -> None:
    # An HTTP API has no BinaryMediaTypes: its rule holds on payload 1.0 too (the bytes became U+FFFD).
    http = Match(Route(HTTP, "PUT", "/items/{id}", "Fn", payload_version="1.0"), {"id": "7"}, "/items/7")
    octets = [("Content-Type", "application/octet-stream")]
    sent = _request(path="/items/7", body=b"\xff\x00\x89", headers=octets)
    ours = events.v1_event(http, sent)
    assert ours["isBase64Encoded"] is True
    assert base64.b64decode(ours["body"]) == b"\xff\x00\x89"
    text = events.v1_event(http, _request(path="/items/7"))
    assert (text["body"], text["isBase64Encoded"]) == ('{"k": 1}', False)


def test_an_http_api_base64_encodes_a_form_post_and_a_body_without_content_type() -> None:
    # As HTTP APIs do (observed on AWS, ministackorg/ministack#766): only text/*, JSON, XML and
    # JavaScript arrive as text. sam local hands a form post over as text; a deployed API does not.
    for headers in ([("Content-Type", "application/x-www-form-urlencoded")], []):
        ours = events.v2_event(_http_match(), _request(path="/items/7", body=b"a=1&b=2", headers=headers))
        assert (ours["body"], ours["isBase64Encoded"]) == (base64.b64encode(b"a=1&b=2").decode(), True)
    for text_type in ("text/plain; charset=utf-8", "application/json", "application/xml"):
        sent = _request(path="/items/7", headers=[("Content-Type", text_type)])
        ours = events.v2_event(_http_match(), sent)
        assert (ours["body"], ours["isBase64Encoded"]) == ('{"k": 1}', False)
