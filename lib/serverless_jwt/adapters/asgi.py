"""ASGI middleware (Starlette, FastAPI, Quart, Litestar... any ASGI 3 app): authenticate every request.

::

    app = Starlette(routes=[...], middleware=[Middleware(JwtMiddleware, verifier=verifier,
                                                         public_paths=["/health"])])

    async def me(request):
        return JSONResponse({"claims": request.state.identity.claims})

    @requires("read:shows")                  # starlette.authentication.requires
    async def shows(request):
        return JSONResponse({"for": request.user.display_name})

Pure ASGI, so it imports no framework: it reads ``scope["headers"]``, verifies with
:class:`~serverless_jwt.async_verifier.AsyncVerifier` (a cold key fetch never blocks the loop) and
puts the identity on ``scope["state"]["identity"]`` (Starlette's ``request.state.identity``) and on
:func:`~serverless_jwt.adapters.identity.current_identity` for the rest of the request. A failure is
answered here with our status, ``WWW-Authenticate`` and RFC 6750 body. Modelled on Starlette's
``middleware/authentication.py``, without its ``on_error`` default that echoes the exception text.

It also sets the two keys Starlette's ``AuthenticationMiddleware`` would, ``scope["user"]`` and
``scope["auth"]``: one :class:`TokenUser` for both, or an :class:`AnonymousUser` where no caller is
known and no middleware outside this one set them. So ``request.user``, ``request.auth.scopes`` and
``@requires(...)`` work as Starlette's documentation shows them, ``@requires("authenticated")``
included. ``@requires`` answers a missing scope with Starlette's own 403 (``Forbidden``, no
``WWW-Authenticate``); ``JwtMiddleware(scopes=...)``, on the app or on a ``Route``/``Mount`` through
its ``middleware=``, gives the RFC 6750 ``insufficient_scope`` answer. Not an
``AuthenticationBackend``: under that middleware a backend either lets a request without a token
through as anonymous (then only ``@requires`` refuses it, with a bare 403 where RFC 6750 wants a 401
and ``WWW-Authenticate: Bearer``) or refuses it on every path, public ones and CORS preflights
included, and a refused WebSocket gets a normal closure (1000). The classes have the shape of
``starlette.authentication``'s ``BaseUser`` and ``AuthCredentials`` without subclassing them (that
would import Starlette here).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping
from typing import Any

from serverless_jwt import authz
from serverless_jwt.adapters._auth import public_path_set
from serverless_jwt.adapters._request import RequestAuthenticator
from serverless_jwt.adapters.identity import IdentityContext, TokenVerifier, _current
from serverless_jwt.async_verifier import AsyncVerifier
from serverless_jwt.bearer import _text
from serverless_jwt.errors import AuthError, MissingTokenError

__all__ = ["AnonymousUser", "JwtMiddleware", "TokenUser"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_POLICY_VIOLATION = 1008  # WebSocket close code (RFC 6455 §7.4.1); servers answer the handshake 403


class TokenUser:
    """``request.user`` and ``request.auth`` for a verified caller (one object, set under both keys).

    Starlette's ``BaseUser`` interface (``is_authenticated``, ``identity``, ``display_name``) and
    ``AuthCredentials``' (``scopes``). One object rather than two: each costs an allocation on every
    request, used or not.

    Attributes
    ----------
    is_authenticated:
        ``True``.
    identity:
        ``sub``, else the client id (``azp``/``client_id``/``cid``), else ``""``.
    display_name:
        The ``name`` claim, else ``preferred_username``, else :attr:`identity` (an access token
        rarely carries a name).
    scopes:
        ``"authenticated"`` (the pseudo-scope Starlette's documentation grants every signed-in user,
        for ``@requires("authenticated")``), then the token's scopes, sorted: a new list on each
        access, so changing it changes no later check.
    identity_context:
        The :class:`~serverless_jwt.adapters.identity.IdentityContext` (also ``request.state.identity``).
    """

    __slots__ = ("identity_context",)
    is_authenticated = True

    def __init__(self, identity: IdentityContext) -> None:
        self.identity_context = identity

    @property
    def identity(self) -> str:
        return self.identity_context.subject or self.identity_context.client_id or ""

    @property
    def display_name(self) -> str:
        claims = self.identity_context.claims
        for name in ("name", "preferred_username"):
            value = claims.get(name)
            if isinstance(value, str) and value:
                return value
        return self.identity

    @property
    def scopes(self) -> list[str]:
        return ["authenticated", *sorted(self.identity_context.scopes - {"authenticated"})]

    def __repr__(self) -> str:
        return f"TokenUser(identity={self.identity!r})"


class AnonymousUser:
    """``request.user`` and ``request.auth`` for an anonymous caller (``optional=True``, public paths,
    preflights): not authenticated, ``""`` for names, no scopes."""

    __slots__ = ()
    is_authenticated = False
    display_name = ""
    identity = ""
    identity_context = None

    @property
    def scopes(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        return "AnonymousUser()"


_ANONYMOUS = AnonymousUser()  # nothing in it to change: shared


class JwtMiddleware:
    """Require a valid bearer token for every HTTP and WebSocket request, except ``public_paths``.

    Parameters
    ----------
    app:
        The ASGI application to protect.
    verifier:
        A ``Verifier`` (or ``MultiIssuerVerifier``, ``AsyncVerifier``, any ``verify(token)``);
        ``None`` builds one now with ``Verifier.from_env()``.
    scopes, roles:
        Required of every caller (all of them).
    optional:
        Serve anonymous callers too (``identity`` is then ``None``); a bad token is still refused.
    public_paths:
        Exact route paths served without authentication (``"/health"``): ``scope["path"]`` without
        the ``root_path`` (a proxy prefix, a mount point).
    allow_preflight:
        Pass CORS preflights (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) to the
        app unauthenticated, for its CORS middleware to answer (default ``True``). Only a CORS answer
        (``Access-Control-Allow-*`` headers) goes back; anything else (a handler that serves every
        method) is replaced by the 401 of a request without a token, and the identity is ``None``.
    cookie_name, realm, claims_mapper, roles_claim:
        As for ``require_auth``.
    error_headers:
        Headers added to every refusal (401/400/403/503), never replacing its own: e.g.
        ``{"Access-Control-Allow-Origin": "https://app.example"}`` when CORS is answered inside this
        middleware, so a browser can read the 401. A ``CORSMiddleware`` outside it needs none.

    Raises
    ------
    ConfigurationError
        For unusable settings, at construction.
    """

    def __init__(self, app: ASGIApp, verifier: TokenVerifier | AsyncVerifier | None = None, *,
                 scopes: Collection[str] = (), roles: Collection[str] = (), optional: bool = False,
                 public_paths: Collection[str] = (), allow_preflight: bool = True,
                 cookie_name: str | None = None, realm: str | None = None,
                 claims_mapper: authz.ClaimsMapper | None = None,
                 roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
                 error_headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        self._auth = RequestAuthenticator(verifier, realm=realm, cookie_name=cookie_name,
                                          claims_mapper=claims_mapper, roles_claim=roles_claim,
                                          scopes=scopes, roles=roles, error_headers=error_headers)
        self._optional = bool(optional)
        self._public = public_path_set(public_paths)
        self._preflight = bool(allow_preflight)

    def __repr__(self) -> str:
        return f"JwtMiddleware(verifier={self._auth.verifier!r}, optional={self._optional})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._public and _route_path(scope) in self._public:
            # As on any anonymous request, unless a middleware outside this one has set the caller.
            scope.setdefault("state", {}).setdefault("identity", None)
            _anonymous(scope)
            await self.app(scope, receive, send)
            return
        if self._preflight and kind == "http" and _is_preflight(scope):
            await self._preflight_to_app(scope, receive, send)
            return
        try:
            identity = await self._auth.identity_async(scope.get("headers") or (), optional=self._optional)
        except AuthError as err:
            self._auth.rejected(err)
            if kind == "websocket" and "websocket.http.response" not in (scope.get("extensions") or {}):
                await send({"type": "websocket.close", "code": _POLICY_VIOLATION})  # a bare 403
            else:  # HTTP, or a handshake the server lets us answer as HTTP: 401/400/503 with headers
                await self._answer(err, send, "websocket.http" if kind == "websocket" else "http")
            return
        scope.setdefault("state", {})["identity"] = identity
        if identity is None:
            _anonymous(scope)
        else:
            scope["user"] = scope["auth"] = TokenUser(identity)
        reset = _current.set(identity)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(reset)

    async def _preflight_to_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # For the app's CORS middleware to answer. What comes back is held until it is whole and goes
        # out only if it is a preflight answer (2xx with Access-Control-Allow-Methods), and then
        # without its body, which a browser ignores for a preflight ("OK" from Starlette): no data
        # leaves. Anything else, even with a CORS header an app adds to every answer, is replaced by
        # the 401 of a request without a token.
        scope.setdefault("state", {})["identity"] = None
        _anonymous(scope)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            if message.get("type") == "http.response.start":
                held.append(message)  # the body is never sent: nothing of it is kept

        reset = _current.set(None)
        try:
            await self.app(scope, receive, hold)
        finally:
            _current.reset(reset)
        start = held[0] if held else None
        if start is not None and _is_preflight_answer(start):
            headers = [(k, v) for k, v in start.get("headers") or () if bytes(k).lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        err = MissingTokenError()
        self._auth.rejected(err)
        await self._answer(err, send)

    async def _answer(self, err: AuthError, send: Send, prefix: str = "http") -> None:
        shaped = self._auth.response(err)
        body = json.dumps(shaped.body).encode("utf-8")
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in shaped.headers.items()]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": f"{prefix}.response.start", "status": shaped.status, "headers": headers})
        await send({"type": f"{prefix}.response.body", "body": body})


def _anonymous(scope: Scope) -> None:
    # Unless a middleware outside this one (Starlette's AuthenticationMiddleware with a session
    # backend, say) has set the caller: an anonymous JWT request says nothing against it.
    if "user" not in scope:
        scope["user"] = _ANONYMOUS
    if "auth" not in scope:
        scope["auth"] = _ANONYMOUS


def _route_path(scope: Scope) -> str:
    # ASGI's path includes root_path (a --root-path proxy prefix, a Starlette Mount): the app's own
    # routes, and so public_paths, are what follows it.
    path, root = scope.get("path") or "", scope.get("root_path") or ""
    return path[len(root):] if root and path.startswith(root) else path


def _is_preflight_answer(start: Message) -> bool:
    status = start.get("status")
    names = {bytes(name).lower() for name, _ in start.get("headers") or ()}
    return isinstance(status, int) and 200 <= status < 300 and b"access-control-allow-methods" in names


def _is_preflight(scope: Scope) -> bool:
    if scope.get("method") != "OPTIONS":
        return False
    # Names as bearer.token_from_headers reads them (bytes-like or str): bytes("origin") would raise.
    names = {_text(name).lower() for name, _ in scope.get("headers") or ()}
    return "origin" in names and "access-control-request-method" in names
