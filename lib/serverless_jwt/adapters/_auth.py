"""The request path shared by the decorators and the Powertools middleware.

event -> token extraction -> verification -> claims mapping -> identity -> checks; an AuthError becomes
the event source's error response. Settings are checked once, when the decorator is applied.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal, ParamSpec, TypeVar

from serverless_jwt import authz
from serverless_jwt._rejections import configured_issuer, log_rejection
from serverless_jwt.adapters._headers import error_header_map, realm_text
from serverless_jwt.adapters.events import (
    authorizer_claims,
    bearer_token,
    error_response,
    is_preflight,
    preflight_response,
    sent_bearer,
    validate_cookie_name,
)
from serverless_jwt.adapters.identity import (
    IdentityContext,
    TokenVerifier,
    _current,
    identity_from_claims,
)
from serverless_jwt.errors import AuthError, ConfigurationError, MissingTokenError

# `dict` first: events and claims are plain dicts, and the ABC check costs ~10x an exact-type check.
_MAPPING = (dict, Mapping)

P = ParamSpec("P")
R = TypeVar("R")
Response = dict[str, Any]
ErrorHook = Callable[[Mapping[str, Any], AuthError], Response]

_log = logging.getLogger("serverless_jwt")
_EMPTY: Mapping[str, Any] = {}
_AUTHENTICATES = "__serverless_jwt_authenticates__"
# True while require_auth(allow_preflight="handler") hands a preflight to its handler: the authorization
# decorators below let it through to the handler, as promised, rather than answering it themselves.
PREFLIGHT_TO_HANDLER: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "serverless_jwt_preflight_to_handler", default=False)


def _event_context(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Mapping[str, Any], Any]:
    # Off the usual (event, context) call: keywords, or a method's (self, event, context).
    if len(args) > 2:
        event, context = args[-2], args[-1]
    else:
        event = args[0] if args and "event" not in kwargs else kwargs.get("event")
        context = args[1] if len(args) > 1 else kwargs.get("context")
    # A non-mapping event (a direct invoke with a list, say) is read as an empty request: 401, not 500.
    return (event if isinstance(event, _MAPPING) else _EMPTY), context


def parses_strictly(verifier: Any) -> bool:
    """Whether ``verifier`` refuses, before any key work, a token with a byte outside the JWT alphabet.

    ``Verifier`` and ``MultiIssuerVerifier`` with their own ``verify`` (not a subclass, an instance
    attribute or a patched class, any of which may hand the text elsewhere): their parser decodes every
    segment as strict base64url, so a token they accept is one :func:`bearer_token` would have passed.
    """
    # From sys.modules: a module not loaded has no instances (and trust_authorizer=True loads none).
    strict = getattr(sys.modules.get("serverless_jwt.verifier"), "_STRICT_PARSERS", None)
    cls = type(verifier)
    return (strict is not None and strict.get(cls) is not None and cls.__dict__.get("verify") is strict[cls]
            and "verify" not in getattr(verifier, "__dict__", {}))


def verify_sent(verifier: TokenVerifier, event: Mapping[str, Any], cookie_name: str | None,
                strict: bool) -> tuple[str, Mapping[str, Any]]:
    """``(token, verified claims)`` of the request's bearer credentials.

    With a ``strict`` verifier (:func:`parses_strictly`) the Authorization header's credentials go to
    it unchecked; only when it refuses them does :func:`bearer_token` read the header by the rules
    (a malformed header is then the 400 it always was, and whitespace it tolerates is trimmed).
    """
    sent = sent_bearer(event) if strict else None
    if sent is not None:
        try:
            return sent, verifier.verify(sent)
        except AuthError as err:
            refused = err
        token = bearer_token(event, cookie_name=cookie_name)
        if token == sent:
            raise refused
    else:
        token = bearer_token(event, cookie_name=cookie_name)
    return token, verifier.verify(token)


def _set(context: Any, name: str, value: Any) -> None:
    try:  # noqa: SIM105 - contextlib.suppress costs more on the hot path
        setattr(context, name, value)
    except Exception:  # noqa: S110 - refusing the attribute is the context's right
        pass  # None, object(), a slotted or validating context: the identity stays on current_identity()


class _Authenticator:
    """Settings of one require_auth, checked once at decoration time."""

    __slots__ = ("checks", "cookie_name", "error_headers", "issuer", "keys_logger", "logger", "mapper",
                 "netlify", "on_error", "optional", "preflight", "realm", "roles_claim", "strict",
                 "token_source", "trust_authorizer", "verifier")

    def __init__(self, verifier: TokenVerifier | None, *, realm: str | None, cookie_name: str | None,
                 allow_preflight: bool | Literal["handler"], trust_authorizer: bool,
                 netlify_client_context: bool,
                 claims_mapper: authz.ClaimsMapper | None, roles_claim: authz.ClaimPath,
                 on_error: ErrorHook | None, logger: Any, error_headers: Mapping[str, str] | None,
                 checks: Sequence[Callable[[IdentityContext], None]] = (),
                 token_source: Callable[[Mapping[str, Any]], str] | None = None,
                 optional: bool = False) -> None:
        if verifier is None and not trust_authorizer:
            from serverless_jwt.verifier import Verifier

            # Built once, here, at import: warm invocations then reuse its key cache.
            verifier = Verifier.from_env()
        if verifier is not None and not callable(getattr(verifier, "verify", None)):
            raise ConfigurationError("verifier must have a verify(token) method")
        for name, hook in (("claims_mapper", claims_mapper), ("on_error", on_error)):
            if hook is not None and not callable(hook):  # else every request would fail on calling it
                raise ConfigurationError(f"{name} must be callable")
        self.verifier = verifier
        self.strict = parses_strictly(verifier)
        self.issuer = configured_issuer(verifier)
        self.realm = realm_text(realm)
        self.cookie_name = None if cookie_name is None else validate_cookie_name(cookie_name)
        if not (isinstance(allow_preflight, bool) or allow_preflight == "handler"):
            # A typo ("Handler") would be read as True: preflights answered here, never by the handler.
            raise ConfigurationError('allow_preflight must be True, False or "handler"')
        self.preflight = allow_preflight
        self.trust_authorizer = trust_authorizer
        self.netlify = netlify_client_context
        self.mapper = claims_mapper
        self.roles_claim = authz.validate_claim_path(roles_claim, "roles_claim")
        self.on_error = on_error
        self.logger = logger
        # The caller's keys go to a Powertools Logger; a logging.Logger only gets the rejection lines.
        self.keys_logger = logger if callable(getattr(logger, "append_keys", None)) \
            and callable(getattr(logger, "remove_keys", None)) else None
        self.error_headers = error_header_map(error_headers, server=False)
        self.checks = tuple(checks)
        # Where the token comes from: the bearer header (or cookie) unless a mode brings its own header.
        self.token_source = token_source
        if optional and self.checks:
            raise ConfigurationError("optional authentication cannot also require scopes or roles")
        if logger is not None and not all(callable(getattr(logger, m, None)) for m in ("info", "error")):
            raise ConfigurationError("logger must be a Powertools Logger or a logging.Logger")
        # No credentials at all -> the handler runs anonymously; bad credentials are still refused.
        self.optional = bool(optional)

    def identity(self, event: Mapping[str, Any]) -> IdentityContext:
        token: str | None = None
        claims: Mapping[str, Any] | None = None
        if self.trust_authorizer:
            # Opt-in only: these claims were checked by API Gateway, not here.
            claims = authorizer_claims(event)
        if claims is None:
            if self.verifier is None:
                raise MissingTokenError()
            if self.token_source is None:
                token, claims = verify_sent(self.verifier, event, self.cookie_name, self.strict)
            else:
                token = self.token_source(event)
                claims = self.verifier.verify(token)
        if self.mapper is not None:
            claims = self.mapper(claims)
            if not isinstance(claims, Mapping):
                # A programming error (a mapper without `return`): fail loudly, before any identity is set.
                raise TypeError("claims_mapper must return a mapping of claims")
        return identity_from_claims(claims, token, self.roles_claim)

    def fail(self, event: Mapping[str, Any], err: AuthError) -> Response:
        log_rejection(err, issuer=self.issuer, logger=self.logger)
        if self.on_error is not None:
            return self.on_error(event, err)
        return error_response(event, err, realm=self.realm, headers=self.error_headers)

    def wrap(self, handler: Callable[P, R]) -> Callable[P, R | Response]:
        refuse_coroutine(handler)
        # Settings are fixed after __init__: read them once here, not on every request.
        target, late_checks = _fused(handler)
        checks, fail, netlify, preflight = self.checks, self.fail, self.netlify, self.preflight
        logger = self.keys_logger
        verifier, cookie_name, roles_claim, strict = (self.verifier, self.cookie_name, self.roles_claim,
                                                      self.strict)
        # The usual configuration (a verifier, the bearer header, no mapper) runs inline below.
        plain = (verifier is not None and not self.trust_authorizer and self.mapper is None
                 and self.token_source is None)
        identify = self.identity
        # Anonymous callers reach the handler only when nothing below demands an identity.
        anonymous_ok = self.optional and not late_checks

        @functools.wraps(handler)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            context: Any
            if len(args) == 2:
                event, context = args
                if type(event) is not dict and not isinstance(event, Mapping):
                    event = _EMPTY  # read as an empty request: 401, not 500
            else:
                event, context = _event_context(args, kwargs)
            if preflight and is_preflight(event):
                # A preflight carries no credentials by design, so it never reaches protected code
                # unless the handler asked for it (it must then cope with identity_context = None).
                _clear(context, netlify)
                if preflight == "handler":
                    passing = PREFLIGHT_TO_HANDLER.set(True)
                    try:
                        return handler(*args, **kwargs)
                    finally:
                        PREFLIGHT_TO_HANDLER.reset(passing)
                return preflight_response(event, headers=self.error_headers)
            try:
                if plain:
                    token, claims = verify_sent(verifier, event, cookie_name, strict)  # type: ignore[arg-type]
                    identity = identity_from_claims(claims, token, roles_claim)
                else:
                    identity = identify(event)
                if checks:
                    for check in checks:
                        check(identity)
            except BaseException as exc:
                # Overwritten on every request, so a reused context object never shows an earlier caller.
                _clear(context, netlify)
                if not anonymous_ok or type(exc) is not MissingTokenError:
                    if isinstance(exc, AuthError):
                        return fail(event, exc)
                    raise
            else:
                reset = _current.set(identity)
                # Everything from here on runs under the finally below: whatever raises, the identity never
                # outlives this request on current_identity().
                try:
                    try:  # noqa: SIM105 - contextlib.suppress costs more on the hot path
                        context.identity_context = identity
                    except Exception:  # noqa: S110 - refusing the attribute is the context's right
                        pass  # None, object(), a slotted or validating context: current_identity() has it
                    if netlify:
                        _set(context, "client_context", {"user": dict(identity.claims),
                                                         "identity": {"url": identity.issuer}})
                    if logger is not None:
                        logger.append_keys(subject=identity.subject, client_id=identity.client_id)
                    # Checks of require_scope/role/claims wrappers directly below, as they would run there.
                    if late_checks:
                        for check in late_checks:
                            check(identity)
                    return target(*args, **kwargs)
                except AuthError as err:
                    _clear(context, netlify)  # a refused caller's identity is not left on the context
                    if logger is not None:  # the rejection line carries no value taken from the token
                        logger.remove_keys(["subject", "client_id"])
                    return fail(event, err)
                finally:
                    _current.reset(reset)
                    if logger is not None:
                        logger.remove_keys(["subject", "client_id"])
            # An anonymous caller let through: the handler runs after the except clause, so it never finds
            # the MissingTokenError in sys.exc_info(), nor are its own exceptions chained to it.
            try:
                return target(*args, **kwargs)
            except AuthError as err:  # the handler may still insist (identity_of, check_scopes)
                return fail(event, err)

        setattr(wrapper, _AUTHENTICATES, True)
        return wrapper


def refuse_coroutine(handler: Callable[..., Any]) -> None:
    """Refuse an ``async def`` handler when it is decorated, not on its first request.

    Lambda calls a synchronous handler; around a coroutine function the checks would end before the
    coroutine ran (its identity gone) and an error answer would come back where a coroutine was
    awaited. Decorate the synchronous handler that runs it (``asyncio.run(main(event, context))``).
    """
    # The handler itself, not what it wraps: a synchronous asyncio.run(...) wrapper made with
    # functools.wraps is exactly what Lambda should call. A handler object is what its __call__ is.
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(type(handler).__call__):
        raise ConfigurationError(
            f"{getattr(handler, '__name__', 'the handler')} is a coroutine function: decorate the "
            "synchronous Lambda handler that runs it (asyncio.run(...)), not the coroutine")


def _clear(context: Any, netlify: bool) -> None:
    _set(context, "identity_context", None)
    if netlify:
        _set(context, "client_context", None)


# On require_scope / require_role / require_claims wrappers: (their check, the handler they wrap, the
# wrapper itself). functools.wraps copies __dict__, so a user's own decorator around such a wrapper
# carries the attribute too; naming the wrapper keeps that decorator from ever being skipped.
_AUTHORIZES = "__serverless_jwt_authorizes__"


def _fused(handler: Callable[P, R]) -> tuple[Callable[P, R], tuple[Callable[[IdentityContext], None], ...]]:
    # Under require_auth such a wrapper only runs its check on the identity just set and calls its
    # handler: require_auth does both itself, in the same order, and saves a call layer per decorator.
    checks: list[Callable[[IdentityContext], None]] = []
    target: Callable[..., Any] = handler
    while (entry := getattr(target, _AUTHORIZES, None)) is not None and entry[2] is target:
        check, target, _ = entry
        checks.append(check)
    return target, tuple(checks)


def _scope_check(scopes: Sequence[str], *, any_of: bool) -> Callable[[IdentityContext], None]:
    required = frozenset(scopes)

    def check(identity: IdentityContext) -> None:
        granted = identity.scopes  # derived once and kept: the handler sees what was decided on
        # One C-level set test for the usual frozenset; a refusal (which needs its error) and any other
        # collection go through check_scope_set.
        if type(granted) is frozenset and (
                not required.isdisjoint(granted) if any_of else required.issubset(granted)):
            return
        authz.check_scope_set(granted, scopes, any_of=any_of)

    return check


def _role_check(roles: Sequence[str], claim: authz.ClaimPath | None, *,
                any_of: bool) -> Callable[[IdentityContext], None]:
    def check(identity: IdentityContext) -> None:
        granted = identity.roles if claim is None else authz.roles_of(identity.claims, claim)
        authz.check_role_set(granted, roles, any_of=any_of)

    return check


def public_path_set(paths: Collection[str]) -> frozenset[str]:
    """``public_paths`` checked once: route paths, never one string (read as its characters, the ``/``
    among them would make the root route public)."""
    if isinstance(paths, str):
        raise ConfigurationError('public_paths must be a collection of route paths, such as ["/health"]')
    found = tuple(paths)  # read once: a generator checked first would leave nothing to keep
    # Checked before hashing: a nested list (["/a"], ["/b"]) is this ConfigurationError, not a TypeError.
    if not all(isinstance(p, str) and p for p in found):
        raise ConfigurationError('public_paths must be a collection of route paths, such as ["/health"]')
    return frozenset(found)
