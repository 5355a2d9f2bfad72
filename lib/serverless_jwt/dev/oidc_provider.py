"""The dev issuer's OpenID Connect provider: a login page, codes with PKCE, tokens, userinfo, logout.

Enough of OIDC for a single-page app to sign in locally exactly as it would with Auth0 or Cognito:
authorization code + PKCE (S256 only), refresh tokens (rotated on use), client credentials, userinfo
and RP-initiated logout. Access tokens follow RFC 9068 (``typ: at+jwt``, ``client_id``, the API's
audience); ID tokens carry the request's ``nonce``. It is a dev tool: there is no password, the person
at the keyboard chooses the subject, scopes, roles and extra claims on the login page.

Written here rather than borrowed: the Python OIDC provider libraries (Authlib, pyoidc) want a web
framework, a database and a user model; what a loopback dev provider needs is these few checks, each
in :mod:`serverless_jwt.dev._oidc_rules`, answered over the issuer's own ``http.server``.

The token endpoint (``/oauth/token``: its three grants, refresh-token rotation) is
:class:`~serverless_jwt.dev._oidc_token_endpoint.TokenEndpoint`, which :class:`OidcProvider` extends.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from serverless_jwt.dev import _login_page, _oidc_tokens
from serverless_jwt.dev._oidc_grants import Grant, GrantStore, Pending
from serverless_jwt.dev._oidc_rules import RESERVED_CLAIMS as RESERVED_CLAIMS  # still importable here
from serverless_jwt.dev._oidc_rules import (
    OAuthError,
    Response,
    extra_claims,
    is_allowed_redirect,
    parse_params,
    refuse_unserved_target,
    refuse_unsupported,
    valid_challenge,
    valid_scope_token,
)
from serverless_jwt.dev._oidc_token_endpoint import TokenEndpoint

if TYPE_CHECKING:
    from serverless_jwt.dev._support import AttachedIssuer
    from serverless_jwt.dev.issuer import DevIssuer

__all__ = ["AUTHORIZE_PATH", "DEFAULT_SCOPES", "END_SESSION_PATH", "RESOURCE_METADATA_PATH", "TOKEN_PATH",
           "USERINFO_PATH", "Grant", "OidcProvider", "resource_metadata"]

AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a password
USERINFO_PATH = "/userinfo"
END_SESSION_PATH = "/logout"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"  # RFC 9728, served by the local API
DEFAULT_SCOPES = ("openid", "profile", "email", "offline_access", "read:shows")
DEFAULT_CLIENT_ID = "serverless-jwt-dev-spa"  # not the dev audience: an ID token is no access token
SERVICE_CLIENT_ID = "serverless-jwt-dev-service"
_PENDING_SECONDS = 600  # how long a login page stays usable


class OidcProvider(TokenEndpoint):
    """The OIDC endpoints of one :class:`~serverless_jwt.dev.issuer.DevIssuer` (``issuer.oidc``).

    Settings (plain attributes, read on every request):

    ``client_id``
        The public client a single-page app uses (``serverless-jwt-dev-spa``); no secret, PKCE required.
    ``service_client_id``, ``service_client_secret``
        A confidential client for ``client_credentials`` (secret derived from the issuer's key, so it
        is stable while the key folder is).
    ``redirect_uris``
        Registered redirect URIs (exact match); ``None`` (default): any ``http`` URI on a loopback host.
        Also the accepted ``post_logout_redirect_uri`` values.
    ``cors_origins``
        Origins allowed to call discovery, JWKS, token and userinfo from a browser; ``None`` (default):
        ``http`` loopback origins.
    ``offered_scopes``
        The login page's checkboxes (plus any other scope the request asks for).
    ``code_lifetime_seconds``, ``access_token_lifetime_seconds``, ``refresh_token_lifetime_seconds``
        60, 3600 and 86400 by default.
    ``session_lifetime_seconds``
        Absolute: no refresh token outlives its sign-in by more (default 7 days), however often rotated.
    """

    def __init__(self, issuer: DevIssuer, *, service_client_secret: str | None = None) -> None:
        self._issuer = issuer
        self._store = GrantStore()
        self.service_client_secret = service_client_secret or secrets.token_urlsafe(24)
        self.reset()

    def reset(self) -> None:
        """Back to the default settings, with no pending logins, codes or refresh tokens."""
        self.client_id = DEFAULT_CLIENT_ID
        self.service_client_id = SERVICE_CLIENT_ID
        self.redirect_uris: list[str] | None = None
        self.cors_origins: list[str] | None = None
        self.offered_scopes: list[str] = list(DEFAULT_SCOPES)
        self.default_subject = "dev-user"
        self.code_lifetime_seconds = 60.0
        self.access_token_lifetime_seconds = 3600
        self.refresh_token_lifetime_seconds = 86400.0
        self.session_lifetime_seconds = 7 * 86400.0
        self._store.clear()

    def discovery(self) -> dict[str, Any]:
        """The OIDC members of the discovery document."""
        iss = self._issuer.issuer
        return {
            "authorization_endpoint": iss + AUTHORIZE_PATH,
            "token_endpoint": iss + TOKEN_PATH,
            "userinfo_endpoint": iss + USERINFO_PATH,
            "end_session_endpoint": iss + END_SESSION_PATH,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "scopes_supported": list(self.offered_scopes),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "scope",
                                 "client_id", "roles", "sid"],
            "authorization_response_iss_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,  # true when absent (OIDC Discovery §3)
        }

    # -- /authorize ----------------------------------------------------------------------------

    def authorize(self, method: str, query: str, body: bytes, content_type: str) -> Response:
        """GET, or POST of a form (OIDC Core §3.1.2.1): check the request and show the login page.
        POST of the login page's form (it names its ``transaction``): the answer -> redirect."""
        text = query
        if method == "POST":
            text = _form_text(body, content_type)
            try:
                form = parse_params(text, repeatable=("scope",))
            except OAuthError as exc:
                return _page(400, "Bad request", exc.description)
            if "transaction" in form:
                return self._sign_in(form)
        try:
            params = parse_params(text, repeatable=())
        except OAuthError as exc:
            return _page(400, "Bad request", exc.description)
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        # Until client and redirect URI are known good, errors are shown here, never redirected (§4.1.2.1).
        if client_id != self.client_id:
            return _page(400, "Unknown client", "The client_id is not registered with this provider.")
        if not is_allowed_redirect(redirect_uri, self.redirect_uris):
            return _page(400, "Redirect URI not registered",
                         "The redirect_uri is not registered for this client (README: redirect URIs).")
        state = params.get("state")
        try:
            pending = self._check_request(params, redirect_uri, state)
        except OAuthError as exc:
            return self._redirect(redirect_uri, {"error": exc.error, "error_description": exc.description,
                                                 "state": state})
        txn = secrets.token_urlsafe(24)
        self._store.add_pending(txn, pending)
        return self._login(txn, pending, self.default_subject, pending.scopes, "", "", None, 200)

    def _check_request(self, params: Mapping[str, str], redirect_uri: str, state: str | None) -> Pending:
        if not params.get("response_type"):  # RFC 6749 §4.1.2.1: a missing parameter is invalid_request
            raise OAuthError("invalid_request", "response_type is missing")
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "Only response_type=code is supported")
        refuse_unsupported(params)
        method = params.get("code_challenge_method", "plain")
        if method != "S256":
            raise OAuthError("invalid_request", "PKCE with code_challenge_method=S256 is required")
        challenge = params.get("code_challenge", "")
        if not valid_challenge(challenge):
            raise OAuthError("invalid_request", "code_challenge must be a 43-character S256 challenge")
        scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
        if not all(valid_scope_token(s) for s in scopes):
            raise OAuthError("invalid_scope", "A requested scope is not a valid scope token")
        audience: str | tuple[str, ...] = self._issuer.audience
        refuse_unserved_target(params, self._issuer.audience)
        return Pending(self.client_id, redirect_uri, state, params.get("nonce") or None, challenge,
                        scopes, audience, time.time() + _PENDING_SECONDS)

    def _login(self, txn: str, pending: Pending, subject: str, checked: Sequence[str], roles: str,
               claims: str, error: str | None, status: int) -> Response:
        offered = list(dict.fromkeys([*self.offered_scopes, *pending.scopes]))
        body = _login_page.login_page(
            action=AUTHORIZE_PATH, transaction=txn, client_id=pending.client_id,
            redirect_uri=pending.redirect_uri, subject=subject, offered_scopes=offered,
            checked_scopes=checked, roles=roles, claims_json=claims, error=error)
        # form-action also governs the redirect that follows the POST: allow the client's origin too.
        csp = (f"default-src 'none'; style-src 'unsafe-inline'; "
               f"form-action 'self' {_csp_source(pending.redirect_uri)}; frame-ancestors 'none'")
        return Response(status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                                 "X-Frame-Options": "DENY", "Content-Security-Policy": csp}, body)

    def _sign_in(self, form: Mapping[str, str]) -> Response:
        txn = form.get("transaction", "")
        pending = self._store.pending(txn)
        if pending is None:
            return _page(400, "Sign-in expired", "This sign-in page is no longer valid; start again.")
        if form.get("action") == "cancel":
            self._store.forget_pending(txn)
            return self._redirect(pending.redirect_uri, {
                "error": "access_denied", "error_description": "The user cancelled the sign-in",
                "state": pending.state})
        subject, roles, claims_text = (form.get("subject", "").strip(), form.get("roles", ""),
                                       form.get("claims", "").strip())
        scopes = tuple(s for s in form.get("scope", "").split() if valid_scope_token(s))
        try:
            claims = extra_claims(claims_text)
            if not subject or len(subject) > 255:
                raise ValueError("Subject must be 1 to 255 characters")
            if "roles" in claims and roles.replace(",", " ").split():  # else ID and access token differ
                raise ValueError("Set roles in the Roles field or as a roles extra claim, not both")
        except ValueError as exc:
            return self._login(txn, pending, subject, scopes, roles, claims_text, str(exc), 400)
        self._store.forget_pending(txn)
        now = time.time()
        code = secrets.token_urlsafe(32)
        grant = Grant(client_id=pending.client_id, subject=subject, scopes=scopes,
                      roles=tuple(roles.replace(",", " ").split()), claims=claims,
                      audience=pending.audience, redirect_uri=pending.redirect_uri,
                      code_challenge=pending.code_challenge, nonce=pending.nonce, auth_time=int(now),
                      sid=secrets.token_urlsafe(12), expires_at=now + self.code_lifetime_seconds)
        self._store.add_code(code, grant)
        return self._redirect(pending.redirect_uri, {"code": code, "state": pending.state})

    def _redirect(self, uri: str, params: Mapping[str, str | None]) -> Response:
        query = {k: v for k, v in params.items() if v is not None}
        query["iss"] = self._issuer.issuer  # RFC 9207: which provider answered
        sep = "&" if "?" in uri else "?"
        return Response(303, {"Location": uri + sep + urlencode(query), "Cache-Control": "no-store",
                              "Content-Length": "0"})

    # -- /userinfo, /logout --------------------------------------------------------------------

    def userinfo(self, authorization: str | None, body: bytes = b"", content_type: str = "") -> Response:
        """Claims about the subject of a valid access token that was granted ``openid``."""
        try:
            form = parse_params(_form_text(body, content_type), repeatable=())
        except OAuthError as exc:
            return exc.response()
        return _oidc_tokens.userinfo(self._issuer, authorization, form)

    def end_session(self, query: str, body: bytes = b"", content_type: str = "") -> Response:
        """RP-initiated logout: revoke the session's refresh tokens, then go back to the app.

        GET with a query or POST with a form (RP-Initiated Logout 1.0 §2: an OP supports both).
        """
        try:
            params = parse_params(_form_text(body, content_type) if body else query, repeatable=())
        except OAuthError as exc:
            return _page(400, "Bad request", exc.description)
        if params.get("client_id", self.client_id) != self.client_id:
            # RP-Initiated Logout §2: client_id must be the client the ID token hint was issued to.
            return _page(400, "Unknown client", "The client_id is not registered with this provider.")
        sid = _oidc_tokens.session_of(self._issuer, params.get("id_token_hint"), self.client_id)
        if sid:
            self._store.revoke_session(sid)
        target = params.get("post_logout_redirect_uri")
        if target is None:
            return _page(200, "Signed out", "You are signed out of the serverless-jwt dev provider.")
        if not is_allowed_redirect(target, self.redirect_uris):
            return _page(400, "Redirect URI not registered",
                         "The post_logout_redirect_uri is not registered with this provider.")
        state = params.get("state")
        sep = "&" if "?" in target else "?"
        location = target + (sep + urlencode({"state": state}) if state is not None else "")
        return Response(303, {"Location": location, "Cache-Control": "no-store", "Content-Length": "0"})


def resource_metadata(issuer: DevIssuer | AttachedIssuer, resource: str) -> dict[str, Any]:
    """RFC 9728 metadata for a local API at ``resource`` trusting ``issuer`` (how the sample page finds it).

    Examples
    --------
    >>> resource_metadata(issuer, "http://127.0.0.1:3000")["authorization_servers"]  # doctest: +SKIP
    ['http://127.0.0.1:54321']
    """
    # An issuer another command runs (AttachedIssuer) offers the defaults: its settings live there.
    provider = getattr(issuer, "oidc", None)
    scopes = DEFAULT_SCOPES if provider is None else provider.offered_scopes
    return {"resource": resource, "authorization_servers": [issuer.issuer],
            "scopes_supported": list(scopes), "bearer_methods_supported": ["header"]}


def _csp_source(uri: str) -> str:
    """A CSP source expression matching ``uri``'s origin, as narrow as CSP can write it."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return parts.scheme + ":"  # a native app's private-use scheme (RFC 8252 §7.1) has no host to name
    if ":" in (parts.hostname or ""):
        # CSP's host-source has no IPv6 literal ("http://[::1]:5173" is ignored as invalid, and the redirect
        # after the form is then blocked): any host, on that scheme and port, is the narrowest expressible.
        return f"{parts.scheme}://*" + (f":{parts.port}" if parts.port is not None else "")
    # Host and port, not the netloc as written: "127.0.0.1:" (an empty port, the default one) is no valid
    # host-source, and the browser would ignore it and block the redirect.
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port is not None else "")


def _form_text(body: bytes, content_type: str) -> str:
    form = content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"
    return body.decode("utf-8", "replace") if form else ""


def _page(status: int, title: str, text: str) -> Response:
    # Never framed either (as the login page): no page of the provider's may be dressed up by another site.
    return Response(status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                             "X-Frame-Options": "DENY",
                             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                        "frame-ancestors 'none'"},
                    _login_page.message_page(title, text))
