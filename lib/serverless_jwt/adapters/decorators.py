"""Decorators for ``handler(event, context)``: authenticate, then authorize, then call the handler.

::

    @require_auth(verifier)                 # token -> verified claims -> context.identity_context
    @require_scope("read:shows")            # 403 insufficient_scope unless granted
    def handler(event, context):
        return {"statusCode": 200, "body": context.identity_context.subject}

Every :class:`~serverless_jwt.errors.AuthError` (from extraction, verification, the authorization
decorators or the handler itself) becomes the proxy response of the event's source.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal, ParamSpec, Protocol, TypeVar, overload

from serverless_jwt import authz
from serverless_jwt.adapters._auth import (
    _AUTHENTICATES,
    _AUTHORIZES,
    PREFLIGHT_TO_HANDLER,
    ErrorHook,
    Response,
    _Authenticator,
    _event_context,
    _log,
    _role_check,
    _scope_check,
    refuse_coroutine,
)
from serverless_jwt.adapters._headers import realm_text
from serverless_jwt.adapters.events import error_response, is_preflight, preflight_response
from serverless_jwt.adapters.identity import IdentityContext, TokenVerifier, _current, current_identity
from serverless_jwt.errors import AuthError, ConfigurationError, ForbiddenError, MissingTokenError

__all__ = [
    "Decorator",
    "IdentityContext",
    "TokenVerifier",
    "current_identity",
    "require_auth",
    "require_claims",
    "require_role",
    "require_scope",
]

P = ParamSpec("P")
R = TypeVar("R")


class Decorator(Protocol):
    """What the decorator factories return: keeps the handler's parameters, adds the error response."""

    def __call__(self, handler: Callable[P, R], /) -> Callable[P, R | Response]: ...


@overload
def require_auth(handler: Callable[P, R], /) -> Callable[P, R | Response]: ...
@overload
def require_auth(
    verifier: TokenVerifier | None = None, /, *, realm: str | None = ..., cookie_name: str | None = ...,
    allow_preflight: bool | Literal["handler"] = ..., trust_authorizer: bool = ...,
    netlify_client_context: bool = ...,
    claims_mapper: authz.ClaimsMapper | None = ..., roles_claim: authz.ClaimPath = ...,
    scopes: Collection[str] = ..., roles: Collection[str] = ..., on_error: ErrorHook | None = ...,
    logger: Any = ..., error_headers: Mapping[str, str] | None = ..., optional: bool = ...,
) -> Decorator: ...
def require_auth(
    verifier: Any = None, /, *, realm: str | None = None, cookie_name: str | None = None,
    allow_preflight: bool | Literal["handler"] = True, trust_authorizer: bool = False,
    netlify_client_context: bool = False,
    claims_mapper: authz.ClaimsMapper | None = None, roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
    scopes: Collection[str] = (), roles: Collection[str] = (), on_error: ErrorHook | None = None,
    logger: Any = None, error_headers: Mapping[str, str] | None = None, optional: bool = False,
) -> Any:
    """Require a valid bearer token; the handler finds the caller on ``context.identity_context``.

    Parameters
    ----------
    verifier:
        A configured ``Verifier`` (or any :class:`TokenVerifier`). ``None``: built once, now, with
        ``Verifier.from_env()``. ``@require_auth`` without parentheses does the same.
    realm:
        ``realm`` sent in ``WWW-Authenticate``.
    cookie_name:
        Also read the token from this cookie (``"nf_jwt"`` for Netlify Identity); the header wins.
    allow_preflight:
        CORS preflight requests (``OPTIONS`` + ``Origin`` + ``Access-Control-Request-Method``) carry
        no token. ``True`` (default): answer them ``204`` with ``error_headers`` (your CORS headers)
        without running the handler. ``"handler"``: pass them to the handler, which then sees
        ``identity_context = None`` and must answer them itself. ``False``: require a token.
    trust_authorizer:
        Take claims from ``requestContext.authorizer`` (API Gateway JWT, Cognito or Lambda authorizer)
        without verifying them. Only for functions reachable solely behind such an authorizer.
    netlify_client_context:
        Also set ``context.client_context = {"user": claims, "identity": {"url": iss}}`` as Netlify
        functions see it.
    claims_mapper:
        Rewrite claims before scopes, roles and the handler see them (see :mod:`serverless_jwt.authz`).
    roles_claim:
        Where roles are read (default Netlify's ``app_metadata.authorization.roles``).
    scopes, roles:
        Shortcut for :func:`require_scope` / :func:`require_role` (all of them required).
    on_error:
        ``on_error(event, err) -> response`` to shape error responses yourself.
    logger:
        A Powertools ``Logger`` (``subject`` and ``client_id`` are appended for the request and removed
        afterwards) or a ``logging.Logger`` (rejection lines only). The token is never logged.
    error_headers:
        Headers added to every error response (e.g. ``Access-Control-Allow-Origin``).
    optional:
        Serve anonymous callers too: a request with no bearer credentials reaches the handler with
        ``identity_context = None`` (and ``current_identity()`` ``None``); a bad token is still refused.
        A ``require_scope`` / ``require_role`` / ``require_claims`` below still demands a token.

    Raises
    ------
    ConfigurationError
        At decoration time, for unusable settings (never per request), such as ``optional=True``
        together with ``scopes`` or ``roles``.

    Examples
    --------
    >>> import secrets
    >>> from serverless_jwt.verifier import Verifier
    >>> @require_auth(Verifier(secrets=[secrets.token_bytes(32)], algorithms=["HS256"]))
    ... def handler(event, context):
    ...     return {"statusCode": 200, "body": context.identity_context.subject}
    >>> handler({"headers": {}}, None)["statusCode"]
    401
    """
    if callable(verifier) and not hasattr(verifier, "verify"):
        return require_auth()(verifier)  # used bare: @require_auth
    return _authenticate(
        verifier, realm=realm, cookie_name=cookie_name, allow_preflight=allow_preflight,
        trust_authorizer=trust_authorizer, netlify_client_context=netlify_client_context,
        claims_mapper=claims_mapper, roles_claim=roles_claim, scopes=scopes, roles=roles,
        on_error=on_error, logger=logger, error_headers=error_headers, optional=optional,
    )


def _authenticate(
    verifier: TokenVerifier | None, *, realm: str | None = None, cookie_name: str | None = None,
    allow_preflight: bool | Literal["handler"] = True, trust_authorizer: bool = False,
    netlify_client_context: bool = False,
    claims_mapper: authz.ClaimsMapper | None = None, roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
    scopes: Collection[str] = (), roles: Collection[str] = (), on_error: ErrorHook | None = None,
    logger: Any = None, error_headers: Mapping[str, str] | None = None,
    token_source: Callable[[Mapping[str, Any]], str] | None = None, optional: bool = False,
) -> Decorator:
    # require_auth's body, shared with modes that read their token from another header (ALB).
    checks: list[Callable[[IdentityContext], None]] = []
    if scopes:
        checks.append(_scope_check(authz.validate_names(scopes, "scope"), any_of=False))
    if roles:
        checks.append(_role_check(authz.validate_names(roles, "role"), None, any_of=False))
    auth = _Authenticator(
        verifier, realm=realm, cookie_name=cookie_name, allow_preflight=allow_preflight,
        trust_authorizer=trust_authorizer, netlify_client_context=netlify_client_context,
        claims_mapper=claims_mapper, roles_claim=roles_claim, on_error=on_error, logger=logger,
        error_headers=error_headers, checks=checks, token_source=token_source, optional=optional,
    )
    return auth.wrap


def _authorizing(name: str, check: Callable[[IdentityContext], None], verifier: TokenVerifier | None,
                 realm: str | None) -> Decorator:
    realm = realm_text(realm)

    def decorate(handler: Callable[P, R]) -> Callable[P, R | Response]:
        if getattr(handler, _AUTHENTICATES, False):
            raise ConfigurationError(f"{name} must be placed under require_auth, not above it")
        refuse_coroutine(handler)
        alone = None
        if verifier is not None:
            alone = _Authenticator(
                verifier, realm=realm, cookie_name=None, allow_preflight=True, trust_authorizer=False,
                netlify_client_context=False, claims_mapper=None, roles_claim=authz.DEFAULT_ROLES_PATH,
                on_error=None, logger=None, error_headers=None, checks=(check,),
            ).wrap(handler)

        @functools.wraps(handler)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            identity = _current.get()
            if identity is None:
                if PREFLIGHT_TO_HANDLER.get() and is_preflight(_event_context(args, kwargs)[0]):
                    return handler(*args, **kwargs)  # require_auth(allow_preflight="handler") above
                # Not under require_auth: authenticate here when we can, else answer 401 (never 500).
                if alone is not None:
                    return alone(*args, **kwargs)
                event, _ = _event_context(args, kwargs)
                if is_preflight(event):
                    return preflight_response(event)
                _log.warning("%s used without require_auth or verifier=; answering 401", name)
                return error_response(event, MissingTokenError(), realm=realm)
            check(identity)  # raises AuthError; require_auth above turns it into the response
            return handler(*args, **kwargs)

        if alone is not None:
            setattr(wrapper, _AUTHENTICATES, True)
        # Lets a require_auth directly above run the check inline (and skip this layer).
        setattr(wrapper, _AUTHORIZES, (check, handler, wrapper))
        return wrapper

    return decorate


@overload
def require_scope(*scopes: str, any_of: bool = False, verifier: TokenVerifier | None = None,
                  realm: str | None = None) -> Decorator: ...


@overload
def require_scope(scope: str, handler: Callable[P, R], /, *, any_of: bool = False,
                  verifier: TokenVerifier | None = None,
                  realm: str | None = None) -> Callable[P, R | Response]: ...


def require_scope(*scopes: Any, any_of: bool = False, verifier: TokenVerifier | None = None,
                  realm: str | None = None) -> Any:
    """Require scopes (``scope``, ``scp`` or ``permissions``; exact, case-sensitive).

    Place it under :func:`require_auth`. With ``verifier=`` it also works alone. The JavaScript
    library's two-argument form, ``require_scope("read:shows", handler)``, wraps ``handler`` at once.

    Raises
    ------
    ConfigurationError
        At decoration: no scope, a malformed scope name, or placed above ``require_auth``.

    Examples
    --------
    >>> @require_scope("read:shows", "read:episodes", any_of=True)
    ... def handler(event, context): ...
    """
    handler = scopes[-1] if scopes and callable(scopes[-1]) else None
    if handler is not None:
        scopes = scopes[:-1]
    names = authz.validate_names(scopes, "scope")
    decorator = _authorizing("require_scope", _scope_check(names, any_of=any_of), verifier, realm)
    return decorator if handler is None else decorator(handler)


def require_role(*roles: str, claim: authz.ClaimPath | None = None, any_of: bool = False,
                 verifier: TokenVerifier | None = None, realm: str | None = None) -> Decorator:
    """Require roles (403 ``forbidden`` otherwise).

    Parameters
    ----------
    roles:
        Role names, exact and case-sensitive; all required unless ``any_of``.
    claim:
        Read roles here instead of ``require_auth``'s ``roles_claim`` (e.g. ``"cognito:groups"``,
        ``"https://example.com/roles"`` or ``("realm_access", "roles")``).

    Examples
    --------
    >>> @require_role("admins", claim="cognito:groups")
    ... def handler(event, context): ...
    """
    names = authz.validate_names(roles, "role")
    path = None if claim is None else authz.validate_claim_path(claim, "claim")
    return _authorizing("require_role", _role_check(names, path, any_of=any_of), verifier, realm)


def require_claims(check: Callable[[Mapping[str, Any]], bool], *,
                   description: str = ForbiddenError.default_description,
                   verifier: TokenVerifier | None = None, realm: str | None = None) -> Decorator:
    """Require ``check(claims)`` to return ``True`` (403 ``forbidden`` with ``description`` otherwise).

    A check that raises an AuthError answers with that error; any other exception counts as a refusal
    (a missing claim in ``claims["org"]`` is a 403, not a 500).

    Examples
    --------
    >>> @require_claims(lambda c: c.get("email_verified") is True, description="Verify your email")
    ... def handler(event, context): ...
    """
    if not callable(check):
        raise ConfigurationError("require_claims needs a callable check")

    def run(identity: IdentityContext) -> None:
        try:
            ok = check(identity.claims)
        except AuthError:
            raise
        except Exception as exc:
            _log.warning("require_claims check raised %s; refusing", type(exc).__name__)
            raise ForbiddenError(description) from None
        if ok is not True:
            raise ForbiddenError(description)

    return _authorizing("require_claims", run, verifier, realm)
