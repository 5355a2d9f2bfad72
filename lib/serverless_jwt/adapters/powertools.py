"""Powertools Event Handler middleware (the only module that imports Powertools; loaded lazily).

Works with ``APIGatewayRestResolver``, ``APIGatewayHttpResolver``, ``ALBResolver`` and
``LambdaFunctionUrlResolver``, per route or for the whole app::

    app = APIGatewayHttpResolver()
    auth = JwtAuthMiddleware(verifier)

    @app.get("/me", middlewares=[auth])
    def me():
        return {"sub": app.context["identity"].subject}

    @app.delete("/shows/<id>", middlewares=[JwtAuthMiddleware(verifier, scopes=["delete:shows"])])
    def delete_show(id: str): ...
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from serverless_jwt._extras import requires

with requires("powertools", "The Powertools Event Handler middleware (JwtAuthMiddleware)"):
    from aws_lambda_powertools.event_handler import ApiGatewayResolver, Response
    from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware

from serverless_jwt import authz
from serverless_jwt._rejections import log_rejection
from serverless_jwt.adapters._auth import _Authenticator, _role_check, _scope_check, public_path_set
from serverless_jwt.adapters.events import is_preflight
from serverless_jwt.adapters.identity import IdentityContext, TokenVerifier, _current
from serverless_jwt.errors import AuthError, ConfigurationError, MissingTokenError

__all__ = ["JwtAuthMiddleware"]


def _resolvers_own_answer(route: Any) -> bool:
    # A preflight no route of the app matched: Powertools answers it from its CORS configuration
    # (its not-found handler), running no code of the app's.
    name = getattr(getattr(route, "func", None), "__qualname__", "")
    return isinstance(name, str) and "._handle_not_found" in name


class JwtAuthMiddleware(BaseMiddlewareHandler[ApiGatewayResolver]):
    """Verify the bearer token, check scopes/roles, and put the caller on ``app.context["identity"]``
    (and on ``current_identity()`` / ``identity_of()``) while the route runs.

    Parameters
    ----------
    verifier:
        A configured ``Verifier``; ``None`` builds one now with ``Verifier.from_env()`` (with
        ``trust_authorizer``: none, only the authorizer's claims count).
    scopes, roles:
        Required scopes / roles for the routes this middleware guards (all of them).
    roles_claim:
        Where roles are read (default Netlify's ``app_metadata.authorization.roles``).
    realm:
        ``realm`` sent in ``WWW-Authenticate``.
    allow_preflight:
        CORS preflight requests (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
        carry no credentials. ``True`` (default): the resolver's own preflight answer (its CORS
        configuration) goes out without a token, but a route of yours registered for ``OPTIONS``
        still needs one (else any request shaped like a preflight would run it anonymously);
        ``"handler"``: preflights reach your ``OPTIONS`` routes too, with no identity; ``False``:
        every request needs a token.
    cookie_name:
        Also read the token from this cookie (off by default; the header wins).
    trust_authorizer:
        Take claims from ``requestContext.authorizer`` (API Gateway JWT, Cognito or Lambda authorizer)
        without verifying them, as ``require_auth(trust_authorizer=True)`` does. Only for apps
        reachable solely behind such an authorizer.
    claims_mapper:
        Rewrite claims before scopes, roles and the route see them.
    public_paths:
        Route paths, as registered (``"/health"``, ``"/shows/<id>"``), that skip authentication
        when the middleware is installed for the whole app with ``app.use``. A router included with
        ``prefix="/v1"`` registers its ``/health`` as ``"/v1/health"``.
    context_key:
        Key of the :class:`~serverless_jwt.adapters.decorators.IdentityContext` in ``app.context``.
    on_error:
        ``on_error(err) -> Response`` to shape error responses yourself.
    logger:
        A Powertools ``Logger``: the caller's ``subject`` and ``client_id`` (never the token) are
        appended to its keys while the route runs and removed afterwards, and the one structured line
        per rejected request goes there (a ``logging.Logger`` gets only that line; default: the
        ``serverless_jwt`` logger of ``logging``).
    optional:
        Serve anonymous callers too: no bearer credentials -> the route runs with
        ``app.context["identity"]`` unset (``None`` from ``.get``); a bad token is still refused.

    Examples
    --------
    >>> from aws_lambda_powertools.event_handler import APIGatewayRestResolver   # doctest: +SKIP
    >>> app = APIGatewayRestResolver()                                           # doctest: +SKIP
    >>> app.use([JwtAuthMiddleware(verifier, public_paths=["/health"])])        # doctest: +SKIP
    """

    def __init__(
        self,
        verifier: TokenVerifier | None = None,
        *,
        scopes: Collection[str] = (),
        roles: Collection[str] = (),
        roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
        realm: str | None = None,
        allow_preflight: bool | Literal["handler"] = True,
        cookie_name: str | None = None,
        trust_authorizer: bool = False,
        claims_mapper: authz.ClaimsMapper | None = None,
        public_paths: Collection[str] = (),
        context_key: str = "identity",
        on_error: Callable[[AuthError], Response[Any]] | None = None,
        logger: Any = None,
        optional: bool = False,
    ) -> None:
        super().__init__()
        checks: list[Callable[[IdentityContext], None]] = []
        if scopes:
            checks.append(_scope_check(authz.validate_names(scopes, "scope"), any_of=False))
        if roles:
            checks.append(_role_check(authz.validate_names(roles, "role"), None, any_of=False))
        self._auth = _Authenticator(
            verifier, realm=realm, cookie_name=cookie_name, allow_preflight=allow_preflight,
            trust_authorizer=trust_authorizer, netlify_client_context=False, claims_mapper=claims_mapper,
            roles_claim=roles_claim, on_error=None, logger=logger, error_headers=None, checks=checks,
            optional=optional,
        )
        if on_error is not None and not callable(on_error):
            raise ConfigurationError("on_error must be callable")
        if not isinstance(context_key, str) or not context_key:  # else a TypeError on every request
            raise ConfigurationError("context_key must be a non-empty string")
        self._public = public_path_set(public_paths)
        self._key = context_key
        self._on_error = on_error

    def __repr__(self) -> str:
        return f"JwtAuthMiddleware(verifier={self._auth.verifier!r}, realm={self._auth.realm!r})"

    def _failure(self, err: AuthError) -> Response[Any]:
        log_rejection(err, issuer=self._auth.issuer, logger=self._auth.logger)
        if self._on_error is not None:
            return self._on_error(err)
        shaped = err.response(self._auth.realm)
        headers = {k: v for k, v in shaped.headers.items() if k != "Content-Type"}
        return Response(
            status_code=shaped.status,
            content_type=shaped.headers["Content-Type"],
            body=json.dumps(shaped.body),
            headers=headers,
        )

    def handler(self, app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
        """Authenticate and authorize, then call the route (or answer the error response).

        Parameters
        ----------
        app:
            The resolver handling the request.
        next_middleware:
            The next middleware or the route handler.
        """
        raw: Mapping[str, Any] = app.current_event.raw_event
        auth, context = self._auth, app.context
        # The raw event, as require_auth reads it: the data class's `headers` builds a new
        # case-insensitive dict on every access.
        if auth.preflight and is_preflight(raw):
            if _resolvers_own_answer(context.get("_route")):
                return next_middleware(app)  # CORS preflight carries no credentials by design
            if auth.preflight == "handler":  # the app's OPTIONS route, asked for: no identity
                context[self._key] = None
                try:
                    return next_middleware(app)
                finally:
                    app.context.pop(self._key, None)
        if self._public and getattr(context.get("_route"), "path", None) in self._public:
            return next_middleware(app)
        try:
            # Credentials are read from the raw event, not the data class: its case-insensitive dict
            # keeps one of two "Authorization"/"authorization" keys, hiding a duplicate RFC 6750 rejects.
            identity = auth.identity(raw)
            for check in auth.checks:
                check(identity)
        except AuthError as err:
            if not auth.optional or type(err) is not MissingTokenError:
                return self._failure(err)
            identity = None
        if identity is None:
            # Anonymous: the route decides what to show. Called here, after the except clause, so the
            # route never finds the MissingTokenError in sys.exc_info(), nor is its own error chained to it.
            try:
                return next_middleware(app)
            except AuthError as refused:
                return self._failure(refused)
        # What app.append_context(**{key: identity}) does, without building two dicts per request.
        context[self._key] = identity
        logger = auth.keys_logger
        if logger is not None:  # the caller on every line the route logs, as require_auth does
            logger.append_keys(subject=identity.subject, client_id=identity.client_id)
        reset = _current.set(identity)  # current_identity() / identity_of() in the route, as elsewhere
        try:
            return next_middleware(app)
        except AuthError as err:  # a route may check further (authz.check_scopes) and raise
            if logger is not None:  # the rejection line carries no value taken from the token
                logger.remove_keys(["subject", "client_id"])
            return self._failure(err)
        finally:
            # Resolvers clear context after resolve(); pop here too so a raising route leaks nothing.
            _current.reset(reset)
            app.context.pop(self._key, None)
            if logger is not None:
                logger.remove_keys(["subject", "client_id"])
