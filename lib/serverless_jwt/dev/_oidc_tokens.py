"""The dev provider's tokens: RFC 9068 access tokens, ID tokens, client authentication, userinfo.

Tokens are signed by the issuer's own :meth:`~serverless_jwt.dev.issuer.DevIssuer.mint`, so the login
page, the CLI and the pytest plugin produce the same claims. Userinfo and ``id_token_hint`` are
checked with this library's own :class:`~serverless_jwt.verifier.Verifier` against the issuer's keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from serverless_jwt.dev._oidc_rules import OAuthError, Response, json_response, pkce_matches
from serverless_jwt.errors import AuthError, InsufficientScopeError

if TYPE_CHECKING:
    from serverless_jwt.dev._oidc_grants import Grant
    from serverless_jwt.dev.issuer import DevIssuer

__all__ = ["access_token", "client_credentials", "issue", "pkce_ok", "session_of", "token_response",
           "userinfo"]

# Members of an access token that userinfo does not repeat (they describe the token, not the user).
_TOKEN_ONLY = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "auth_time",
                         "sid", "azp", "nonce", "at_hash", "cnf"})


def pkce_ok(verifier: str, challenge: str) -> bool:
    return pkce_matches(verifier, challenge)


def client_credentials(form: Mapping[str, str], authorization: str | None, client_id: str,
                       secret: str) -> str:
    """Authenticate the confidential client (HTTP Basic or ``client_secret_post``); returns its id."""
    given_id, given_secret = form.get("client_id"), form.get("client_secret")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic" or given_secret is not None:
            raise OAuthError("invalid_client", "Use one client authentication method", status=401)
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials", status=401) from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise OAuthError("invalid_client", "Malformed Basic credentials", status=401)
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
        given_id, given_secret = unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
    if given_id is None or given_secret is None:
        raise OAuthError("invalid_client", "client_credentials needs client authentication", status=401)
    ok_id = hmac.compare_digest(given_id.encode(), client_id.encode())
    ok_secret = hmac.compare_digest(given_secret.encode(), secret.encode())
    if not (ok_id and ok_secret):
        raise OAuthError("invalid_client", "Client authentication failed", status=401)
    return client_id


def access_token(issuer: DevIssuer, grant: Grant, *, lifetime_seconds: float) -> str:
    """An RFC 9068 access token for the grant: ``typ: at+jwt``, the API's audience, ``client_id``."""
    extra: dict[str, Any] = dict(grant.claims)
    extra.update({"client_id": grant.client_id, "auth_time": grant.auth_time})
    if grant.sid:
        extra["sid"] = grant.sid
    audience = list(grant.audience) if isinstance(grant.audience, tuple) else grant.audience
    return issuer.mint(sub=grant.subject, scopes=grant.scopes, roles=grant.roles, roles_claim="roles",
                       audience=audience, lifetime_seconds=lifetime_seconds, claims=extra,
                       headers={"typ": "at+jwt"})


def _half_hash(token: str) -> str:
    # OIDC Core §3.1.3.6 at_hash for RS256: left half of SHA-256, base64url without padding.
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def issue(issuer: DevIssuer, grant: Grant, *, id_token: bool, lifetime_seconds: float) -> dict[str, Any]:
    """The token response members (without a refresh token) for a grant."""
    token = access_token(issuer, grant, lifetime_seconds=lifetime_seconds)
    out: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime_seconds)}
    if grant.scopes:  # RFC 6749 §3.3: a scope value has at least one scope-token, "" is none
        out["scope"] = " ".join(grant.scopes)
    if id_token:
        claims: dict[str, Any] = dict(grant.claims)
        claims.update({"auth_time": grant.auth_time, "azp": grant.client_id, "sid": grant.sid,
                       "at_hash": _half_hash(token), "nonce": grant.nonce})
        if grant.roles:
            claims["roles"] = list(grant.roles)
        out["id_token"] = issuer.mint(sub=grant.subject, audience=grant.client_id,
                                      lifetime_seconds=lifetime_seconds, claims=claims)
    return out


def token_response(members: Mapping[str, Any]) -> Response:
    return json_response(200, dict(members))


def _verifier(issuer: DevIssuer, *, audience: str, expired: str | None = None) -> Any:
    """A verifier of this issuer's tokens; with ``expired`` (a token), one that accepts it past its exp."""
    import time

    from serverless_jwt import token as _token
    from serverless_jwt.verifier import Verifier

    clock: Callable[[], float] = time.time
    if expired is not None:
        # Not a huge leeway (bounded to 5 minutes): the verifier reads the time as just before this
        # token's exp, so an expired token passes; its signature and every other claim are still checked.
        exp = _token.parse(expired).claims.get("exp")
        if type(exp) is int:
            clock = lambda: min(time.time(), exp - 1)  # noqa: E731
    # The issuer's own keys, in memory: the provider never fetches from itself.
    return Verifier(issuer=issuer.issuer, jwks=issuer.jwks(), audience=audience,
                    algorithms=("RS256", "ES256"), leeway_seconds=0, verified_cache_size=0, clock=clock)


def userinfo(issuer: DevIssuer, authorization: str | None, form: Mapping[str, str] | None = None
             ) -> Response:
    """OIDC Core §5.3: the subject's claims for a Bearer access token granted ``openid``.

    The token comes in the ``Authorization`` header or, in a form POST, as ``access_token``
    (RFC 6750 §2.2; pyoidc's default userinfo request), never both (§2: one method per request).
    """
    from serverless_jwt.errors import InvalidRequestError, InvalidTokenError, MissingTokenError

    try:
        in_body = (form or {}).get("access_token")
        if in_body is not None:
            if authorization:
                raise InvalidRequestError()
            authorization = "Bearer " + in_body
        scheme, _, token = (authorization or "").partition(" ")
        if not authorization or scheme.lower() != "bearer":
            raise MissingTokenError()  # RFC 6750 §3.1: no bearer credentials at all, no error code
        if not token.strip():
            raise InvalidTokenError()
        # Access tokens this provider issued are for the API's audience (every grant type).
        claims = _verifier(issuer, audience=issuer.audience).verify(token.strip())
        if not isinstance(claims.get("client_id"), str):
            raise InvalidTokenError()  # an ID token or a hand-minted token is not an access token here
        if "openid" not in str(claims.get("scope", "")).split():
            raise InsufficientScopeError(["openid"])
    except AuthError as exc:
        answer = exc.response(realm="serverless-jwt-dev")
        out = json_response(answer.status, answer.body)
        out.headers.update(answer.headers)
        return out
    info = {k: v for k, v in claims.items() if k not in _TOKEN_ONLY}
    return json_response(200, info)


def session_of(issuer: DevIssuer, id_token_hint: str | None, client_id: str) -> str | None:
    """The ``sid`` of an ID token this issuer signed (expired ones included, OIDC RP-Initiated §2)."""
    if not id_token_hint:
        return None
    try:
        claims = _verifier(issuer, audience=client_id, expired=id_token_hint).verify(id_token_hint)
    except AuthError:
        return None
    sid = claims.get("sid")
    return sid if isinstance(sid, str) else None

