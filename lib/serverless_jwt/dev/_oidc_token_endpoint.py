"""The dev OIDC provider's token endpoint (``/oauth/token``): its grants and refresh-token rotation.

``authorization_code`` (single-use codes, PKCE S256, the same client and redirect URI),
``refresh_token`` (rotated on use, only narrowing scopes, never past the sign-in's absolute lifetime)
and ``client_credentials`` (the confidential service client). :class:`TokenEndpoint` is the part of
:class:`~serverless_jwt.dev.oidc_provider.OidcProvider` that answers it; the settings and the grant
store it reads are the provider's.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from serverless_jwt.dev import _oidc_tokens
from serverless_jwt.dev._oidc_grants import Grant, GrantStore
from serverless_jwt.dev._oidc_rules import (
    OAuthError,
    Response,
    parse_form,
    refuse_unserved_target,
    requested_scopes,
)

if TYPE_CHECKING:
    from serverless_jwt.dev.issuer import DevIssuer

__all__ = ["TokenEndpoint"]


class TokenEndpoint:
    """``/oauth/token`` for :class:`~serverless_jwt.dev.oidc_provider.OidcProvider`, which sets these."""

    _issuer: DevIssuer
    _store: GrantStore
    client_id: str
    service_client_id: str
    service_client_secret: str
    access_token_lifetime_seconds: int
    refresh_token_lifetime_seconds: float
    session_lifetime_seconds: float

    def token(self, body: bytes, content_type: str, authorization: str | None) -> Response:
        """The token endpoint: ``authorization_code``, ``refresh_token``, ``client_credentials``."""
        try:
            form = parse_form(body, content_type)
            grant_type = form.get("grant_type", "")
            # A token for another API than asked is refused, not issued for the dev audience regardless.
            refuse_unserved_target(form, self._issuer.audience)
            if grant_type == "authorization_code":
                return self._tokens(self._redeem_code(form), refresh_for=form.get("code"))
            if grant_type == "refresh_token":
                return self._refresh(form)
            if grant_type == "client_credentials":
                client = _oidc_tokens.client_credentials(form, authorization, self.service_client_id,
                                                         self.service_client_secret)
                grant = Grant(client_id=client, subject=client, scopes=requested_scopes(form),
                              audience=self._issuer.audience, auth_time=int(time.time()))
                return self._tokens(grant, id_token=False, refresh=False)
            if not grant_type:
                raise OAuthError("invalid_request", "grant_type is missing")
            raise OAuthError("unsupported_grant_type", "This grant type is not supported")
        except OAuthError as exc:
            return exc.response()

    def _redeem_code(self, form: Mapping[str, str]) -> Grant:
        code = form.get("code", "")
        if not code:  # RFC 6749 §5.2: a missing required parameter is invalid_request, not invalid_grant
            raise OAuthError("invalid_request", "code is missing")
        self._known_public_client(form)
        # Single use: the code is gone from the first attempt on, whatever its outcome.
        grant = self._store.take_code(code)
        if grant is None:
            raise OAuthError("invalid_grant", "The code is invalid, expired or already used")
        if grant.client_id != form.get("client_id"):
            raise OAuthError("invalid_grant", "The code was issued to another client")
        if "redirect_uri" not in form:  # §4.1.3: required when the authorization request named one
            raise OAuthError("invalid_request", "redirect_uri is missing")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier")
        if verifier is None:
            raise OAuthError("invalid_request", "code_verifier is missing")
        if not _oidc_tokens.pkce_ok(verifier, grant.code_challenge):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        return grant

    def _known_public_client(self, form: Mapping[str, str]) -> None:
        # RFC 6749 §5.2: an unknown client, or none named (the SPA client authenticates by naming itself),
        # is invalid_client, for a code and a refresh token alike.
        if form.get("client_id") != self.client_id:
            raise OAuthError("invalid_client", "Unknown client_id", status=401)

    def _refresh(self, form: Mapping[str, str]) -> Response:
        token = form.get("refresh_token", "")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is missing")
        # The client is checked before the token is used up: a wrong client_id burns nothing.
        self._known_public_client(form)
        held = self._store.peek_refresh(token)
        if held is not None and form.get("client_id") != held.client_id:
            raise OAuthError("invalid_grant", "The refresh token was issued to another client")
        narrowed = requested_scopes(form)
        if held is not None and narrowed and not set(narrowed) <= set(held.scopes):
            raise OAuthError("invalid_scope", "A refresh may only narrow the granted scopes")
        grant = self._store.take_refresh(token)  # rotated: each refresh token works once
        if grant is None:
            raise OAuthError("invalid_grant", "The refresh token is invalid, expired or already used")
        # RFC 6749 §6: a narrower scope is for this access token only; the new refresh token keeps
        # the whole grant.
        return self._tokens(replace(grant, scopes=narrowed or grant.scopes, nonce=None), keep=grant)

    def _tokens(self, grant: Grant, *, id_token: bool = True, refresh: bool = True,
                refresh_for: str | None = None, keep: Grant | None = None) -> Response:
        out = _oidc_tokens.issue(self._issuer, grant, id_token=id_token and "openid" in grant.scopes,
                                 lifetime_seconds=self.access_token_lifetime_seconds)
        kept = keep or grant
        # Sliding with each rotation, but never past the sign-in's own end (an absolute lifetime).
        expires = min(time.time() + self.refresh_token_lifetime_seconds,
                      kept.auth_time + self.session_lifetime_seconds)
        if refresh and "offline_access" in kept.scopes and expires > time.time():
            token = secrets.token_urlsafe(32)
            family = kept.family or secrets.token_urlsafe(16)
            self._store.add_refresh(token, replace(kept, expires_at=expires, nonce=None, family=family),
                                    from_code=refresh_for)
            out["refresh_token"] = token
        return _oidc_tokens.token_response(out)
