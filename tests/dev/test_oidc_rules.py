"""The dev provider's pure checks (dev/_oidc_rules.py): requested scopes and the login page's extra claims.

The other rules (redirect URIs, PKCE, CORS) are still tested through the provider, in test_oidc_provider.py.
"""

from __future__ import annotations

import json

import pytest

from serverless_jwt.dev import oidc_provider
from serverless_jwt.dev._oidc_rules import (
    RESERVED_CLAIMS,
    OAuthError,
    extra_claims,
    parse_params,
    requested_scopes,
)
from serverless_jwt.token import MAX_JSON_DEPTH

from .conftest import json_unreadable_depth


def test_reserved_claims_are_still_importable_from_the_provider() -> None:
    assert oidc_provider.RESERVED_CLAIMS is RESERVED_CLAIMS


def test_requested_scopes_keep_their_order_once_each() -> None:
    scopes = requested_scopes({"scope": "openid  read:shows openid\tprofile"})
    assert scopes == ("openid", "read:shows", "profile")
    assert requested_scopes({}) == ()
    assert requested_scopes({"scope": "   "}) == ()


@pytest.mark.parametrize("scope", ['read"shows', "read\\shows", "caf\u00e9", "x" * 129])
def test_a_scope_outside_the_rfc6749_syntax_is_invalid_scope(scope: str) -> None:
    with pytest.raises(OAuthError) as refused:
        requested_scopes({"scope": f"openid {scope}"})
    assert (refused.value.error, refused.value.status) == ("invalid_scope", 400)


def test_extra_claims_are_a_json_object_and_none_is_empty() -> None:
    assert extra_claims("") == {}
    assert extra_claims('{"tenant": "t1", "flags": {"beta": true}}') == {"tenant": "t1",
                                                                         "flags": {"beta": True}}


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "Extra claims must be valid JSON"),
    ("[1]", "Extra claims must be a JSON object"),
    ('"tenant"', "Extra claims must be a JSON object"),
    # past json's recursion limit, which differs between Python versions
    ('{"a":' + "[" * json_unreadable_depth() + "]" * json_unreadable_depth() + "}",
     "Extra claims must be valid JSON"),
    ('{"a":' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH, f"may nest at most {MAX_JSON_DEPTH - 1} levels"),
    ('{"sub": "x", "aud": "y", "tenant": "t"}', "may not set protocol claims: aud, sub"),
    ('{"x": NaN}', "Extra claims must be valid JSON"),  # JavaScript's constants, not JSON (RFC 8259 §6)
    ('{"x": [Infinity]}', "Extra claims must be valid JSON"),
    ('{"x": 1e999}', "only finite numbers and valid Unicode text"),  # JSON, but inf once read
    ('{"x": "\\udc00"}', "only finite numbers and valid Unicode text"),  # a lone surrogate
    ('{"\\ud800": 1}', "only finite numbers and valid Unicode text"),
])
def test_extra_claims_are_refused_with_the_message_the_page_shows(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        extra_claims(text)


def test_extra_claims_may_nest_as_deep_as_verifiers_read() -> None:
    depth = MAX_JSON_DEPTH - 1
    text = '{"a":' * depth + "1" + "}" * depth
    assert extra_claims(text) == json.loads(text)


@pytest.mark.parametrize("claim", sorted(RESERVED_CLAIMS))
def test_every_protocol_claim_is_reserved(claim: str) -> None:
    with pytest.raises(ValueError, match=f"may not set protocol claims: {claim}$"):
        extra_claims(json.dumps({claim: "x"}))


def test_a_parameter_without_a_value_is_treated_as_omitted() -> None:
    # RFC 6749 §3.1: state= must not come back as an empty state, response_mode= means the default, and
    # a blank copy next to a real value is no second copy.
    params = parse_params("state=&response_mode=&nonce&scope=openid&client_id=&client_id=spa", repeatable=())
    assert params == {"scope": "openid", "client_id": "spa"}
