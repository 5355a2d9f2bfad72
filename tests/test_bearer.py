"""bearer.py: the header rules every entry point shares (Lambda events, ASGI, WSGI, FastAPI, Flask)."""

from __future__ import annotations

from typing import Any

import pytest

from serverless_jwt.adapters.events import bearer_token
from serverless_jwt.bearer import token_from_header_values, token_from_headers, validate_cookie_name
from serverless_jwt.errors import (
    AuthError,
    ConfigurationError,
    InvalidRequestError,
    MissingTokenError,
)

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {TOKEN}"},
    {"authorization": f"bearer {TOKEN}"},
    {"AUTHORIZATION": f"BEARER   {TOKEN}  "},
    [(b"authorization", f"Bearer {TOKEN}".encode())],
    [("Authorization", f"Bearer {TOKEN}"), ("Accept", "application/json")],
])
def test_the_scheme_and_header_name_are_case_insensitive(headers: Any) -> None:
    assert token_from_headers(headers) == TOKEN


@pytest.mark.parametrize("headers", [{}, {"Accept": "*/*"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                                     {"Authorization": "Digest username=x"}, {"Authorization": ""}])
def test_no_bearer_credentials_is_missing_token(headers: dict[str, str]) -> None:
    with pytest.raises(MissingTokenError):
        token_from_headers(headers)


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {TOKEN}", "authorization": f"Bearer {TOKEN}"},
    [("authorization", f"Bearer {TOKEN}"), ("authorization", "Basic eA==")],
    {"Authorization": f"Bearer {TOKEN}, Bearer {TOKEN}"},
])
def test_several_authorization_values_are_a_bad_request(headers: Any) -> None:
    with pytest.raises(InvalidRequestError, match="more than one"):
        token_from_headers(headers)


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer a b", "Bearer ä.b.c", "Bearer a=b"])
def test_bearer_without_a_token68_is_a_bad_request(value: str) -> None:
    with pytest.raises(InvalidRequestError):
        token_from_headers({"Authorization": value})


@pytest.mark.parametrize("separator", ["\u00a0", "\x85", "\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c",
                                       "\u2003", "\u3000"])
def test_only_spaces_or_a_tab_separate_the_scheme_from_the_token(separator: str) -> None:
    # RFC 7235 §2.1: 1*SP. A proxy or WAF would not read "Bearer<NBSP>token" as bearer credentials;
    # neither do we. (str.split() would have split at each of these.)
    with pytest.raises(InvalidRequestError):
        token_from_headers({"Authorization": f"Bearer{separator}a.b.c"})
    with pytest.raises(InvalidRequestError):
        bearer_token({"headers": {"authorization": f"Bearer{separator}a.b.c"}})
    with pytest.raises(InvalidRequestError):  # nor do they pad the token
        token_from_headers({"Authorization": f"Bearer a.b.c{separator}"})
    assert token_from_headers({"Authorization": "Bearer \t a.b.c \t"}) == "a.b.c"
    with pytest.raises(InvalidRequestError):  # a cookie's value is not trimmed of them either
        token_from_headers({"cookie": f"nf_jwt={separator}a.b.c"}, cookie_name="nf_jwt")


def test_cookie_is_read_only_when_configured_and_the_header_wins() -> None:
    cookie = {"Cookie": f"theme=dark; nf_jwt={TOKEN}"}
    with pytest.raises(MissingTokenError):
        token_from_headers(cookie)
    assert token_from_headers(cookie, cookie_name="nf_jwt") == TOKEN
    assert token_from_headers({**cookie, "Authorization": "Bearer x.y.z"}, cookie_name="nf_jwt") == "x.y.z"
    # Another scheme in the header leaves the cookie as the credentials.
    assert token_from_headers({**cookie, "Authorization": "Basic eA=="}, cookie_name="nf_jwt") == TOKEN


def test_cookie_edge_cases() -> None:
    assert token_from_header_values([], cookies=[f'nf_jwt="{TOKEN}"'], cookie_name="nf_jwt") == TOKEN
    with pytest.raises(MissingTokenError):  # an emptied cookie (logout) is no credentials
        token_from_header_values([], cookies=["nf_jwt="], cookie_name="nf_jwt")
    with pytest.raises(InvalidRequestError):  # two different values: refuse both
        token_from_header_values([], cookies=[f"nf_jwt={TOKEN}", "nf_jwt=a.b.c"], cookie_name="nf_jwt")
    with pytest.raises(InvalidRequestError):
        token_from_header_values([], cookies=["nf_jwt=a b"], cookie_name="nf_jwt")
    with pytest.raises(ConfigurationError):
        validate_cookie_name("nf jwt")


@pytest.mark.parametrize("value", [f"Bearer {TOKEN}", f"bearer {TOKEN}", "Basic eA==", "Bearer", "Bearer a b",
                                   f"Bearer {TOKEN},Bearer {TOKEN}", None])
def test_lambda_events_follow_the_same_rules(value: str | None) -> None:
    headers = {} if value is None else {"authorization": value}

    def outcome(read: Any) -> Any:
        try:
            return read()
        except AuthError as err:
            return type(err), err.description

    assert outcome(lambda: token_from_headers(headers)) == outcome(lambda: bearer_token({"headers": headers}))
