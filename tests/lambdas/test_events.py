"""events/*.json hold the members API Gateway sends, as start-api builds them for the same request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serverless_jwt.dev.apigw import events
from serverless_jwt.dev.apigw.events import Request
from serverless_jwt.dev.apigw.routes import Api, Match, Route

EVENTS = Path(__file__).resolve().parents[2] / "events"
HTTP = Api("HttpApi", "HTTP", "$default")
REST = Api("RestApi", "REST", "test")


def _request(path: str, query: str = "") -> Request:
    return Request("GET", path, raw_query=query, body=b"", source_ip="192.168.0.1", port=443,
                   headers=[("Host", "id.execute-api.us-east-1.amazonaws.com"), ("Accept", "*/*")],
                   request_id="id", now=1583348638.39)


def _members(event: dict[str, Any]) -> set[str]:
    return set(event) | {f"requestContext.{k}" for k in event.get("requestContext") or {}}


@pytest.mark.parametrize(("name", "route", "path", "params"), [
    ("me", "/me", "/me", {}), ("shows", "/shows", "/shows", {}),
    ("show", "/shows/{id}", "/shows/1", {"id": "1"})])
def test_http_api_events_have_the_members_of_payload_2_0(name: str, route: str, path: str,
                                                         params: dict[str, str]) -> None:
    built = events.v2_event(Match(Route(HTTP, "GET", route, "F", payload_version="2.0"), params, path),
                            _request(path))
    assert _members(json.loads((EVENTS / f"{name}.json").read_text())) == _members(built)


def test_request_authorizer_event_has_the_top_level_members_api_gateway_sends() -> None:
    # Its requestContext is sam local generate-event's (a subset); the request's own members are all there,
    # multi-value query strings beside multi-value headers, as a REST REQUEST authorizer receives them.
    built = events.v1_authorizer_event(Match(Route(REST, "GET", "/request", "F"), {}, "/request"),
                                       _request("/test/request", "QueryString1=queryValue1"), "arn")
    sample = json.loads((EVENTS / "authorizer-request.json").read_text())
    assert set(sample) == set(built)
    assert sample["multiValueQueryStringParameters"] == {
        k: [v] for k, v in sample["queryStringParameters"].items()}
