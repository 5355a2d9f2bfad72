"""FastAPI: a security dependency (``Depends`` / ``Security`` with ``SecurityScopes``) and error handler.

::

    app = FastAPI()
    install_error_handlers(app)           # our RFC 6750 answers, not {"detail": ...}
    auth = JwtBearer(verifier)            # an HTTP bearer security scheme in the OpenAPI document

    @app.get("/shows")
    async def shows(identity: IdentityContext = Security(auth, scopes=["read:shows"])): ...

Modelled on FastAPI's ``fastapi/security/http.py`` (``HTTPBearer``: a ``SecurityBase`` whose ``model``
is the OpenAPI scheme, ``auto_error=False`` for optional auth), with our header rules
(:mod:`serverless_jwt.bearer`) and :class:`~serverless_jwt.async_verifier.AsyncVerifier`, so a cold key
fetch never blocks the event loop. Sync and async endpoints alike receive the identity.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of JwtBearer.__call__ and
# NetlifySignature.__call__ at run time, and before 0.123.7 it resolved text annotations only through a
# function's __globals__, which a dependency instance has not: `request` and `security_scopes` became
# required query parameters and every request got a 422.

import json
from collections.abc import Collection, Sequence
from typing import Any

from serverless_jwt._extras import requires

with requires("fastapi", "The FastAPI integration (serverless_jwt.adapters.fastapi)"):
    from fastapi import FastAPI, HTTPException
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import JSONResponse
    from starlette.websockets import WebSocket, WebSocketState

from serverless_jwt import authz
from serverless_jwt._rejections import log_rejection
from serverless_jwt.adapters._headers import realm_text
from serverless_jwt.adapters._request import RequestAuthenticator
from serverless_jwt.adapters.identity import IdentityContext, TokenVerifier
from serverless_jwt.async_verifier import AsyncVerifier
from serverless_jwt.errors import AuthError

__all__ = ["AuthHTTPException", "JwtBearer", "NetlifySignature", "auth_error_handler",
           "install_error_handlers"]


class AuthHTTPException(HTTPException):
    """An :class:`AuthError` on its way to the response, with its status and ``WWW-Authenticate``.

    With :func:`install_error_handlers` the body is the RFC 6750 JSON object itself; without it,
    FastAPI's default handler still sends the right status and headers, with the body under ``detail``.
    """

    def __init__(self, error: AuthError, realm: str | None = None) -> None:
        shaped = error.response(realm)
        super().__init__(shaped.status, detail=shaped.body, headers=shaped.headers)
        self.error = error
        self.realm = realm


_AUTH = "serverless_jwt_auth"
_POLICY_VIOLATION = 1008  # WebSocket close code (RFC 6455 §7.4.1); servers answer the handshake 403


class _ErrorBody(JSONResponse):
    """The RFC 6750 body serialized as every other entry point serializes it (``json.dumps``): one
    refusal is the same bytes from FastAPI as from the ASGI/WSGI middleware, Flask and Lambda."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content).encode("utf-8")


async def auth_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The response for an :class:`AuthHTTPException` or an ``AuthError`` a route raised itself."""
    if isinstance(exc, AuthHTTPException):
        shaped = exc.error.response(exc.realm)
    elif isinstance(exc, AuthError):
        # The realm (and issuer, for the log) of the dependency that let this request in: the route's
        # own refusal says the same, and is logged once, as the dependency's refusals are.
        auth: RequestAuthenticator | None = getattr(request.state, _AUTH, None)
        log_rejection(exc, issuer=None if auth is None else auth.issuer)
        shaped = exc.response(None if auth is None else auth.realm)
    else:  # registered for our two types only
        raise exc
    return _ErrorBody(shaped.body, status_code=shaped.status, headers=shaped.headers)


async def _answer(conn: Any, exc: Exception) -> Any:
    # What install_error_handlers registers. A WebSocket handshake (Starlette passes the WebSocket) gets
    # the same response where the server lets an app answer it as HTTP (ASGI's websocket.http.response
    # extension), sent here: Starlette before 0.41 drops what a websocket handler returns, and the
    # server then answered the handshake 500. Elsewhere a response would be messages the server does
    # not know, an error instead of a refusal: close with 1008, which the server sends as a bare 403,
    # as JwtMiddleware does; so does a Starlette without send_denial_response (before 0.37), whose
    # WebSocket refuses those messages. Once the route has accepted the socket, servers take only send
    # and close: 1008 too, whatever the server.
    response = await auth_error_handler(conn, exc)
    if not isinstance(conn, WebSocket):
        return response
    deny = getattr(conn, "send_denial_response", None)
    if (conn.application_state is WebSocketState.CONNECTING and callable(deny)
            and "websocket.http.response" in (conn.scope.get("extensions") or {})):
        await deny(response)
    elif conn.application_state in (WebSocketState.CONNECTING, WebSocketState.CONNECTED):
        await conn.close(_POLICY_VIOLATION)
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Answer auth failures with our status, ``WWW-Authenticate`` and body (not wrapped in ``detail``).

    Registers :func:`auth_error_handler`'s answers for :class:`AuthHTTPException` and ``AuthError``
    (a refused WebSocket handshake gets that answer where the server takes one, and is closed with 1008
    elsewhere, or under a Starlette before 0.37, which cannot send one; so is a socket the route refuses
    after accepting it); register your own handler for either
    afterwards to shape the answers yourself.
    """
    app.add_exception_handler(AuthHTTPException, _answer)
    app.add_exception_handler(AuthError, _answer)


class JwtBearer(SecurityBase):
    """A FastAPI dependency: the verified caller as an :class:`IdentityContext`.

    The identity is what the dependency returns (also ``request.state.identity``). It does not set
    ``current_identity()``: a plain dependency could not reset it when the request ends.

    Parameters
    ----------
    verifier:
        A ``Verifier`` (or ``MultiIssuerVerifier``, ``AsyncVerifier``, any ``verify(token)``);
        ``None`` builds one now with ``Verifier.from_env()``.
    scopes, roles:
        Required for every route using this dependency; ``Security(auth, scopes=[...])`` adds more per
        route (FastAPI's ``SecurityScopes``).
    optional:
        Serve anonymous callers: no bearer credentials -> ``None`` instead of a 401; a bad token is
        still refused, and a route that demands scopes still needs a token.
    cookie_name:
        Also read the token from this cookie (``"nf_jwt"`` behind Netlify); the header wins.
    realm, claims_mapper, roles_claim:
        As for ``require_auth``.
    scheme_name, description, bearer_format:
        How the scheme appears in the OpenAPI document.

    Raises
    ------
    ConfigurationError
        For unusable settings, at construction.

    Examples
    --------
    >>> auth = JwtBearer(Verifier.from_env())                                     # doctest: +SKIP
    >>> @app.get("/me")                                                           # doctest: +SKIP
    ... def me(identity: IdentityContext = Depends(auth)) -> dict:
    ...     return {"claims": identity.claims}
    """

    def __init__(self, verifier: TokenVerifier | AsyncVerifier | None = None, *,
                 scopes: Collection[str] = (), roles: Collection[str] = (), optional: bool = False,
                 cookie_name: str | None = None, realm: str | None = None,
                 claims_mapper: authz.ClaimsMapper | None = None,
                 roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
                 scheme_name: str | None = None, description: str | None = None,
                 bearer_format: str = "JWT") -> None:
        self._auth = RequestAuthenticator(verifier, realm=realm, cookie_name=cookie_name,
                                          claims_mapper=claims_mapper, roles_claim=roles_claim,
                                          scopes=scopes, roles=roles)
        self._optional = bool(optional)
        self.model = HTTPBearerModel(bearerFormat=bearer_format, description=description)
        self.scheme_name = scheme_name or type(self).__name__

    def __repr__(self) -> str:
        return f"JwtBearer(verifier={self._auth.verifier!r}, optional={self._optional})"

    async def __call__(self, request: HTTPConnection,
                       security_scopes: SecurityScopes) -> IdentityContext | None:
        extra = self._auth.route_checks(security_scopes.scopes) if security_scopes.scopes else ()
        try:
            identity = await self._auth.identity_async(request.headers.raw, extra, optional=self._optional)
        except AuthError as err:
            self._auth.rejected(err)
            raise AuthHTTPException(err, self._auth.realm) from None
        request.state.identity = identity
        setattr(request.state, _AUTH, self._auth)
        return identity


class NetlifySignature:
    """A FastAPI dependency refusing requests that did not come through Netlify's signed proxy.

    Checks ``x-nf-sign`` (see :mod:`serverless_jwt.netlify`) and returns its claims.

    Examples
    --------
    >>> signed = NetlifySignature(os.environ["NF_PROXY_SECRET"])                  # doctest: +SKIP
    >>> app = FastAPI(dependencies=[Depends(signed)])                             # doctest: +SKIP
    """

    def __init__(self, secret: str | bytes | Sequence[str | bytes], *, realm: str | None = None,
                 **options: Any) -> None:
        from serverless_jwt.netlify import signature_verifier

        self._verifier = signature_verifier(secret, **options)
        self._realm = realm_text(realm)

    async def __call__(self, request: HTTPConnection) -> dict[str, Any]:
        from serverless_jwt.netlify import signature_from_headers

        try:
            # An HS256 check against a configured secret: no I/O, so it runs inline.
            return signature_from_headers(request.headers.raw, self._verifier)
        except AuthError as err:
            log_rejection(err, issuer="netlify")  # x-nf-sign tokens' fixed iss
            raise AuthHTTPException(err, self._realm) from None
