"""A function's answer as API Gateway turns it into HTTP, and API Gateway's own answers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from serverless_jwt.dev.apigw.responses import MalformedResponse, customize, from_function, gateway
from serverless_jwt.dev.apigw.routes import Api

REST = Api("RestApi", "REST", "prod", binary_media_types=("image/*",))
HTTP = Api("HttpApi", "HTTP", "$default")


def test_payload_2_0_simple_form_is_a_200_json_body() -> None:
    for result in ({"hello": "world"}, ["a"], 3, True):
        answer = from_function(result, api=HTTP, payload_version="2.0", accept=None)
        assert (answer.status, answer.header("Content-Type"), json.loads(answer.body)) == (
            200, "application/json", result)


@pytest.mark.parametrize(("result", "body"), [("hello", b"hello"), ('{"a": 1}', b'{"a": 1}'), (None, b"")])
def test_payload_2_0_a_bare_string_is_the_body_as_it_is_and_null_is_none(result: Any, body: bytes) -> None:
    answer = from_function(result, api=HTTP, payload_version="2.0", accept=None)
    assert (answer.status, answer.body) == (200, body)


def test_payload_1_0_on_an_http_api_skips_unknown_keys_and_always_decodes_base64() -> None:
    result = {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "isBase64Encoded": True,
              "body": base64.b64encode(b"\xff").decode(), "extra": 1, "cookies": ["a=1"]}
    answer = from_function(result, api=HTTP, payload_version="1.0", accept="text/plain")
    assert answer.body == b"\xff"
    assert answer.header("Set-Cookie") is None  # cookies are a 2.0 field
    with pytest.raises(MalformedResponse, match="extra"):
        from_function(result, api=REST, payload_version="1.0", accept=None)


def test_payload_1_0_on_a_rest_api_accepts_cookies_and_reads_base64encoded_first() -> None:
    result = {"statusCode": 200, "cookies": ["a=1"], "base64Encoded": False, "isBase64Encoded": True,
              "body": base64.b64encode(b"\xff").decode()}
    answer = from_function(result, api=REST, payload_version="1.0", accept="image/png")
    assert answer.body == b"/w=="


def test_payload_2_0_structured_form() -> None:
    answer = from_function({"statusCode": 201, "headers": {"X-A": 1, "X-B": True}, "cookies": ["a=1", "b=2"],
                            "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True},
                           api=HTTP, payload_version="2.0", accept=None)
    assert answer.status == 201
    assert answer.headers == [("X-A", "1"), ("X-B", "true"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                              ("Content-Type", "application/json")]
    assert answer.body == b"\x00\x01"


def test_payload_1_0_merges_header_maps_once() -> None:
    answer = from_function({"statusCode": 200, "headers": {"X-A": "1", "Content-Type": "text/plain"},
                            "multiValueHeaders": {"X-A": ["1", "2"]}, "body": "ok"},
                           api=REST, payload_version="1.0", accept=None)
    assert answer.headers == [("X-A", "1"), ("X-A", "2"), ("Content-Type", "text/plain")]
    assert answer.body == b"ok"


def test_payload_1_0_decodes_base64_only_for_binary_media_types() -> None:
    result = {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "isBase64Encoded": True,
              "body": base64.b64encode(b"\xff").decode()}
    as_text = from_function(result, api=REST, payload_version="1.0", accept="text/plain")
    assert as_text.body == b"/w=="  # REST sends the base64 text unless the client accepts a binary type
    binary = from_function(result, api=REST, payload_version="1.0", accept="image/png")
    assert binary.body == b"\xff"


@pytest.mark.parametrize("bad", [
    None, "text", [], {"body": "no status"}, {"statusCode": "abc"}, {"statusCode": 99}, {"statusCode": True},
    {"statusCode": 200, "body": {"not": "a string"}},
    {"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}}, {"statusCode": 200, "headers": ["x"]},
    {"statusCode": 200, "headers": {"Bad Name": "1"}}, {"statusCode": 200, "headers": {"X": {"a": 1}}},
    {"statusCode": 200, "isBase64Encoded": "yes"}, {"statusCode": 200, "unexpected": 1},
    {"statusCode": 200, "multiValueHeaders": {"X": "not a list"}},
])
def test_malformed_rest_answers_are_refused(bad: Any) -> None:
    with pytest.raises(MalformedResponse):
        from_function(bad, api=REST, payload_version="1.0", accept=None)


@pytest.mark.parametrize(("api", "version", "result"), [
    (REST, "1.0", {"statusCode": 200, "headers": {"X-Mark": "\u2713"}}),
    (REST, "1.0", {"statusCode": 200, "multiValueHeaders": {"Content-Disposition": ["filename=\u6587"]}}),
    (HTTP, "2.0", {"statusCode": 200, "cookies": ["name=\u2713"]}),
    (HTTP, "1.0", {"statusCode": 200, "headers": {"X-\u2713": "v"}}),
])
def test_a_header_beyond_latin_1_is_a_malformed_answer_not_a_dropped_connection(api: Api, version: str,
                                                                                 result: Any) -> None:
    with pytest.raises(MalformedResponse, match="Latin-1"):
        from_function(result, api=api, payload_version=version, accept=None)
    fine = {"statusCode": 200, "headers": {"X-Name": "caf\u00e9"}}  # Latin-1 goes as its octets
    assert from_function(fine, api=api, payload_version=version, accept=None).header("X-Name") == "caf\u00e9"


@pytest.mark.parametrize(("api", "version", "result"), [
    (REST, "1.0", {"statusCode": 200, "body": "a\ud800b"}),
    (HTTP, "1.0", {"statusCode": 200, "body": "a\ud800b"}),
    (HTTP, "2.0", {"statusCode": 200, "body": "a\ud800b"}),
    (HTTP, "2.0", "a\ud800b"),
])
def test_a_body_with_a_lone_surrogate_is_sent_not_a_gateway_crash(api: Api, version: str,
                                                                  result: Any) -> None:
    # Lambda's python3.11 runtime escapes it ("\\ud800") and hands it over; UTF-8 has no bytes for it.
    answer = from_function(result, api=api, payload_version=version, accept=None)
    assert (answer.status, answer.body) == (200, b"a?b")


def test_bad_base64_body_is_refused_where_it_is_decoded() -> None:
    bad = {"statusCode": 200, "body": "%%%", "isBase64Encoded": True}
    with pytest.raises(MalformedResponse):
        from_function(bad, api=HTTP, payload_version="2.0", accept=None)
    with pytest.raises(MalformedResponse):
        from_function(bad, api=REST, payload_version="1.0", accept="image/png")


def test_api_gateway_answers_per_api_kind() -> None:
    assert gateway("not_found", rest=False, request_id="r").body == b'{"message":"Not Found"}'
    rest = gateway("not_found", rest=True, request_id="r")
    assert (rest.status, rest.header("x-amzn-ErrorType")) == (403, "MissingAuthenticationTokenException")
    assert gateway("integration_failure", rest=True, request_id="r").status == 502
    assert gateway("integration_failure", rest=False, request_id="r").status == 500
    assert gateway("unauthorized", rest=True, request_id="r").body == b'{"message":"Unauthorized"}'


def test_a_failed_lambda_authorizer_is_customized_as_authorizer_configuration_error() -> None:
    # AWS reports a Lambda authorizer that raises (or answers wrongly) as AuthorizerConfigurationException,
    # the AUTHORIZER_CONFIGURATION_ERROR gateway response; AUTHORIZER_FAILURE alone does not apply to it.
    failed = gateway("authorizer_failure", rest=True, request_id="r")
    assert (failed.status, failed.header("x-amzn-ErrorType")) == (500, "AuthorizerConfigurationException")
    retry = (("Retry-After", "30"),)
    configured = Api("RestApi", "REST", "prod",
                     gateway_responses=(("AUTHORIZER_CONFIGURATION_ERROR", 503, retry),))
    answer = customize(failed, configured)
    assert (answer.status, answer.header("Retry-After")) == (503, "30")
    other = Api("RestApi", "REST", "prod", gateway_responses=(("AUTHORIZER_FAILURE", 503, retry),))
    assert customize(failed, other).status == 500


def _sam_decodes(accept: str, content_type: str, binary_types: list[str]) -> bool:
    """Whether sam local's own REST parser turns the base64 body into bytes."""
    flask = pytest.importorskip("flask")
    from samcli.local.apigw.local_apigw_service import LocalApigwService
    from samcli.local.apigw.route import Route as SamRoute

    result = {"statusCode": 200, "headers": {"Content-Type": content_type}, "isBase64Encoded": True,
              "body": base64.b64encode(b"\xff").decode()}
    with flask.Flask(__name__).test_request_context("/", headers={"Accept": accept}):
        _, _, body = LocalApigwService._parse_v1_payload_format_lambda_output(
            json.dumps(result), binary_types, flask.request, SamRoute.API)
    return bool(body == b"\xff")


@pytest.mark.parametrize(("accept", "content_type", "decoded"), [
    ("text/html", "image/png", False),  # a browser page load: the first Accept type is not binary
    ("image/png", "image/png", True),
    ("*/*", "image/png", True),
    ("*/*", "text/plain", False),
])
def test_rest_decodes_base64_by_the_first_accept_type_as_sam_local_does(accept: str, content_type: str,
                                                                         decoded: bool) -> None:
    api = Api("RestApi", "REST", "prod", binary_media_types=("image/png",))
    result = {"statusCode": 200, "headers": {"Content-Type": content_type}, "isBase64Encoded": True,
              "body": base64.b64encode(b"\xff").decode()}
    answer = from_function(result, api=api, payload_version="1.0", accept=accept)
    assert (answer.body == b"\xff") is decoded
    assert _sam_decodes(accept, content_type, ["image/png"]) is decoded


def test_rest_reads_only_the_first_accept_type() -> None:
    # AWS documents the first Accept type alone deciding (sam local takes any acceptable one).
    result = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
              "body": base64.b64encode(b"\xff").decode()}
    answer = from_function(result, api=REST, payload_version="1.0", accept="text/html, image/png;q=0.9")
    assert answer.body == b"/w=="
    first_binary = from_function(result, api=REST, payload_version="1.0", accept="image/webp, text/html")
    assert first_binary.body == b"\xff"
