"""Flask: an extension with a view decorator; the caller on ``flask.g.identity``.

::

    auth = JwtAuth(verifier, app)          # or JwtAuth(verifier) + auth.init_app(app)

    @app.get("/shows")
    @auth.required("read:shows")
    def shows():
        return {"sub": g.identity.subject}

``init_app`` registers an error handler for :class:`~serverless_jwt.errors.AuthError` that answers
with our status, ``WWW-Authenticate`` and RFC 6750 body; register your own handler for ``AuthError``
(or one of its subclasses, say ``InsufficientScopeError``) to answer differently. Views may raise
``AuthError`` themselves (``authz.check_scopes``) and get the same answers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

from serverless_jwt._extras import requires

with requires("flask", "The Flask integration (serverless_jwt.adapters.flask)"):
    import flask
    from werkzeug.wrappers import Response as WerkzeugResponse

from serverless_jwt import authz
from serverless_jwt._rejections import log_rejection
from serverless_jwt.adapters._headers import realm_text
from serverless_jwt.adapters._request import RequestAuthenticator, checks_for
from serverless_jwt.adapters.identity import IdentityContext, TokenVerifier, _current, _request_lookups
from serverless_jwt.adapters.wsgi import _Streamed, environ_headers
from serverless_jwt.errors import AuthError

__all__ = ["JwtAuth", "netlify_signed"]

P = ParamSpec("P")
R = TypeVar("R")
_EXTENSION = "serverless_jwt"
_ENVIRON_KEY = "serverless_jwt.flask_identity"  # this request's caller, for current_identity()
# In the request's environ, not g (an app context pushed at import is shared by every request a sync worker
# serves, and so is its g): how the decorator that last ran answers a refusal (its realm), and the
# refusals already logged.
_ANSWER = "serverless_jwt.flask_answer"
_LOGGED = "serverless_jwt.flask_logged"


class _ViewDecorator(Protocol):
    """What ``required(...)`` returns: an ``async def`` view becomes a sync one returning its result.

    The wrapper runs the view with ``app.ensure_sync``, so what it returns is the awaited value; typed as
    the coroutine, a decorated async view would not be a valid Flask route under ``mypy --strict``.
    """

    @overload
    def __call__(self, view: Callable[P, Awaitable[R]], /) -> Callable[P, R | flask.Response]: ...
    @overload
    def __call__(self, view: Callable[P, R], /) -> Callable[P, R | flask.Response]: ...


class _SignedDecorator(Protocol):
    """What ``netlify_signed(...)`` returns; as :class:`_ViewDecorator`, without the added response."""

    @overload
    def __call__(self, view: Callable[P, Awaitable[R]], /) -> Callable[P, R]: ...
    @overload
    def __call__(self, view: Callable[P, R], /) -> Callable[P, R]: ...


class JwtAuth:
    """The Flask extension: settings for every protected view, and the error handler.

    Parameters
    ----------
    verifier:
        A ``Verifier`` (or any ``verify(token)``); ``None`` builds one now with ``Verifier.from_env()``.
    app:
        The Flask app (or call :meth:`init_app` later).
    cookie_name, realm, claims_mapper, roles_claim:
        As for ``require_auth``.

    Raises
    ------
    ConfigurationError
        For unusable settings, at construction.

    Examples
    --------
    >>> app = flask.Flask(__name__)                   # doctest: +SKIP
    >>> auth = JwtAuth(Verifier.from_env(), app)      # doctest: +SKIP
    """

    def __init__(self, verifier: TokenVerifier | None = None, app: flask.Flask | None = None, *,
                 cookie_name: str | None = None, realm: str | None = None,
                 claims_mapper: authz.ClaimsMapper | None = None,
                 roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH) -> None:
        self._auth = RequestAuthenticator(verifier, realm=realm, cookie_name=cookie_name,
                                          claims_mapper=claims_mapper, roles_claim=roles_claim)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Register the extension and its ``AuthError`` handler (yours, registered later, wins)."""
        app.extensions[_EXTENSION] = self
        app.register_error_handler(AuthError, self._handle)
        # First of the app's before_request hooks (blueprints' run after them): nobody on g until a
        # decorator lets a caller in. An app context pushed at import is shared by every request a sync
        # worker serves, and so is its g: the previous caller was on g.identity in undecorated views.
        hooks = app.before_request_funcs.setdefault(None, [])
        if _forget_caller not in hooks:
            hooks.insert(0, _forget_caller)

    def _handle(self, err: AuthError) -> flask.Response:
        # The decorator this request went through answers, with its realm: with several JwtAuth on one
        # app (or a netlify_signed realm), the last one registered would otherwise answer for all.
        answer: Callable[[AuthError], flask.Response] | None = flask.request.environ.get(_ANSWER)
        return (answer or self.error_response)(err)

    def error_response(self, err: AuthError) -> flask.Response:
        """Our answer for ``err``: status, ``WWW-Authenticate`` and the RFC 6750 JSON body."""
        shaped = self._auth.response(err)
        return flask.current_app.response_class(json.dumps(shaped.body), status=shaped.status,
                                                headers=shaped.headers)

    @overload
    def required(self, view: Callable[P, Awaitable[R]], /) -> Callable[P, R | flask.Response]: ...
    @overload
    def required(self, view: Callable[P, R], /) -> Callable[P, R | flask.Response]: ...
    @overload
    def required(self, *scopes: str, roles: Collection[str] = (),
                 optional: bool = False) -> _ViewDecorator: ...
    def required(self, *scopes: Any, roles: Collection[str] = (), optional: bool = False) -> Any:
        """Decorate a view: authenticate, check ``scopes`` / ``roles`` (all), set ``g.identity``.

        ``@auth.required`` (bare) is ``@auth.required()``: any valid token.

        Parameters
        ----------
        scopes:
            Scopes the token must grant (403 ``insufficient_scope`` otherwise).
        roles:
            Roles it must carry (403 ``forbidden``).
        optional:
            Serve anonymous callers: ``g.identity`` is ``None`` when no credentials were sent; a bad
            token is still refused. Not combinable with scopes or roles.

        Raises
        ------
        ConfigurationError
            At decoration, for malformed scope or role names, or ``optional`` with scopes or roles.
        """
        if len(scopes) == 1 and callable(scopes[0]) and not roles and not optional:
            return self._decorate(scopes[0], checks=(), optional=False)  # used bare
        checks = checks_for(scopes, roles)
        if optional and checks:
            from serverless_jwt.errors import ConfigurationError

            raise ConfigurationError("optional authentication cannot also require scopes or roles")
        return functools.partial(self._decorate, checks=checks, optional=optional)

    def _decorate(self, view: Callable[P, R], *, checks: Sequence[Callable[[IdentityContext], None]],
                  optional: bool) -> Callable[P, R | flask.Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | flask.Response:
            app = flask.current_app
            flask.request.environ[_ANSWER] = self.error_response
            try:
                identity = self._auth.identity(environ_headers(flask.request.environ), checks,
                                               optional=optional)
            except AuthError as err:
                _rejected_once(err, self._auth.rejected)
                if _EXTENSION in app.extensions:
                    raise  # the app's AuthError handler answers (ours unless overridden)
                return self.error_response(err)
            flask.g.identity = identity
            flask.request.environ[_ENVIRON_KEY] = identity
            reset = _current.set(identity)
            try:
                return _streamed(app.ensure_sync(view)(*args, **kwargs), identity)  # type: ignore[no-any-return]
            except AuthError as err:  # the view's own refusal (authz.check_scopes), or a nested one's
                _rejected_once(err, self._auth.rejected)
                if _answered_by_app(app, err):
                    raise
                return self.error_response(err)  # no handler for it (no init_app): never a 500
            finally:
                _current.reset(reset)

        return wrapper


def _forget_caller() -> None:
    flask.g.pop("identity", None)
    flask.g.pop("netlify_signature", None)


def _request_identity() -> IdentityContext | None:
    # current_identity() / identity_of() in a view behind a decorated before_request hook
    # (bp.before_request(auth.required()(lambda: None))): the hook's wrapper reset current_identity()
    # when it returned. Read from the request's own environ, not g: an app context pushed at import
    # (app.app_context().push()) is shared by every request a sync worker serves, and so is its g.
    if not flask.has_request_context():
        return None
    identity = flask.request.environ.get(_ENVIRON_KEY)
    return identity if isinstance(identity, IdentityContext) else None


_request_lookups.append(_request_identity)


def _answered_by_app(app: flask.Flask, err: AuthError) -> bool:
    # Ours (init_app) or the app's own handler for this error answers it; else Flask would send a 500.
    if _EXTENSION in app.extensions:
        return True
    find = getattr(app, "_find_error_handler", None)  # Flask's own lookup (blueprints included)
    try:
        return not callable(find) or find(err, flask.request.blueprints) is not None
    except Exception:  # another Flask's signature: let Flask decide, as before
        return True


def _rejected_once(err: AuthError, log: Callable[[AuthError], None]) -> None:
    # Nested decorators (auth.required over netlify_signed or another auth.required) re-raise the
    # refusal an inner one logged: one line per refused request. Kept in the request's environ.
    logged = flask.request.environ.setdefault(_LOGGED, [])
    if not any(seen is err for seen in logged):
        logged.append(err)
        log(err)


def _streamed(result: Any, identity: IdentityContext | None) -> Any:
    # A streamed body runs after the view has returned (and current_identity() was reset): each of
    # its steps, and its close(), runs with the identity again, as under the WSGI middleware.
    # g.identity needs nothing: stream_with_context keeps the request context for the body.
    if isinstance(result, tuple) and result:
        first = _streamed(result[0], identity)
        return result if first is result[0] else (first, *result[1:])
    if isinstance(result, WerkzeugResponse):
        # direct_passthrough (send_file) hands the server its file wrapper: left alone, sendfile works.
        if result.is_streamed and not result.direct_passthrough \
                and not isinstance(result.response, _Streamed):
            # str steps too: _Streamed passes each one on unchanged, werkzeug encodes them.
            result.response = _Streamed(result.response, identity)  # type: ignore[arg-type]
        return result
    if isinstance(result, Iterator):  # a generator view: Flask streams it
        return _Streamed(result, identity)
    return result


def _log_netlify(err: AuthError) -> None:
    log_rejection(err, issuer="netlify")  # x-nf-sign tokens' fixed iss


def netlify_signed(secret: str | bytes | Sequence[str | bytes], *, realm: str | None = None,
                   **options: Any) -> _SignedDecorator:
    """Refuse requests without a valid ``x-nf-sign`` (they did not come through Netlify's signed proxy).

    Use on a view, or on the whole app with ``app.before_request(netlify_signed(secret)(lambda: None))``.
    The signature's claims are on ``g.netlify_signature``.

    Examples
    --------
    >>> @app.get("/me")                                        # doctest: +SKIP
    ... @netlify_signed(os.environ["NF_PROXY_SECRET"])
    ... @auth.required()
    ... def me(): ...
    """
    from serverless_jwt.netlify import signature_from_headers, signature_verifier

    verifier = signature_verifier(secret, **options)
    realm = realm_text(realm)

    def answer(err: AuthError) -> flask.Response:
        shaped = err.response(realm)
        return flask.current_app.response_class(json.dumps(shaped.body), status=shaped.status,
                                                headers=shaped.headers)

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if realm is not None:  # else the app's handler answers (JwtAuth's realm), as before
                flask.request.environ[_ANSWER] = answer
            try:
                flask.g.netlify_signature = signature_from_headers(flask.request.headers, verifier)
            except AuthError as err:
                _rejected_once(err, _log_netlify)
                if _EXTENSION in flask.current_app.extensions:
                    raise  # the app's AuthError handler answers (ours: with this realm); it logs nothing
                flask.abort(answer(err))
            return flask.current_app.ensure_sync(view)(*args, **kwargs)  # type: ignore[no-any-return]

        return wrapper

    return cast(_SignedDecorator, decorate)  # an async view's wrapper returns the awaited value
