"""Event builders give each event source's shape, and our extraction reads back what was put in."""

from __future__ import annotations

import base64
import ipaddress
import json
from pathlib import Path

import pytest

from serverless_jwt.adapters.events import (
    authorizer_claims,
    bearer_token,
    detect,
    header_values,
    http_method,
)
from serverless_jwt.dev.events import EVENT_KINDS, event_template, http_event
from serverless_jwt.errors import MissingTokenError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "events"


def test_event_kinds_are_the_four_http_sources() -> None:
    assert set(EVENT_KINDS) == {"rest_v1", "http_v2", "alb", "function_url"}


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_shipped_templates_are_the_sam_generated_fixtures(kind: str) -> None:
    assert event_template(kind) == json.loads((FIXTURES / f"{kind}.json").read_text())  # type: ignore[arg-type]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        http_event("websocket")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_event_is_detected_as_its_kind_with_method_and_token(kind: str) -> None:
    event = http_event(kind, method="patch", path="/me", token="a.b.c")  # type: ignore[arg-type]
    assert detect(event) == kind
    assert http_method(event) == "PATCH"
    assert bearer_token(event) == "a.b.c"


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_event_without_credentials_has_none_and_no_authorizer_sample(kind: str) -> None:
    event = http_event(kind)  # type: ignore[arg-type]
    with pytest.raises(MissingTokenError):
        bearer_token(event, cookie_name="nf_jwt")
    # SAM's HTTP API sample claims a JWT authorizer already accepted someone; that must be gone.
    assert authorizer_claims(event) is None


@pytest.mark.parametrize("kind", EVENT_KINDS)
@pytest.mark.parametrize("cookie", ["theme=dark; nf_jwt=x.y.z", {"theme": "dark", "nf_jwt": "x.y.z"}])
def test_cookie_carries_the_token(kind: str, cookie: object) -> None:
    event = http_event(kind, cookie=cookie)  # type: ignore[arg-type]
    assert bearer_token(event, cookie_name="nf_jwt") == "x.y.z"
    with pytest.raises(MissingTokenError):
        bearer_token(event)  # cookies count only when the application names one


def test_a_cookie_neither_text_nor_a_mapping_is_a_type_error_that_says_what_to_pass() -> None:
    with pytest.raises(TypeError, match="name=value"):
        http_event("rest_v1", cookie=("nf_jwt", "x.y.z"))  # type: ignore[arg-type]


def test_cookie_placement_follows_each_source() -> None:
    assert http_event("http_v2", cookie="a=1; b=2")["cookies"] == ["a=1", "b=2"]
    assert http_event("function_url", cookie={"a": "1"})["cookies"] == ["a=1"]
    assert http_event("rest_v1", cookie={"a": "1", "b": "2"})["headers"]["Cookie"] == "a=1; b=2"
    assert http_event("alb", cookie="a=1")["headers"]["cookie"] == "a=1"
    assert "cookies" not in http_event("http_v2")  # SAM's sample cookies are not sent


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_token_replaces_an_authorization_header_of_any_case(kind: str) -> None:
    # A caller-provided Authorization header of another case plus token=: the token replaces it.
    event = http_event(kind, token="a.b.c", headers={"AUTHORIZATION": "Basic dXNlcg=="})  # type: ignore[arg-type]
    assert header_values(event, "authorization") == ["Bearer a.b.c"]


def test_header_names_are_lower_cased_except_rest() -> None:
    for kind in ("http_v2", "alb", "function_url"):
        event = http_event(kind, headers={"X-Trace": "1"})  # type: ignore[arg-type]
        assert event["headers"]["x-trace"] == "1"
        assert all(name == name.lower() for name in event["headers"])
    rest = http_event("rest_v1", headers={"X-Trace": "1", "host": "api.example"})
    assert rest["headers"]["X-Trace"] == "1"
    assert rest["multiValueHeaders"]["X-Trace"] == ["1"]
    assert rest["headers"]["host"] == "api.example"
    assert "Host" not in rest["headers"]  # replaced whatever the case, so never two Host headers


def test_rest_v1_request_fields() -> None:
    event = http_event("rest_v1", method="GET", path="/shows/7", route="/shows/{id}",
                       path_parameters={"id": "7"}, query={"page": "2", "tag": ["a", "b"]})
    assert (event["path"], event["resource"]) == ("/shows/7", "/shows/{id}")
    assert event["pathParameters"] == {"id": "7"}
    assert event["requestContext"]["resourcePath"] == "/shows/{id}"
    assert event["requestContext"]["path"] == "/prod/shows/7"
    assert event["queryStringParameters"] == {"page": "2", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"page": ["2"], "tag": ["a", "b"]}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None


def test_http_v2_request_fields() -> None:
    event = http_event("http_v2", method="POST", path="/shows/7?tag=a&tag=b", route="/shows/{id}",
                       path_parameters={"id": "7"})
    assert event["routeKey"] == "POST /shows/{id}" == event["requestContext"]["routeKey"]
    assert event["rawPath"] == "/shows/7" == event["requestContext"]["http"]["path"]
    assert event["rawQueryString"] == "tag=a&tag=b"
    assert event["queryStringParameters"] == {"tag": "a,b"}
    assert event["pathParameters"] == {"id": "7"}
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert "authentication" not in event["requestContext"]


@pytest.mark.parametrize("kind", ["http_v2", "function_url"])
def test_the_source_ip_is_a_bare_address_as_api_gateway_sends_it(kind: str) -> None:
    # SAM's HTTP API sample has "192.168.0.1/32": ipaddress.ip_address() on it failed only in tests.
    source = http_event(kind)["requestContext"]["http"]["sourceIp"]
    assert ipaddress.ip_address(source)


def test_function_url_and_alb_have_no_path_parameters() -> None:
    assert http_event("function_url", path="/x")["routeKey"] == "$default"
    assert http_event("function_url")["pathParameters"] is None
    for kind in ("function_url", "alb"):
        with pytest.raises(ValueError, match="no path parameters"):
            http_event(kind, path_parameters={"id": "7"})  # type: ignore[arg-type]


def test_alb_single_and_multi_value_forms() -> None:
    single = http_event("alb", path="/x", query={"q": ["1", "2"]}, token="a.b.c")
    assert single["queryStringParameters"] == {"q": "2"}
    assert "multiValueHeaders" not in single
    assert single["body"] == ""
    multi = http_event("alb", query={"q": ["1", "2"]}, token="a.b.c", multi_value_headers=True)
    assert "headers" not in multi
    assert "queryStringParameters" not in multi
    assert multi["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert bearer_token(multi) == "a.b.c"


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_bodies_text_bytes_and_json(kind: str) -> None:
    text = http_event(kind, body="hello")  # type: ignore[arg-type]
    assert (text["body"], text["isBase64Encoded"]) == ("hello", False)
    raw = http_event(kind, body=b"\x00\xff")  # type: ignore[arg-type]
    assert raw["isBase64Encoded"] is True
    assert base64.b64decode(raw["body"]) == b"\x00\xff"
    doc = http_event(kind, body={"qty": 1})  # type: ignore[arg-type]
    assert json.loads(doc["body"]) == {"qty": 1}
    assert header_values(doc, "content-type") == ["application/json"]
    kept = http_event(kind, body=[1], headers={"Content-Type": "application/vnd.api+json"})  # type: ignore[arg-type]
    assert header_values(kept, "content-type") == ["application/vnd.api+json"]


def test_each_event_is_a_fresh_copy_with_its_own_request_id() -> None:
    first = http_event("http_v2")
    first["headers"]["x-mutated"] = "1"
    first["requestContext"]["http"]["method"] = "DELETE"
    second = http_event("http_v2")
    assert "x-mutated" not in second["headers"]
    assert second["requestContext"]["http"]["method"] == "GET"
    assert first["requestContext"]["requestId"] != second["requestContext"]["requestId"]
    assert event_template("http_v2")["requestContext"]["http"]["method"] == "POST"  # template untouched


def test_a_route_key_and_its_path_parameters_are_read_as_api_gateway_matched_them() -> None:
    v2 = http_event("http_v2", method="GET", path="/items/42/tags/x", route="GET /items/{id}/tags/{tag}")
    assert v2["routeKey"] == "GET /items/{id}/tags/{tag}"  # not "GET GET /items/..."
    assert v2["pathParameters"] == {"id": "42", "tag": "x"}
    rest = http_event("rest_v1", path="/files/a/b/c.txt", route="/files/{proxy+}")
    assert rest["resource"] == "/files/{proxy+}"
    assert rest["pathParameters"] == {"proxy": "a/b/c.txt"}
    given = http_event("http_v2", path="/items/42", route="/items/{id}", path_parameters={"id": "7"})
    assert given["pathParameters"] == {"id": "7"}  # what the test says wins
    plain = http_event("http_v2", path="/health", route="/health")
    assert plain.get("pathParameters") is None
