"""Which credential an authorizer reads: identitySource values (HTTP APIs) and REST identity sources."""

from __future__ import annotations

from typing import Any

import pytest

from serverless_jwt.adapters._authorizer_sources import cookie_only, identity_source_token, read_sources
from serverless_jwt.errors import ConfigurationError, InvalidRequestError, MissingTokenError

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"


@pytest.mark.parametrize(("version", "source"), [
    ("2.0", [f"Bearer {TOKEN}"]),
    ("2.0", ["key-123", f"bearer {TOKEN}"]),
    ("1.0", f"Bearer {TOKEN}"),
    ("1.0", f"key-123,Bearer {TOKEN}"),  # payload 1.0 joins the sources' values with commas
])
def test_the_bearer_credential_among_the_identity_source_values(version: str, source: Any) -> None:
    assert identity_source_token({"version": version, "identitySource": source}, None) == TOKEN


@pytest.mark.parametrize("source", [f"Basic eA==,Bearer {TOKEN}", f'Digest username="u", Bearer {TOKEN}',
                                    f"AWS4-HMAC-SHA256 Credential=x,Bearer {TOKEN}",
                                    f"Bearer {TOKEN},Bearer {TOKEN}x",
                                    f"Bearer {TOKEN},Bearer {TOKEN}",  # one header repeated, same token
                                    f"Bearer {TOKEN}, bearer {TOKEN}"])
def test_payload_1_0_bearer_beside_another_credential_is_a_bad_request(source: str) -> None:
    with pytest.raises(InvalidRequestError):
        identity_source_token({"version": "1.0", "identitySource": source}, None)


def test_a_string_identity_source_is_read_only_in_payload_1_0() -> None:
    # 2.0 always sends a list: a string there is not what API Gateway sends, and is not read.
    with pytest.raises(MissingTokenError):
        identity_source_token({"version": "2.0", "identitySource": f"Bearer {TOKEN}"}, None)


def test_the_cookie_is_read_only_when_configured() -> None:
    event = {"version": "1.0", "identitySource": f"theme=dark; nf_jwt={TOKEN}"}
    assert identity_source_token(event, "nf_jwt") == TOKEN
    with pytest.raises(MissingTokenError):
        identity_source_token(event, None)
    with pytest.raises(MissingTokenError):
        cookie_only({"headers": {"cookie": f"nf_jwt={TOKEN}"}}, None)
    assert cookie_only({"headers": {"cookie": f"nf_jwt={TOKEN}"}}, "nf_jwt") == TOKEN


def test_rest_request_sources_must_cover_the_credential() -> None:
    assert read_sources("rest_request", None, None) == (True, False)
    assert read_sources("rest_request", ["method.request.header.Authorization",
                                         "method.request.header.Cookie"], "nf_jwt") == (True, True)
    assert read_sources("http_iam", None, "nf_jwt") == (True, True)
    with pytest.raises(ConfigurationError, match="Cookie"):
        read_sources("rest_request", None, "nf_jwt")
    with pytest.raises(ConfigurationError, match="applies to kind='rest_request' only"):
        read_sources("http_simple", "method.request.header.Authorization", None)
    with pytest.raises(ConfigurationError, match="identity sources"):
        read_sources("rest_request", ["header.Authorization"], None)


def test_rest_request_sources_are_read_as_api_gateway_writes_them_comma_separated() -> None:
    # A REST REQUEST authorizer's IdentitySource (AWS::ApiGateway::Authorizer, the console, the API) is
    # one string of comma-separated mapping expressions; passed as written there, it was refused as not
    # naming identity sources.
    both = "method.request.header.Authorization, method.request.header.Cookie"
    assert read_sources("rest_request", both, "nf_jwt") == (True, True)
    assert read_sources("rest_request", "method.request.header.Cookie,method.request.querystring.v",
                        "nf_jwt") == (False, True)
    with pytest.raises(ConfigurationError, match="Cookie"):
        read_sources("rest_request", "method.request.header.Authorization,method.request.querystring.v",
                     "nf_jwt")
    for bad in ("method.request.header.Authorization,", ",", "method.request.header.Authorization;x"):
        with pytest.raises(ConfigurationError, match="identity sources"):
            read_sources("rest_request", bad, None)
