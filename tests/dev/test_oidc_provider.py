"""The dev OIDC provider over real loopback HTTP: the code flow with PKCE, its refusals, tokens, CORS."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from serverless_jwt import Verifier
from serverless_jwt.dev import oidc_client as oc
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import InvalidClaimError

from .conftest import json_unreadable_depth

APP = "http://127.0.0.1:5173"
REDIRECT = APP + "/callback"


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _login(issuer: DevIssuer, *, scopes: tuple[str, ...] = ("openid", "read:shows"), **kwargs: Any
           ) -> tuple[oc.LoginRequest, str]:
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT, scopes=scopes)
    answer = oc.submit_login(request, scopes=scopes, **kwargs)
    return request, oc.code_from(answer, request)


def test_discovery_lists_every_endpoint_and_only_s256(issuer: DevIssuer) -> None:
    doc = oc.get(issuer.discovery_uri).json()
    for name, path in (("authorization_endpoint", "/authorize"), ("token_endpoint", "/oauth/token"),
                       ("userinfo_endpoint", "/userinfo"), ("end_session_endpoint", "/logout")):
        assert doc[name] == issuer.issuer + path
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}


def test_code_flow_gives_an_rfc9068_access_token_the_api_verifier_accepts(issuer: DevIssuer) -> None:
    request, code = _login(issuer, subject="alice", roles=["editor"], claims={"email": "a@example.test"})
    answer = oc.exchange_code(issuer.issuer, request, code)
    assert answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "openid read:shows"
    assert "refresh_token" not in tokens  # offline_access not granted
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, require_access_token_type=True)
    claims = verifier.verify(tokens["access_token"])
    assert jwt.get_unverified_header(tokens["access_token"])["typ"] == "at+jwt"
    assert claims["sub"] == "alice"
    assert claims["client_id"] == "serverless-jwt-dev-spa"
    assert claims["scope"] == "openid read:shows"
    assert claims["roles"] == ["editor"]
    assert claims["email"] == "a@example.test"
    id_claims = Verifier(issuer=issuer.issuer, audience="serverless-jwt-dev-spa").verify(tokens["id_token"])
    assert id_claims["nonce"] == request.nonce
    assert id_claims["sub"] == "alice"
    assert id_claims["sid"] == claims["sid"]


def test_the_id_token_is_not_an_access_token_for_the_api(issuer: DevIssuer) -> None:
    # Its aud is the client; the API's verifier (the dev audience, typ not required) must refuse it, as
    # it refuses a real provider's. With the client named like the audience, /me answered it 200.
    request, code = _login(issuer, subject="alice")
    tokens = oc.exchange_code(issuer.issuer, request, code).json()
    assert issuer.oidc.client_id != issuer.audience
    with pytest.raises(InvalidClaimError) as refused:
        Verifier(issuer=issuer.issuer, audience=issuer.audience).verify(tokens["id_token"])
    assert refused.value.claim == "aud"


def test_redirect_carries_state_and_the_issuer(issuer: DevIssuer) -> None:
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT)
    answer = oc.submit_login(request)
    params = _query(answer.headers["location"])
    assert answer.status == 303
    assert params["state"] == request.state
    assert params["iss"] == issuer.issuer


def test_without_openid_there_is_no_id_token(issuer: DevIssuer) -> None:
    request, code = _login(issuer, scopes=("read:shows",))
    tokens = oc.exchange_code(issuer.issuer, request, code).json()
    assert "id_token" not in tokens
    assert _claims(tokens["access_token"])["scope"] == "read:shows"


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback", "http://127.0.0.1.evil.example/cb", "http://user@127.0.0.1/cb",
    "http://127.0.0.1/cb#frag", "javascript:alert(1)", "", "http://127.0.0.1/caf\u00e9",
    "http://127.0.0.1/a\r\nSet-Cookie: x=1"])
def test_unregistered_redirect_uri_is_refused_on_the_page_never_redirected(
        issuer: DevIssuer, redirect_uri: str) -> None:
    request = oc.start(issuer.issuer, redirect_uri=redirect_uri)
    answer = oc.get(request.url)
    assert answer.status == 400
    assert "location" not in answer.headers
    assert b"Redirect URI not registered" in answer.body


def test_configured_redirect_uris_are_matched_exactly(issuer: DevIssuer) -> None:
    issuer.oidc.redirect_uris = ["https://app.example/callback"]
    assert oc.get(oc.start(issuer.issuer, redirect_uri=REDIRECT).url).status == 400
    assert oc.get(oc.start(issuer.issuer, redirect_uri="https://app.example/callback/").url).status == 400
    assert oc.get(oc.start(issuer.issuer, redirect_uri="https://app.example/callback").url).status == 200


@pytest.mark.parametrize("registered", ["http://[::1]:99999/cb", "http://[::1]:x/cb"])
def test_a_registered_redirect_uri_with_a_bad_port_is_refused_not_a_server_error(
        issuer: DevIssuer, registered: str) -> None:
    # Set from Python (the CLI refuses it): the login page's CSP read its port and answered 500.
    issuer.oidc.redirect_uris = [registered]
    answer = oc.get(oc.start(issuer.issuer, redirect_uri=registered).url)
    assert answer.status == 400
    assert b"Redirect URI not registered" in answer.body


def test_unknown_client_is_refused_on_the_page(issuer: DevIssuer) -> None:
    answer = oc.get(oc.start(issuer.issuer, client_id="someone-else", redirect_uri=REDIRECT).url)
    assert answer.status == 400
    assert b"Unknown client" in answer.body
    # A page without a form is not framed by another site either (it could be dressed up as ours).
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


@pytest.mark.parametrize(("extra", "error"), [
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": ""}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "openid bad\"scope"}, "invalid_scope"),
    ({"audience": "https://another-api.example"}, "invalid_target"),
    ({"audience": "serverless-jwt-dev", "resource": "https://another-api.example"}, "invalid_target"),
    ({"response_mode": "fragment"}, "invalid_request"),  # the code would not arrive where asked
    ({"response_mode": "form_post"}, "invalid_request"),
    ({"request": "eyJ.a.b"}, "request_not_supported"),
    ({"request_uri": "urn:example:request"}, "request_uri_not_supported"),
    ({"prompt": "none"}, "login_required"),  # OIDC Core §3.1.2.6: no session for a silent sign-in
    ({"prompt": "none login"}, "invalid_request"),  # OIDC Core §3.1.2.1: none with another value is an error
])
def test_bad_authorization_requests_go_back_with_an_rfc6749_error_and_the_state(
        issuer: DevIssuer, extra: dict[str, str], error: str) -> None:
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT, extra=extra)
    answer = oc.get(request.url)
    assert answer.status == 303
    params = _query(answer.headers["location"])
    assert params["error"] == error
    assert params["state"] == request.state
    assert "another-api" not in params["error_description"]


def test_missing_code_challenge_is_refused(issuer: DevIssuer) -> None:
    url = oc.start(issuer.issuer, redirect_uri=REDIRECT).url
    stripped = "&".join(p for p in url.split("&") if not p.startswith("code_challenge="))
    assert _query(oc.get(stripped).headers["location"])["error"] == "invalid_request"


def test_wrong_pkce_verifier_is_refused_and_burns_the_code(issuer: DevIssuer) -> None:
    request, code = _login(issuer)
    wrong = oc.exchange_code(issuer.issuer, request, code, code_verifier="x" * 43)
    assert wrong.status == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert oc.exchange_code(issuer.issuer, request, code).json()["error"] == "invalid_grant"


def test_a_code_works_once_and_its_reuse_revokes_the_refresh_token(issuer: DevIssuer) -> None:
    request, code = _login(issuer, scopes=("openid", "offline_access"))
    first = oc.exchange_code(issuer.issuer, request, code)
    assert first.status == 200
    again = oc.exchange_code(issuer.issuer, request, code)
    assert again.status == 400
    assert again.json() == {"error": "invalid_grant",
                            "error_description": "The code is invalid, expired or already used"}
    refreshed = oc.post_form(issuer.issuer + "/oauth/token", {
        "grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"],
        "client_id": "serverless-jwt-dev-spa"})
    assert refreshed.json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused(issuer: DevIssuer) -> None:
    issuer.oidc.code_lifetime_seconds = 0.2
    request, code = _login(issuer)
    time.sleep(0.4)
    assert oc.exchange_code(issuer.issuer, request, code).json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_at_the_token_endpoint(issuer: DevIssuer) -> None:
    request, code = _login(issuer)
    other = oc.LoginRequest(request.url, APP + "/other", request.client_id, request.code_verifier,
                            request.state, request.nonce)
    assert oc.exchange_code(issuer.issuer, other, code).json()["error"] == "invalid_grant"


def test_refresh_tokens_rotate_and_may_only_narrow_scopes(issuer: DevIssuer) -> None:
    request, code = _login(issuer, scopes=("openid", "offline_access", "read:shows"))
    first = oc.exchange_code(issuer.issuer, request, code).json()
    form = {"grant_type": "refresh_token", "client_id": "serverless-jwt-dev-spa"}
    wider = oc.post_form(issuer.issuer + "/oauth/token",
                         {**form, "refresh_token": first["refresh_token"], "scope": "admin"})
    assert wider.json()["error"] == "invalid_scope"
    request2, code2 = _login(issuer, scopes=("openid", "offline_access", "read:shows"))
    second = oc.exchange_code(issuer.issuer, request2, code2).json()
    narrowed = oc.post_form(issuer.issuer + "/oauth/token", {
        **form, "refresh_token": second["refresh_token"], "scope": "openid offline_access"})
    assert narrowed.status == 200
    assert _claims(narrowed.json()["access_token"])["scope"] == "openid offline_access"
    # The narrower scope was for that access token only (RFC 6749 §6): the next refresh has it all.
    rotated = oc.post_form(issuer.issuer + "/oauth/token",
                           {**form, "refresh_token": narrowed.json()["refresh_token"]})
    assert rotated.status == 200
    assert _claims(rotated.json()["access_token"])["scope"] == "openid offline_access read:shows"
    # Narrowed to scopes without offline_access, the grant still goes on.
    again = oc.post_form(issuer.issuer + "/oauth/token", {
        **form, "refresh_token": rotated.json()["refresh_token"], "scope": "read:shows"})
    assert _claims(again.json()["access_token"])["scope"] == "read:shows"
    assert "refresh_token" in again.json()
    # A rotated token presented again: someone holds a copy (RFC 9700 §4.14.2). Refused, and the
    # live token of that family is revoked with it.
    reused = oc.post_form(issuer.issuer + "/oauth/token", {**form, "refresh_token": second["refresh_token"]})
    assert reused.json()["error"] == "invalid_grant"
    live = oc.post_form(issuer.issuer + "/oauth/token",
                        {**form, "refresh_token": again.json()["refresh_token"]})
    assert live.json()["error"] == "invalid_grant"
    # Another sign-in's family is untouched.
    assert oc.post_form(issuer.issuer + "/oauth/token",
                        {**form, "refresh_token": first["refresh_token"]}).status == 200


def test_refresh_tokens_never_outlive_their_sign_in_by_more_than_the_session_lifetime(
        issuer: DevIssuer) -> None:
    issuer.oidc.session_lifetime_seconds = 2.0  # rotation slides each token's own expiry, not this
    request, code = _login(issuer, scopes=("openid", "offline_access"))
    tokens = oc.exchange_code(issuer.issuer, request, code).json()
    sign_in = _claims(tokens["access_token"])["auth_time"]
    form = {"grant_type": "refresh_token", "client_id": "serverless-jwt-dev-spa"}
    rotated = oc.post_form(issuer.issuer + "/oauth/token", {**form, "refresh_token": tokens["refresh_token"]})
    assert rotated.status == 200
    time.sleep(max(0.0, sign_in + 2.2 - time.time()))
    ended = oc.post_form(issuer.issuer + "/oauth/token",
                         {**form, "refresh_token": rotated.json()["refresh_token"]})
    assert ended.json()["error"] == "invalid_grant"


def test_a_replayed_code_revokes_every_refresh_token_it_led_to(issuer: DevIssuer) -> None:
    request, code = _login(issuer, scopes=("openid", "offline_access"))
    first = oc.exchange_code(issuer.issuer, request, code).json()
    form = {"grant_type": "refresh_token", "client_id": "serverless-jwt-dev-spa"}
    rotated = oc.post_form(issuer.issuer + "/oauth/token", {**form, "refresh_token": first["refresh_token"]})
    assert oc.exchange_code(issuer.issuer, request, code).json()["error"] == "invalid_grant"  # replayed
    live = oc.post_form(issuer.issuer + "/oauth/token",
                        {**form, "refresh_token": rotated.json()["refresh_token"]})
    assert live.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("client", [{"client_id": "someone-else"}, {}])
def test_a_refresh_from_an_unknown_or_unnamed_client_is_invalid_client_and_uses_nothing_up(
        issuer: DevIssuer, client: dict[str, str]) -> None:
    # RFC 6749 §5.2: an unknown client, or none named, is invalid_client, as the code exchange answers it;
    # invalid_grant ("issued to another client") is for a client this provider knows.
    request, code = _login(issuer, scopes=("openid", "offline_access"))
    token = oc.exchange_code(issuer.issuer, request, code).json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": token}
    token_url = issuer.issuer + "/oauth/token"
    refused = oc.post_form(token_url, {**form, **client})
    assert (refused.status, refused.json()["error"]) == (401, "invalid_client")
    assert oc.post_form(token_url, {**form, "client_id": "serverless-jwt-dev-spa"}).status == 200


def _service_token(issuer: DevIssuer, params: dict[str, str]) -> Any:
    """The token endpoint's answer to the service client's client_credentials request with ``params``."""
    oidc = issuer.oidc
    return oc.post_form(issuer.issuer + "/oauth/token", {
        "grant_type": "client_credentials", "client_id": oidc.service_client_id,
        "client_secret": oidc.service_client_secret, **params})


def _assert_refresh_revoked(issuer: DevIssuer, tokens: dict[str, Any]) -> None:
    refreshed = oc.post_form(issuer.issuer + "/oauth/token", {
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "serverless-jwt-dev-spa"})
    assert refreshed.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("target", [{"resource": "https://another-api.example"},
                                    {"audience": "https://another-api.example"}])
def test_token_endpoint_refuses_a_resource_it_does_not_serve(issuer: DevIssuer,
                                                             target: dict[str, str]) -> None:
    # RFC 8707 §2: /authorize refused this target but /oauth/token issued a dev-audience token for it.
    answer = _service_token(issuer, target)
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_target"
    request, code = _login(issuer)
    refused = oc.post_form(issuer.issuer + "/oauth/token", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": "serverless-jwt-dev-spa", "code_verifier": request.code_verifier, **target})
    assert refused.json()["error"] == "invalid_target"
    served = _service_token(issuer, {"resource": issuer.audience})
    assert served.status == 200


def test_client_credentials_with_basic_auth(issuer: DevIssuer) -> None:
    oidc = issuer.oidc
    basic = base64.b64encode(f"{oidc.service_client_id}:{oidc.service_client_secret}".encode()).decode()
    answer = oc.post_form(issuer.issuer + "/oauth/token", {"grant_type": "client_credentials",
                                                           "scope": "read:shows"},
                          headers={"Authorization": "Basic " + basic})
    assert answer.status == 200
    claims = Verifier(issuer=issuer.issuer, audience=issuer.audience).verify(answer.json()["access_token"])
    assert claims["sub"] == claims["client_id"] == "serverless-jwt-dev-service"
    assert "id_token" not in answer.json()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic " + base64.b64encode(b"x:y").decode()},
                                     {"Authorization": "Basic !!!"}, {"Authorization": "Bearer abc"}])
def test_client_credentials_without_the_secret_is_invalid_client(issuer: DevIssuer,
                                                                  headers: dict[str, str]) -> None:
    answer = oc.post_form(issuer.issuer + "/oauth/token", {"grant_type": "client_credentials"},
                          headers=headers)
    assert answer.status == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(("form", "error"), [
    ({"grant_type": "password", "username": "u", "password": "p"}, "unsupported_grant_type"),
    ({}, "invalid_request"),
    ([("grant_type", "client_credentials"), ("grant_type", "refresh_token")], "invalid_request"),
    ({"grant_type": "authorization_code", "code": "nope", "client_id": "serverless-jwt-dev-spa",
      "redirect_uri": REDIRECT, "code_verifier": "v" * 43}, "invalid_grant"),
])
def test_token_endpoint_errors_are_rfc6749_json(issuer: DevIssuer, form: Any, error: str) -> None:
    answer = oc.post_form(issuer.issuer + "/oauth/token", form)
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == error


def test_token_endpoint_refuses_json_bodies_and_get(issuer: DevIssuer) -> None:
    answer = oc.send("POST", issuer.issuer + "/oauth/token", data=b'{"grant_type":"x"}',
                     headers={"Content-Type": "application/json"})
    assert answer.json()["error"] == "invalid_request"
    answer = oc.get(issuer.issuer + "/oauth/token")
    assert answer.status == 405
    assert answer.headers["allow"] == "POST"
    # Still an RFC 6749 error a client library can read and report, never cached (§5.2).
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json()["error"] == "invalid_request"
    assert "POST" in answer.json()["error_description"]


def test_sign_in_takes_a_string_of_scopes_and_a_single_role_as_values(issuer: DevIssuer) -> None:
    # scopes="openid read:shows" once asked for the scopes "o", "p", "e"...; roles="admin" for "a", "d"...
    tokens = oc.sign_in(issuer.issuer, scopes="openid read:shows", roles="admin", redirect_uri=REDIRECT)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "openid read:shows"
    assert claims["roles"] == ["admin"]
    assert "id_token" in tokens


def test_userinfo_answers_for_openid_access_tokens_only(issuer: DevIssuer) -> None:
    tokens = oc.sign_in(issuer.issuer, subject="bob", scopes=["openid", "email"],
                        claims={"email": "b@example.test"}, redirect_uri=REDIRECT)
    good = oc.get(issuer.issuer + "/userinfo", {"Authorization": "Bearer " + tokens["access_token"]})
    assert good.status == 200
    assert good.json() == {"sub": "bob", "email": "b@example.test"}
    for headers in ({}, {"Authorization": "Basic dTpw"}):
        missing = oc.get(issuer.issuer + "/userinfo", headers)
        assert missing.status == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert "error=" not in missing.headers["www-authenticate"]
    id_token = oc.get(issuer.issuer + "/userinfo", {"Authorization": "Bearer " + tokens["id_token"]})
    assert id_token.status == 401
    no_openid = oc.sign_in(issuer.issuer, scopes=["read:shows"], redirect_uri=REDIRECT)["access_token"]
    refused = oc.get(issuer.issuer + "/userinfo", {"Authorization": "Bearer " + no_openid})
    assert refused.status == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_userinfo_takes_the_access_token_from_a_form_post(issuer: DevIssuer) -> None:
    # pyoidc's default userinfo request is a POST with access_token in the form body (RFC 6750 §2.2):
    # it was answered 401 as if no token had been sent.
    token = oc.sign_in(issuer.issuer, subject="bob", redirect_uri=REDIRECT)["access_token"]
    posted = oc.post_form(issuer.issuer + "/userinfo", {"access_token": token})
    assert posted.status == 200
    assert posted.json()["sub"] == "bob"
    both = oc.post_form(issuer.issuer + "/userinfo", {"access_token": token},
                        headers={"Authorization": "Bearer " + token})
    assert both.status == 400  # RFC 6750 §2: one method per request
    assert 'error="invalid_request"' in both.headers["www-authenticate"]
    bad = oc.post_form(issuer.issuer + "/userinfo", {"access_token": "a.b.c"})
    assert bad.status == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_end_session_revokes_refresh_tokens_and_returns_with_state(issuer: DevIssuer) -> None:
    tokens = oc.sign_in(issuer.issuer, scopes=["openid", "offline_access"], redirect_uri=REDIRECT)
    answer = oc.get(issuer.issuer + "/logout?" + "&".join([
        "id_token_hint=" + tokens["id_token"], "post_logout_redirect_uri=" + APP + "/", "state=s1"]))
    assert answer.status == 303
    assert answer.headers["location"] == APP + "/?state=s1"
    _assert_refresh_revoked(issuer, tokens)


def test_end_session_accepts_a_form_post(issuer: DevIssuer) -> None:
    # RP-Initiated Logout 1.0 §2: OPs MUST support GET and POST (form serialization) at the logout
    # endpoint; a form-posting RP got 405.
    tokens = oc.sign_in(issuer.issuer, scopes=["openid", "offline_access"], redirect_uri=REDIRECT)
    answer = oc.post_form(issuer.issuer + "/logout", {
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": APP + "/", "state": "s1"})
    assert answer.status == 303
    assert answer.headers["location"] == APP + "/?state=s1"
    _assert_refresh_revoked(issuer, tokens)
    refused = oc.post_form(issuer.issuer + "/logout", {"post_logout_redirect_uri": "https://evil.example/"})
    assert refused.status == 400
    assert "location" not in refused.headers


def test_an_expired_id_token_hint_still_names_its_session_but_a_forged_one_does_not(
        issuer: DevIssuer) -> None:
    # RP-Initiated Logout 1.0 §2: an expired hint is fine. It was read with a leeway of 1e9 s, which
    # verifiers now refuse (5 minutes at most); the time is read as just before the hint's exp instead.
    from serverless_jwt.dev._oidc_tokens import session_of

    client = "serverless-jwt-dev-spa"
    expired = issuer.mint(audience=client, claims={"sid": "s-1"}, now=time.time() - 86400,
                          lifetime_seconds=300)
    assert session_of(issuer, expired, client) == "s-1"
    assert session_of(issuer, issuer.mint(audience=client, claims={"sid": "s-2"}), client) == "s-2"
    forged = issuer.mint_with_foreign_key(audience=client, claims={"sid": "s-1"}, now=time.time() - 86400)
    assert session_of(issuer, forged, client) is None
    assert session_of(issuer, expired, "another-client") is None
    assert session_of(issuer, "not-a-token", client) is None


def test_end_session_with_another_client_id_than_the_hint_was_issued_to_is_refused(
        issuer: DevIssuer) -> None:
    # RP-Initiated Logout 1.0 §2: with client_id and id_token_hint both present the OP MUST verify they
    # match; another client's id was followed to the return address and revoked the session.
    tokens = oc.sign_in(issuer.issuer, scopes=["openid", "offline_access"], redirect_uri=REDIRECT)
    answer = oc.get(issuer.issuer + "/logout?" + "&".join([
        "client_id=another-client", "id_token_hint=" + tokens["id_token"],
        "post_logout_redirect_uri=" + APP + "/"]))
    assert answer.status == 400
    assert "location" not in answer.headers
    refreshed = oc.post_form(issuer.issuer + "/oauth/token", {
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "serverless-jwt-dev-spa"})
    assert refreshed.status == 200
    same = oc.get(issuer.issuer + "/logout?client_id=serverless-jwt-dev-spa&post_logout_redirect_uri=" + APP)
    assert same.status == 303


def test_end_session_refuses_an_unregistered_return_address(issuer: DevIssuer) -> None:
    answer = oc.get(issuer.issuer + "/logout?post_logout_redirect_uri=https://evil.example/")
    assert answer.status == 400
    assert "location" not in answer.headers


def test_login_page_prefills_the_requested_scopes_and_escapes_values(issuer: DevIssuer) -> None:
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT + "?x=<b>", scopes=["openid", "write:<x>"])
    page = oc.get(request.url).body.decode()
    assert 'value="read:shows">' in page  # offered, not requested: unchecked
    assert 'value="openid" checked>' in page
    assert "write:&lt;x&gt;" in page
    assert "<b>" not in page
    assert '<label for="subject">Subject</label>' in page
    assert ">Sign in</button>" in page


@pytest.mark.parametrize(("claims", "message"), [
    ("not json", "Extra claims must be valid JSON"), ("[1]", "Extra claims must be a JSON object"),
    ('{"aud": "x"}', "may not set protocol claims: aud"),
    # past json's recursion limit, which differs between Python versions (within the form's 64 KiB)
    ('{"a":' + "[" * json_unreadable_depth() + "]" * json_unreadable_depth() + "}",
     "Extra claims must be valid JSON"),
    ('{"a":' * 25 + "1" + "}" * 25, "may nest at most 19 levels deep"),  # verifiers would refuse it
    # Python's json reads these, but no verifier reads a token carrying them (it was minted, then 401).
    ('{"x": NaN}', "Extra claims must be valid JSON"),
    ('{"x": -Infinity}', "Extra claims must be valid JSON"),
    ('{"x": 1e999}', "only finite numbers and valid Unicode text"),
    ('{"x": "\\ud800"}', "only finite numbers and valid Unicode text")])
def test_bad_extra_claims_show_the_page_again_with_the_problem(issuer: DevIssuer, claims: str,
                                                                message: str) -> None:
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT)
    page = oc.get(request.url).body.decode()
    txn = oc._TRANSACTION.search(page)
    assert txn is not None
    answer = oc.post_form(issuer.issuer + "/authorize", {"transaction": txn.group(1), "subject": "a",
                                                         "claims": claims, "action": "sign_in"})
    assert answer.status == 400
    assert message in answer.body.decode()
    fixed = oc.post_form(issuer.issuer + "/authorize", {"transaction": txn.group(1), "subject": "a",
                                                        "action": "sign_in"})
    assert fixed.status == 303
    assert "code" in _query(fixed.headers["location"])


def test_roles_in_both_the_roles_field_and_the_extra_claims_are_refused(issuer: DevIssuer) -> None:
    # The access token took the extra claim's roles (admin), the ID token the field's (viewer): the page
    # showed one user, the API authorized another. Which was meant is unknowable, so the page asks.
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT)
    both = oc.submit_login(request, subject="a", roles=["viewer"], claims={"roles": ["admin"]})
    assert both.status == 400
    assert "Set roles in the Roles field or as a roles extra claim, not both" in both.body.decode()
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT)
    alone = oc.submit_login(request, subject="a", claims={"roles": ["admin"]})
    tokens = oc.exchange_code(issuer.issuer, request, oc.code_from(alone, request)).json()
    assert _claims(tokens["access_token"])["roles"] == _claims(tokens["id_token"])["roles"] == ["admin"]

def test_authorization_request_may_be_form_posted(issuer: DevIssuer) -> None:
    # OIDC Core §3.1.2.1: the authorization endpoint MUST support GET and POST (form serialization);
    # a posted request was taken for a login page answer and got "Sign-in expired".
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT)
    posted = oc.post_form(issuer.issuer + "/authorize", _query(request.url))
    assert posted.status == 200
    txn = oc._TRANSACTION.search(posted.body.decode())
    assert txn is not None
    answer = oc.post_form(issuer.issuer + "/authorize", {"transaction": txn.group(1), "subject": "a",
                                                         "scope": "openid", "action": "sign_in"})
    code = oc.code_from(answer, request)
    assert oc.exchange_code(issuer.issuer, request, code).status == 200
    plain = {**_query(request.url), "code_challenge_method": "plain"}
    bad = oc.post_form(issuer.issuer + "/authorize", plain)
    assert _query(bad.headers["location"])["error"] == "invalid_request"
    assert _query(bad.headers["location"])["state"] == request.state


@pytest.mark.parametrize(("response_type", "error"), [
    (None, "invalid_request"), ("", "invalid_request"), ("token", "unsupported_response_type")])
def test_missing_response_type_is_invalid_request_an_unknown_one_unsupported(
        issuer: DevIssuer, response_type: str | None, error: str) -> None:
    # RFC 6749 §4.1.2.1: invalid_request is "missing a required parameter"; unsupported_response_type
    # is for a value the server cannot issue.
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT)
    params = _query(request.url)
    del params["response_type"]
    if response_type is not None:
        params["response_type"] = response_type
    answer = oc.post_form(issuer.issuer + "/authorize", params)
    assert answer.status == 303
    assert _query(answer.headers["location"])["error"] == error


def test_cancel_returns_access_denied_and_a_page_works_once(issuer: DevIssuer) -> None:
    request = oc.start(issuer.issuer, redirect_uri=REDIRECT)
    txn = oc._TRANSACTION.search(oc.get(request.url).body.decode())
    assert txn is not None
    answer = oc.post_form(issuer.issuer + "/authorize", {"transaction": txn.group(1), "action": "cancel"})
    assert _query(answer.headers["location"])["error"] == "access_denied"
    again = oc.post_form(issuer.issuer + "/authorize", {"transaction": txn.group(1), "subject": "a",
                                                        "action": "sign_in"})
    assert again.status == 400


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/jwks.json",
                                  "/userinfo"])
def test_cors_answers_allowed_origins_only(issuer: DevIssuer, path: str) -> None:
    allowed = oc.get(issuer.issuer + path, {"Origin": APP})
    assert allowed.headers["access-control-allow-origin"] == APP
    foreign = oc.get(issuer.issuer + path, {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers
    issuer.oidc.cors_origins = ["https://app.example"]
    assert "access-control-allow-origin" not in oc.get(issuer.issuer + path, {"Origin": APP}).headers
    configured = oc.get(issuer.issuer + path, {"Origin": "https://app.example"})
    assert configured.headers["access-control-allow-origin"] == "https://app.example"


def test_token_endpoint_preflight(issuer: DevIssuer) -> None:
    def preflight(origin: str) -> oc.HttpAnswer:
        return oc.send("OPTIONS", issuer.issuer + "/oauth/token",
                       headers={"Origin": origin, "Access-Control-Request-Method": "POST"})

    ok = preflight(APP)
    assert ok.status == 204
    assert ok.headers["access-control-allow-origin"] == APP
    assert "POST" in ok.headers["access-control-allow-methods"]
    refused = preflight("https://evil.example")
    assert refused.status == 403
    assert "access-control-allow-origin" not in refused.headers
    request, code = _login(issuer)
    answer = oc.post_form(issuer.issuer + "/oauth/token", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": "serverless-jwt-dev-spa", "code_verifier": request.code_verifier},
        headers={"Origin": APP})
    assert answer.headers["access-control-allow-origin"] == APP


def test_oversized_bodies_are_refused_and_chunked_ones_read(issuer: DevIssuer) -> None:
    import http.client

    answer = oc.post_form(issuer.issuer + "/oauth/token", {"grant_type": "x" * 70_000})
    assert answer.status == 413
    host, port = urlsplit(issuer.issuer).hostname, urlsplit(issuer.issuer).port
    conn = http.client.HTTPConnection(host or "", port, timeout=5)
    try:
        conn.request("POST", "/oauth/token", body=iter([b"grant_type=x"]),
                     headers={"Content-Type": "application/x-www-form-urlencoded"}, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["error"] == "unsupported_grant_type"
    finally:
        conn.close()
    conn = http.client.HTTPConnection(host or "", port, timeout=5)
    try:
        conn.request("POST", "/oauth/token", body=b"x", headers={"Content-Length": "zz"})
        assert conn.getresponse().status == 400
    finally:
        conn.close()


def test_plugin_issuer_is_reset_to_default_provider_settings_between_tests(
        jwt_issuer: DevIssuer, request: pytest.FixtureRequest) -> None:
    holder = request.getfixturevalue("_serverless_jwt_issuer_holder")
    jwt_issuer.oidc.redirect_uris = ["https://app.example/cb"]
    jwt_issuer.oidc.cors_origins = ["https://app.example"]
    login = oc.start(jwt_issuer.issuer, redirect_uri="https://app.example/cb")
    code = oc.code_from(oc.submit_login(login), login)
    again = holder.acquire()  # what the next test gets
    assert again is jwt_issuer
    assert again.oidc.redirect_uris is None
    assert again.oidc.cors_origins is None
    assert oc.exchange_code(again.issuer, login, code).json()["error"] == "invalid_grant"  # codes gone


def test_service_client_secret_is_stable_with_a_key_folder(tmp_path: Any) -> None:
    first = DevIssuer(key_dir=tmp_path).oidc.service_client_secret
    assert DevIssuer(key_dir=tmp_path).oidc.service_client_secret == first
    assert DevIssuer().oidc.service_client_secret != first
    assert json.dumps(first).isascii()


def test_cors_lets_a_page_read_the_userinfo_challenge(issuer: DevIssuer) -> None:
    # A browser hides every response header not safelisted or exposed: oauth4webapi in a page got
    # www-authenticate == null from a 401 and could not say why the token was refused.
    answer = oc.get(issuer.issuer + "/userinfo", {"Origin": APP, "Authorization": "Bearer a.b.c"})
    assert answer.status == 401
    assert answer.headers["access-control-allow-origin"] == APP
    exposed = [h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")]
    assert "www-authenticate" in exposed


@pytest.mark.parametrize(("resource", "served"), [
    ("http://127.0.0.1:3000", True), ("http://localhost:3000/", True), ("http://[::1]:3000", True),
    ("http://127.0.0.1:3000#frag", False), ("http://user@127.0.0.1:3000", False),
    ("https://api.example.com", False), ("http://127.0.0.2:3000", False),
])
def test_a_local_apis_rfc_9728_resource_is_served_with_the_dev_audience(
        issuer: DevIssuer, resource: str, served: bool) -> None:
    # RFC 9728 metadata names the local API by its URL; a client following it sends that URL as the
    # RFC 8707 resource, which the provider maps to its audience (RFC 8707 §2 allows the mapping).
    answer = _service_token(issuer, {"resource": resource})
    if not served:
        assert answer.json()["error"] == "invalid_target"
        return
    assert answer.status == 200
    token = answer.json()["access_token"]
    assert Verifier(issuer=issuer.issuer, audience=issuer.audience).verify(token)["aud"] == issuer.audience
    as_audience = _service_token(issuer, {"audience": resource})  # Auth0's audience names it exactly
    assert as_audience.json()["error"] == "invalid_target"


def test_sign_in_says_why_the_login_page_refused_its_answer(issuer: DevIssuer) -> None:
    # It said only "no redirect to the client (HTTP 400)": the page's own message was lost.
    with pytest.raises(RuntimeError) as refused:
        oc.sign_in(issuer.issuer, claims={"aud": "x"})
    assert "Extra claims may not set protocol claims: aud" in str(refused.value)
    with pytest.raises(RuntimeError) as blank:
        oc.sign_in(issuer.issuer, subject=" ")
    assert "Subject must be 1 to 255 characters" in str(blank.value)
    with pytest.raises(RuntimeError) as unknown:
        oc.sign_in(issuer.issuer, client_id="someone-else")
    assert "Unknown client. The client_id is not registered" in str(unknown.value)


@pytest.mark.parametrize("missing", ["code", "redirect_uri", "refresh_token"])
def test_a_missing_required_token_parameter_is_invalid_request_not_invalid_grant(
        issuer: DevIssuer, missing: str) -> None:
    # RFC 6749 §5.2: invalid_request "is missing a required parameter"; invalid_grant is for a bad one.
    request, code = _login(issuer, scopes=("openid", "offline_access"))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": "serverless-jwt-dev-spa", "code_verifier": request.code_verifier}
    if missing == "refresh_token":
        tokens = oc.post_form(issuer.issuer + "/oauth/token", form).json()
        assert tokens["refresh_token"]
        form = {"grant_type": "refresh_token", "client_id": "serverless-jwt-dev-spa"}
    else:
        del form[missing]
    answer = oc.post_form(issuer.issuer + "/oauth/token", form)
    assert (answer.status, answer.json()["error"]) == (400, "invalid_request")
    assert missing in answer.json()["error_description"]


# CSP3 §2.3.1: a scheme-source, or a host-source (no IPv6 literal: a source naming one is ignored).
_CSP_SOURCE = re.compile(r"[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)"
                         r"(?::(?:[0-9]+|\*))?(?:/\S*)?", re.IGNORECASE)


@pytest.mark.parametrize(("redirect", "source"), [
    ("http://127.0.0.1:5173/callback", "http://127.0.0.1:5173"),
    ("http://[::1]:5173/callback", "http://*:5173"),
    ("com.example.app:/callback", "com.example.app:"),
    ("http://127.0.0.1:/callback", "http://127.0.0.1"),  # an empty port is the default one (RFC 3986 §3.2.3)
])
def test_the_login_pages_form_action_names_the_redirect_target_in_valid_csp(
        issuer: DevIssuer, redirect: str, source: str) -> None:
    # form-action governs the redirect after the form too: an invalid source (http://[::1]:5173, or
    # com.example.app:// for a native app) is ignored by the browser, which then blocks the redirect.
    if not redirect.startswith("http"):
        issuer.oidc.redirect_uris = [redirect]
    answer = oc.get(oc.start(issuer.issuer, redirect_uri=redirect).url)
    assert answer.status == 200
    directives = dict(d.strip().split(" ", 1) for d in answer.headers["content-security-policy"].split(";"))
    sources = directives["form-action"].split()
    assert sources == ["'self'", source]
    assert _CSP_SOURCE.fullmatch(source)
