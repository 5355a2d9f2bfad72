"""Token extraction (RFC 6750 §2.1), cookies and preflight detection (adapters/events.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from serverless_jwt.adapters.events import bearer_token, is_preflight, validate_cookie_name
from serverless_jwt.errors import ConfigurationError, InvalidRequestError, MissingTokenError

EventFactory = Callable[..., dict[str, Any]]
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


def test_header_name_and_scheme_are_case_insensitive(kind: str, make_event: EventFactory) -> None:
    pairs = [("Authorization", "Bearer"), ("AUTHORIZATION", "bearer"), ("authorization", "BEARER")]
    for name, scheme in pairs:
        assert bearer_token(make_event(kind, headers={name: f"{scheme} {TOKEN}"})) == TOKEN


def test_multi_value_headers_are_read_for_rest_and_alb(make_event: EventFactory) -> None:
    for kind in ("rest_v1", "alb"):
        event = make_event(kind, headers={"Authorization": f"Bearer {TOKEN}"}, multi=True)
        assert bearer_token(event) == TOKEN


def test_two_authorization_values_in_multi_value_headers_are_400(make_event: EventFactory) -> None:
    for kind in ("rest_v1", "alb"):
        event = make_event(kind, headers={"Authorization": f"Bearer {TOKEN}"}, multi=True)
        event["multiValueHeaders"]["Authorization"].append(f"Bearer {TOKEN}")
        with pytest.raises(InvalidRequestError):
            bearer_token(event)


def test_repeated_authorization_of_another_scheme_is_missing_token_in_every_source(
        make_event: EventFactory) -> None:
    # REST and ALB keep the two headers apart, HTTP API and Function URL join them: one answer, a 401.
    for kind in ("rest_v1", "alb"):
        event = make_event(kind, headers={"Authorization": "Basic dXNlcjpwYXNz"}, multi=True)
        event["multiValueHeaders"]["Authorization"].append("Basic eA==")
        with pytest.raises(MissingTokenError):
            bearer_token(event)
    for kind in ("http_v2", "function_url"):
        with pytest.raises(MissingTokenError):
            bearer_token(make_event(kind, headers={"authorization": "Basic dXNlcjpwYXNz,Basic eA=="}))


def test_header_keys_differing_only_in_case_are_two_values(make_event: EventFactory) -> None:
    event = make_event("rest_v1", headers={"Authorization": f"Bearer {TOKEN}", "authorization": "Bearer x"})
    with pytest.raises(InvalidRequestError):
        bearer_token(event)


def test_http_api_comma_joined_duplicates_are_400(make_event: EventFactory) -> None:
    for kind in ("http_v2", "function_url"):
        event = make_event(kind, headers={"authorization": f"Bearer {TOKEN},Bearer {TOKEN}"})
        with pytest.raises(InvalidRequestError) as info:
            bearer_token(event)
        assert TOKEN not in str(info.value)


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    ", "Bearer a b", "Bearer a=b",
                                   "Bearer tok%en", 'Bearer "tok"', "Bearer ===", "Bearer \u00e9"])
def test_bearer_with_empty_or_malformed_token_is_invalid_request(
    kind: str, value: str, make_event: EventFactory
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        bearer_token(make_event(kind, headers={"Authorization": value}))
    assert info.value.status == 400
    assert info.value.error == "invalid_request"


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Token abc", "", "   ", "Bearertoken"])
def test_no_bearer_credentials_is_missing_token(kind: str, value: str, make_event: EventFactory) -> None:
    with pytest.raises(MissingTokenError):
        bearer_token(make_event(kind, headers={"Authorization": value}))


def test_no_headers_at_all_is_missing_token() -> None:
    for event in ({}, {"headers": None, "multiValueHeaders": None}, {"headers": {"Authorization": 5}}):
        with pytest.raises(MissingTokenError):
            bearer_token(event)


def test_token68_padding_and_tabs_are_accepted() -> None:
    assert bearer_token({"headers": {"Authorization": "Bearer\tabc+/~-._=="}}) == "abc+/~-._=="


def test_query_string_is_never_read(kind: str, make_event: EventFactory) -> None:
    event = make_event(kind)
    event["queryStringParameters"] = {"access_token": TOKEN}
    event["rawQueryString"] = f"access_token={TOKEN}"
    with pytest.raises(MissingTokenError):
        bearer_token(event, cookie_name="access_token")


def test_a_header_token_beside_a_query_token_is_judged_on_the_header(kind: str,
                                                                    make_event: EventFactory) -> None:
    # RFC 6750 §2.3 is a method we do not offer: the query's access_token is an unrelated parameter here.
    event = make_event(kind, headers={"Authorization": f"Bearer {TOKEN}"})
    event["queryStringParameters"] = {"access_token": "x.y.z"}
    event["rawQueryString"] = "access_token=x.y.z"
    assert bearer_token(event) == TOKEN


def test_cookie_source_is_opt_in(kind: str, make_event: EventFactory) -> None:
    event = make_event(kind, headers={"Cookie": f"theme=dark; nf_jwt={TOKEN}"})
    with pytest.raises(MissingTokenError):
        bearer_token(event)
    assert bearer_token(event, cookie_name="nf_jwt") == TOKEN


def test_http_api_cookies_list_is_read(make_event: EventFactory) -> None:
    for kind in ("http_v2", "function_url"):
        event = make_event(kind)
        event["cookies"] = ["theme=dark", f"nf_jwt={TOKEN}"]
        assert bearer_token(event, cookie_name="nf_jwt") == TOKEN


def test_header_wins_over_cookie(make_event: EventFactory) -> None:
    event = make_event("http_v2", headers={"authorization": f"Bearer {TOKEN}"})
    event["cookies"] = ["nf_jwt=other.cookie.token"]
    assert bearer_token(event, cookie_name="nf_jwt") == TOKEN


def test_empty_cookie_is_no_credentials_and_conflicting_cookies_are_400(make_event: EventFactory) -> None:
    event = make_event("http_v2")
    event["cookies"] = ["nf_jwt="]
    with pytest.raises(MissingTokenError):
        bearer_token(event, cookie_name="nf_jwt")
    event["cookies"] = ["nf_jwt=a.b.c", "nf_jwt=d.e.f"]
    with pytest.raises(InvalidRequestError):
        bearer_token(event, cookie_name="nf_jwt")
    event["cookies"] = ["nf_jwt=bad%20value"]
    with pytest.raises(InvalidRequestError):
        bearer_token(event, cookie_name="nf_jwt")


def test_cookie_name_is_validated() -> None:
    assert validate_cookie_name("nf_jwt") == "nf_jwt"
    for bad in ("", "a b", "a;b", "a=b"):
        with pytest.raises(ConfigurationError):
            validate_cookie_name(bad)


def test_preflight_needs_options_origin_and_request_method(kind: str, make_event: EventFactory) -> None:
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert is_preflight(make_event(kind, method="OPTIONS", headers=pre))
    assert not is_preflight(make_event(kind, method="OPTIONS", headers={"Origin": "https://app.example"}))
    assert not is_preflight(make_event(kind, method="GET", headers=pre))
