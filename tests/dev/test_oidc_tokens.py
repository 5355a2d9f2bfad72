"""The dev provider's token responses (dev/_oidc_tokens.py), read as a client library reads them."""

from __future__ import annotations

from serverless_jwt.dev import oidc_client as oc
from serverless_jwt.dev.issuer import DevIssuer


def test_a_grant_of_no_scope_answers_without_an_empty_scope_member(issuer: DevIssuer) -> None:
    # RFC 6749 §3.3: scope is one or more scope-tokens; "" is no scope value. Omitted, the client reads
    # the granted scope as the requested one (§5.1), which was none.
    tokens = oc.sign_in(issuer.issuer, scopes=[])
    assert "scope" not in tokens
    assert tokens["access_token"]
    assert oc.sign_in(issuer.issuer, scopes=["read:shows"])["scope"] == "read:shows"
