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

import contextvars
import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, ParamSpec, Protocol, TypeVar, overload

from serverless_jwt import authz
from serverless_jwt.adapters.events import (
    authorizer_claims,
    bearer_token,
    error_response,
    is_preflight,
    preflight_response,
    validate_cookie_name,
)
from serverless_jwt.errors import AuthError, ConfigurationError, ForbiddenError, MissingTokenError, as_dict

# `dict` first: events and claims are plain dicts, and the ABC check costs ~10x an exact-type check.
_MAPPING = (dict, Mapping)

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
Response = dict[str, Any]
ErrorHook = Callable[[Mapping[str, Any], AuthError], Response]

_log = logging.getLogger("serverless_jwt")
_EMPTY: Mapping[str, Any] = {}
_AUTHENTICATES = "__serverless_jwt_authenticates__"


class Decorator(Protocol):
    """What the decorator factories return: keeps the handler's parameters, adds the error response."""

    def __call__(self, handler: Callable[P, R], /) -> Callable[P, R | Response]: ...


class TokenVerifier(Protocol):
    """Anything that turns a token into verified claims or raises an AuthError (e.g. ``Verifier``)."""

    def verify(self, token: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class IdentityContext:
    """Who is calling: what the handler finds on ``context.identity_context``.

    Attributes
    ----------
    claims:
        Verified claims (after the ``claims_mapper``, if any).
    token:
        The raw bearer token (``None`` when claims came from a trusted authorizer); never in ``repr``.
    subject, issuer, client_id:
        ``sub``, ``iss`` and ``azp``/``client_id`` when they are strings, else ``None``.
    scopes, roles:
        Granted scopes (``scope``/``scp``/``permissions``) and roles (at the configured path).
    source:
        ``"token"`` (verified here) or ``"authorizer"`` (taken from API Gateway's authorizer).
    """

    claims: Mapping[str, Any]
    token: str | None = field(repr=False)
    subject: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    issuer: str | None
    client_id: str | None = None
    source: Literal["token", "authorizer"] = "token"


_current: contextvars.ContextVar[IdentityContext | None] = contextvars.ContextVar(
    "serverless_jwt_identity", default=None
)


def current_identity() -> IdentityContext | None:
    """The identity of the request being handled under :func:`require_auth`, else ``None``.

    Useful when a handler passes no ``context`` down to the code that needs the caller.
    """
    return _current.get()


def _string(claims: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            return value
    return None


def _event_context(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Mapping[str, Any], Any]:
    event = args[0] if args else kwargs.get("event")
    context = args[1] if len(args) > 1 else kwargs.get("context")
    # A non-mapping event (a direct invoke with a list, say) is read as an empty request: 401, not 500.
    return (event if isinstance(event, _MAPPING) else _EMPTY), context


def _set(context: Any, name: str, value: Any) -> None:
    try:  # noqa: SIM105 - contextlib.suppress costs more on the hot path
        setattr(context, name, value)
    except (AttributeError, TypeError):
        pass  # None, object() or a slotted/frozen context: the identity stays on current_identity()


class _Authenticator:
    """Settings of one require_auth, checked once at decoration time."""

    __slots__ = ("checks", "cookie_name", "error_headers", "logger", "mapper", "netlify", "on_error",
                 "preflight", "realm", "roles_claim", "trust_authorizer", "verifier")

    def __init__(self, verifier: TokenVerifier | None, *, realm: str | None, cookie_name: str | None,
                 allow_preflight: bool | Literal["handler"], trust_authorizer: bool,
                 netlify_client_context: bool,
                 claims_mapper: authz.ClaimsMapper | None, roles_claim: authz.ClaimPath,
                 on_error: ErrorHook | None, logger: Any, error_headers: Mapping[str, str] | None,
                 checks: Sequence[Callable[[IdentityContext], None]] = ()) -> None:
        if verifier is None and not trust_authorizer:
            from serverless_jwt.verifier import Verifier

            # Built once, here, at import: warm invocations then reuse its key cache.
            verifier = Verifier.from_env()
        if verifier is not None and not callable(getattr(verifier, "verify", None)):
            raise ConfigurationError("verifier must have a verify(token) method")
        if isinstance(roles_claim, str) and not roles_claim:
            raise ConfigurationError("roles_claim must name a claim")
        if not isinstance(roles_claim, str) and (not roles_claim or not all(
                isinstance(s, str) and s for s in roles_claim)):
            raise ConfigurationError("roles_claim must be a claim name or a sequence of path segments")
        self.verifier = verifier
        self.realm = realm
        self.cookie_name = None if cookie_name is None else validate_cookie_name(cookie_name)
        self.preflight = allow_preflight
        self.trust_authorizer = trust_authorizer
        self.netlify = netlify_client_context
        self.mapper = claims_mapper
        self.roles_claim = roles_claim
        self.on_error = on_error
        self.logger = logger
        self.error_headers = dict(error_headers) if error_headers else None
        self.checks = tuple(checks)

    def identity(self, event: Mapping[str, Any]) -> IdentityContext:
        token: str | None = None
        claims: Mapping[str, Any] | None = None
        if self.trust_authorizer:
            # Opt-in only: these claims were checked by API Gateway, not here.
            claims = authorizer_claims(event)
        if claims is None:
            if self.verifier is None:
                raise MissingTokenError()
            token = bearer_token(event, cookie_name=self.cookie_name)
            claims = self.verifier.verify(token)
        if self.mapper is not None:
            claims = self.mapper(claims)
        return IdentityContext(
            claims=claims,
            token=token,
            subject=_string(claims, "sub"),
            scopes=authz.scopes_of(claims),
            roles=authz.roles_of(claims, self.roles_claim),
            issuer=_string(claims, "iss"),
            client_id=_string(claims, "azp", "client_id"),
            source="token" if token is not None else "authorizer",
        )

    def fail(self, event: Mapping[str, Any], err: AuthError) -> Response:
        _log.info("request rejected: %s", err.code, extra={"auth_error": as_dict(err)})
        if self.on_error is not None:
            return self.on_error(event, err)
        return error_response(event, err, realm=self.realm, headers=self.error_headers)

    def wrap(self, handler: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(handler)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            event, context = _event_context(args, kwargs)
            # Overwritten on every request, so a reused context object never shows an earlier caller.
            _set(context, "identity_context", None)
            if self.netlify:
                _set(context, "client_context", None)
            if self.preflight and is_preflight(event):
                # A preflight carries no credentials by design, so it never reaches protected code
                # unless the handler asked for it (it must then cope with identity_context = None).
                if self.preflight == "handler":
                    return handler(*args, **kwargs)
                return preflight_response(event, headers=self.error_headers)
            try:
                identity = self.identity(event)
                for check in self.checks:
                    check(identity)
            except AuthError as err:
                return self.fail(event, err)
            reset = _current.set(identity)
            _set(context, "identity_context", identity)
            if self.netlify:
                _set(context, "client_context", {"user": dict(identity.claims),
                                                 "identity": {"url": identity.issuer}})
            if self.logger is not None:
                self.logger.append_keys(subject=identity.subject, client_id=identity.client_id)
            try:
                return handler(*args, **kwargs)
            except AuthError as err:
                return self.fail(event, err)
            finally:
                _current.reset(reset)
                if self.logger is not None:
                    self.logger.remove_keys(["subject", "client_id"])

        setattr(wrapper, _AUTHENTICATES, True)
        return wrapper


@overload
def require_auth(handler: Callable[P, R], /) -> Callable[P, R | Response]: ...
@overload
def require_auth(
    verifier: TokenVerifier | None = None, /, *, realm: str | None = ..., cookie_name: str | None = ...,
    allow_preflight: bool | Literal["handler"] = ..., trust_authorizer: bool = ...,
    netlify_client_context: bool = ...,
    claims_mapper: authz.ClaimsMapper | None = ..., roles_claim: authz.ClaimPath = ...,
    scopes: Collection[str] = ..., roles: Collection[str] = ..., on_error: ErrorHook | None = ...,
    logger: Any = ..., error_headers: Mapping[str, str] | None = ...,
) -> Decorator: ...
def require_auth(
    verifier: Any = None, /, *, realm: str | None = None, cookie_name: str | None = None,
    allow_preflight: bool | Literal["handler"] = True, trust_authorizer: bool = False,
    netlify_client_context: bool = False,
    claims_mapper: authz.ClaimsMapper | None = None, roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
    scopes: Collection[str] = (), roles: Collection[str] = (), on_error: ErrorHook | None = None,
    logger: Any = None, error_headers: Mapping[str, str] | None = None,
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
        A Powertools ``Logger``: ``subject`` and ``client_id`` are appended for the request and removed
        afterwards. The token is never logged.
    error_headers:
        Headers added to every error response (e.g. ``Access-Control-Allow-Origin``).

    Raises
    ------
    ConfigurationError
        At decoration time, for unusable settings (never per request).

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
    checks: list[Callable[[IdentityContext], None]] = []
    if scopes:
        checks.append(_scope_check(authz.validate_names(scopes, "scope"), any_of=False))
    if roles:
        checks.append(_role_check(authz.validate_names(roles, "role"), None, any_of=False))
    auth = _Authenticator(
        verifier, realm=realm, cookie_name=cookie_name, allow_preflight=allow_preflight,
        trust_authorizer=trust_authorizer, netlify_client_context=netlify_client_context,
        claims_mapper=claims_mapper, roles_claim=roles_claim, on_error=on_error, logger=logger,
        error_headers=error_headers, checks=checks,
    )
    return auth.wrap


def _scope_check(scopes: Sequence[str], *, any_of: bool) -> Callable[[IdentityContext], None]:
    def check(identity: IdentityContext) -> None:
        authz.check_scope_set(identity.scopes, scopes, any_of=any_of)

    return check


def _role_check(roles: Sequence[str], claim: authz.ClaimPath | None, *,
                any_of: bool) -> Callable[[IdentityContext], None]:
    def check(identity: IdentityContext) -> None:
        granted = identity.roles if claim is None else authz.roles_of(identity.claims, claim)
        authz.check_role_set(granted, roles, any_of=any_of)

    return check


def _authorizing(name: str, check: Callable[[IdentityContext], None], verifier: TokenVerifier | None,
                 realm: str | None) -> Decorator:
    def decorate(handler: Callable[P, R]) -> Callable[P, R | Response]:
        if getattr(handler, _AUTHENTICATES, False):
            raise ConfigurationError(f"{name} must be placed under require_auth, not above it")
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
        return wrapper

    return decorate


def require_scope(*scopes: str, any_of: bool = False, verifier: TokenVerifier | None = None,
                  realm: str | None = None) -> Decorator:
    """Require scopes (``scope``, ``scp`` or ``permissions``; exact, case-sensitive).

    Place it under :func:`require_auth`. With ``verifier=`` it also works alone.

    Raises
    ------
    ConfigurationError
        At decoration: no scope, a malformed scope name, or placed above ``require_auth``.

    Examples
    --------
    >>> @require_scope("read:shows", "read:episodes", any_of=True)
    ... def handler(event, context): ...
    """
    names = authz.validate_names(scopes, "scope")
    return _authorizing("require_scope", _scope_check(names, any_of=any_of), verifier, realm)


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
    return _authorizing("require_role", _role_check(names, claim, any_of=any_of), verifier, realm)


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
