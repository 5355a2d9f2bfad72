"""What depends on the event's source (adapters/_event_source.py): detection, authorizer claims, responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from serverless_jwt.adapters import _event_source, events
from serverless_jwt.adapters.events import authorizer_claims, detect, error_response, preflight_response
from serverless_jwt.errors import (
    InsufficientScopeError,
    KeysUnavailableError,
    MissingTokenError,
    TokenExpiredError,
)

EventFactory = Callable[..., dict[str, Any]]


def test_they_are_still_imported_from_events() -> None:
    for name in ("EventKind", "authorizer_claims", "detect", "error_response", "preflight_response"):
        assert getattr(events, name) is getattr(_event_source, name), name
    assert {"EventKind", "authorizer_claims", "detect", "error_response"} <= set(events.__all__)


def test_each_fixture_is_detected_as_its_source(kind: str, make_event: EventFactory) -> None:
    assert detect(make_event(kind)) == kind


def test_authorizer_claims_per_source(make_event: EventFactory) -> None:
    http = make_event("http_v2")  # SAM's sample carries a JWT authorizer block (scopes scope1, scope2)
    assert authorizer_claims(http) == {"claim1": "value1", "claim2": "value2", "scope": "scope1 scope2"}
    rest = make_event("rest_v1")
    assert authorizer_claims(rest) is None
    rest["requestContext"]["authorizer"] = {"claims": {"sub": "u", "cognito:username": "u"}}
    assert authorizer_claims(rest) == {"sub": "u", "cognito:username": "u"}
    # A REST Cognito authorizer joins the groups array with commas: read back as the groups.
    for joined in ("admin,users", "[admin, users]", "admin"):
        rest["requestContext"]["authorizer"] = {"claims": {"sub": "u", "cognito:groups": joined}}
        assert authorizer_claims(rest) == {"sub": "u", "cognito:groups": joined.strip("[]").replace(
            " ", "").split(",")}
    rest["requestContext"]["authorizer"] = {"principalId": "u", "tenant": "t", "integrationLatency": 3}
    assert authorizer_claims(rest) == {"principalId": "u", "tenant": "t"}
    http["requestContext"]["authorizer"] = {"lambda": {"sub": "u"}}
    assert authorizer_claims(http) == {"sub": "u"}
    assert authorizer_claims(make_event("function_url")) is None


@pytest.mark.parametrize("kind", ["rest_v1", "http_v2", "function_url"])
def test_proxy_error_response_shape(kind: str, make_event: EventFactory) -> None:
    response = error_response(make_event(kind), TokenExpiredError(), realm="shows")
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert response["statusCode"] == 401
    assert response["isBase64Encoded"] is False
    assert response["headers"]["WWW-Authenticate"].startswith('Bearer realm="shows", error="invalid_token"')
    assert json.loads(response["body"]) == {"error": "invalid_token",
                                            "error_description": "The access token expired"}


def test_alb_response_has_status_description_and_matching_header_style(make_event: EventFactory) -> None:
    single = error_response(make_event("alb"), MissingTokenError())
    assert single["statusDescription"] == "401 Unauthorized"
    assert single["headers"]["WWW-Authenticate"] == "Bearer"
    assert "multiValueHeaders" not in single
    multi = error_response(make_event("alb", multi=True), InsufficientScopeError(["read:shows"]))
    assert multi["statusDescription"] == "403 Forbidden"
    assert "headers" not in multi
    assert multi["multiValueHeaders"]["WWW-Authenticate"] == [
        'Bearer error="insufficient_scope", error_description="Token does not contain the required '
        "'read:shows' scope\", scope=\"read:shows\""
    ]


def test_503_carries_retry_after_and_extra_headers_never_override(make_event: EventFactory) -> None:
    response = error_response(make_event("http_v2"), KeysUnavailableError(retry_after_seconds=7),
                              headers={"Access-Control-Allow-Origin": "*", "Retry-After": "0"})
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "7"
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"


def test_extra_error_headers_never_double_the_errors_own_in_another_case(make_event: EventFactory) -> None:
    # "cache-control: public" beside the error's "Cache-Control: no-store" would be two headers, and a
    # gateway or a cache might keep the wrong one: a 401 cached publicly.
    extra = {"cache-control": "public, max-age=600", "WWW-AUTHENTICATE": "Basic", "X-Trace": "1"}
    response = error_response(make_event("http_v2"), MissingTokenError(), headers=extra)
    names = [name.lower() for name in response["headers"]]
    assert sorted(names) == sorted(set(names))
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["WWW-Authenticate"] == "Bearer"
    assert response["headers"]["X-Trace"] == "1"


def test_an_empty_claims_object_is_no_authorizer_claims(make_event: EventFactory) -> None:
    # A payload 1.0 event with "claims": {} names no caller: nothing to trust (the bearer token decides).
    event = make_event("rest_v1")
    event["version"] = "1.0"
    for empty in ({}, None):
        event["requestContext"]["authorizer"] = {"claims": empty, "scopes": None}
        assert authorizer_claims(event) is None


def test_an_empty_jwt_claims_object_is_no_authorizer_claims_in_payload_2_0_either(
        make_event: EventFactory) -> None:
    # The same empty object in payload 2.0's "jwt" level named a caller with no claims at all (no subject,
    # no scopes) and kept the bearer token from being read, where payload 1.0 reads it as no caller.
    event = make_event("http_v2")
    for scopes in (None, ["read:shows"]):
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {}, "scopes": scopes}}
        assert authorizer_claims(event) is None



def test_a_preflight_answer_is_an_empty_204_with_the_given_headers_in_the_sources_shape(
        kind: str, make_event: EventFactory) -> None:
    cors = {"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "GET"}
    response = preflight_response(make_event(kind, method="OPTIONS"), headers=cors)
    assert response["statusCode"] == 204
    assert response["body"] == ""
    assert response["isBase64Encoded"] is False
    assert response["headers"] == cors
    assert response["headers"] is not cors  # a copy: the caller's mapping is never handed out
    if kind == "alb":
        assert response["statusDescription"] == "204 No Content"
    assert preflight_response(make_event(kind))["headers"] == {}


class _TeapotLikeError(MissingTokenError):
    """A custom refusal with a status http.HTTPStatus does not know."""

    status = 499
    code = "client_closed"


def test_a_custom_status_http_does_not_name_still_gets_an_alb_status_description(
        make_event: EventFactory) -> None:
    response = error_response(make_event("alb"), _TeapotLikeError())
    assert (response["statusCode"], response["statusDescription"]) == (499, "499 Unknown")
    assert _event_source.status_line(403) == "403 Forbidden"
