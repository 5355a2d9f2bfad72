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


SIGV4 = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c4")


@pytest.mark.parametrize("value", [
    'Digest username="u", realm="r", nonce="n", uri="/", response="6629fae49393a05397450978507c4ef1"',
    SIGV4,
    'Digest realm="Bearer tokens welcome"',
])
def test_another_scheme_with_comma_separated_params_is_no_bearer_token(value: str) -> None:
    # RFC 7235 §2.1: auth-params are comma-separated; such credentials are one value of another
    # scheme (API Gateway's AWS_IAM forwards the SigV4 header), not several Authorization values.
    with pytest.raises(MissingTokenError):
        token_from_headers({"Authorization": value})
    with pytest.raises(MissingTokenError):
        bearer_token({"headers": {"authorization": value}})


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {TOKEN}", "authorization": f"Bearer {TOKEN}"},
    [("authorization", f"Bearer {TOKEN}"), ("authorization", "Basic eA==")],
    {"Authorization": f"Bearer {TOKEN}, Bearer {TOKEN}"},
    {"Authorization": f"Basic eA==, Bearer {TOKEN}"},  # a proxy's join, bearer second
    {"Authorization": f"Bearer {TOKEN},"},
    {"Authorization": f"Digest username=x,bearer {TOKEN}"},
])
def test_several_authorization_values_are_a_bad_request(headers: Any) -> None:
    with pytest.raises(InvalidRequestError, match="more than one"):
        token_from_headers(headers)


@pytest.mark.parametrize("headers", [
    [("Authorization", "Basic dXNlcjpwYXNz"), ("Authorization", "Basic eA==")],
    [("Authorization", "Basic eA=="), ("authorization", "")],
    {"Authorization": "Basic dXNlcjpwYXNz, Basic eA=="},  # the same two, joined by a proxy
])
def test_repeated_authorization_of_another_scheme_is_no_bearer_token_joined_or_not(headers: Any) -> None:
    # Two Basic headers carry no access token: a 401 without an error code whether uvicorn hands them
    # over separately or werkzeug (or HTTP API) joins them, so every entry point answers alike.
    with pytest.raises(MissingTokenError):
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


def test_the_standard_librarys_http_server_headers_are_read() -> None:
    # http.server's self.headers is an HTTPMessage: not a Mapping, iterating it gives names only.
    import http.client
    import http.server
    import threading
    import urllib.request

    seen: list[object] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                seen.append(token_from_headers(self.headers, cookie_name="nf_jwt"))
            except Exception as exc:
                seen.append(exc)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"Cookie": f"a=1; nf_jwt={TOKEN}"}, {}):
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
                assert answer.status == 204
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
        conn.putrequest("GET", "/")
        conn.putheader("Authorization", f"Bearer {TOKEN}")
        conn.putheader("authorization", "Basic eA==")  # repeated: both are seen
        conn.endheaders()
        assert conn.getresponse().status == 204
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
    assert seen[:2] == [TOKEN, TOKEN]
    assert isinstance(seen[2], MissingTokenError)
    assert isinstance(seen[3], InvalidRequestError)


def test_asgi_header_pairs_may_be_any_bytes_like() -> None:
    pairs = [(bytearray(b"Authorization"), memoryview(f"Bearer {TOKEN}".encode()))]
    assert token_from_headers(pairs) == TOKEN  # type: ignore[arg-type]


@pytest.mark.parametrize("headers", [["authorization"], [("authorization", 5)], 42, [(None, "x")]])
def test_headers_of_another_shape_are_a_clear_type_error(headers: Any) -> None:
    with pytest.raises(TypeError, match="headers must be"):
        token_from_headers(headers)
