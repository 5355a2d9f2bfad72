"""WSGI middleware (Bottle, Pyramid, Falcon, Django... any WSGI app): authenticate every request.

::

    application = JwtWsgiMiddleware(application, verifier, public_paths=["/health"])

    def view(environ, start_response):
        identity = environ["serverless_jwt.identity"]

Django projects are better served by :mod:`serverless_jwt.adapters.django` (a ``MIDDLEWARE`` entry, which
Django's test ``Client`` runs too). This one also works there: wrap the application in the project's
``wsgi.py`` (the one ``WSGI_APPLICATION`` names) and read ``request.META["serverless_jwt.identity"]``
(``request.META`` is the environ).

Imports no framework. The identity is put on ``environ["serverless_jwt.identity"]`` and on
:func:`~serverless_jwt.adapters.identity.current_identity` while the app runs and while the server
iterates a body it streams; a failure is answered
here with our status, ``WWW-Authenticate`` and RFC 6750 body. Flask apps use
:mod:`serverless_jwt.adapters.flask` instead (per-view scopes, ``flask.g``, error handlers).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

from serverless_jwt import authz
from serverless_jwt.adapters._auth import public_path_set
from serverless_jwt.adapters._event_source import status_line
from serverless_jwt.adapters._request import RequestAuthenticator
from serverless_jwt.adapters.identity import IdentityContext, TokenVerifier, _current
from serverless_jwt.errors import AuthError, ConfigurationError, MissingTokenError

__all__ = ["ENVIRON_KEY", "JwtWsgiMiddleware", "environ_headers"]

ENVIRON_KEY = "serverless_jwt.identity"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_HEADERS = (("authorization", "HTTP_AUTHORIZATION"), ("cookie", "HTTP_COOKIE"))


def environ_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request headers a WSGI environ carries that matter here (``Authorization``, ``Cookie``)."""
    # A WSGI server folds repeated headers into one comma-joined value: bearer.py refuses that for
    # Authorization when bearer credentials are among them (two credentials; two folded headers of
    # another scheme read as no bearer token, as one Digest value does). A folded Cookie is split
    # back (a cookie value holds no comma, RFC 6265 §4.1.1): a token cookie in a second Cookie
    # header is still found.
    pairs: list[tuple[str, str]] = []
    for name, key in _HEADERS:
        value = environ.get(key)
        if isinstance(value, str):
            pairs.extend((name, part) for part in (value.split(",") if name == "cookie" else (value,)))
    return pairs


class JwtWsgiMiddleware:
    """Require a valid bearer token for every request, except ``public_paths``.

    Parameters
    ----------
    app:
        The WSGI application to protect.
    verifier:
        A ``Verifier`` (or any ``verify(token)``); ``None`` builds one with ``Verifier.from_env()``.
    scopes, roles, optional, public_paths, allow_preflight, cookie_name, realm, claims_mapper, roles_claim,
    error_headers:
        As for :class:`serverless_jwt.adapters.asgi.JwtMiddleware` (paths are ``PATH_INFO`` read as
        UTF-8, as werkzeug reads it: ``"/café"`` is the request ``/caf%C3%A9``). A WSGI
        app's CORS (django-cors-headers, flask-cors) runs inside this middleware and never sees its
        refusals: put ``Access-Control-Allow-Origin`` in ``error_headers`` so browsers can read them.
    """

    def __init__(self, app: WSGIApp, verifier: TokenVerifier | None = None, *,
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
        self._public = _as_path_info(public_path_set(public_paths))
        self._preflight = bool(allow_preflight)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in self._public:
            # As on any anonymous request (never a KeyError), unless a middleware outside this one set it.
            environ.setdefault(ENVIRON_KEY, None)
            return self.app(environ, start_response)
        if self._preflight and _is_preflight(environ):
            return self._preflight_to_app(environ, start_response)
        identity: IdentityContext | None
        try:
            identity = self._auth.identity(environ_headers(environ), optional=self._optional)
        except AuthError as err:
            return self._refuse(err, start_response)
        environ[ENVIRON_KEY] = identity
        # Set while the app computes its response, and again around each step of a body it streams
        # (the server iterates it after this call returned, in its own context).
        reset = _current.set(identity)
        try:
            body = self.app(environ, start_response)
        finally:
            _current.reset(reset)
        if type(body) in (list, tuple) or isinstance(body, _file_wrapper(environ)):
            return body  # computed already (a server sends a list or a file wrapper its own, faster way)
        return _Streamed(body, identity)


    def _refuse(self, err: AuthError, start_response: StartResponse) -> list[bytes]:
        self._auth.rejected(err)
        shaped = self._auth.response(err)
        body = json.dumps(shaped.body).encode("utf-8")
        headers = [*shaped.headers.items(), ("Content-Length", str(len(body)))]
        start_response(status_line(shaped.status), headers)
        return [body]

    def _preflight_to_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # For the app's CORS middleware to answer: what comes back goes out only if it is a preflight
        # answer (2xx with Access-Control-Allow-Methods), and then without its body, which a browser
        # ignores for a preflight: no data leaves. Anything else, even with a CORS header an app adds
        # to every answer, is replaced by the 401 of a request without a token.
        environ[ENVIRON_KEY] = None
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [(status, list(headers))]
            return lambda data: None  # a legacy app's write(): the body is never sent

        reset = _current.set(None)
        try:
            result = self.app(environ, hold)
            try:
                for _ in result:  # run the app to its end (a generator starts the response lazily)
                    pass
            finally:
                close = getattr(result, "close", None)
                if callable(close):
                    close()
        finally:
            _current.reset(reset)
        if started:
            status, headers = started[0]
            if status[:1] == "2" and any(n.lower() == "access-control-allow-methods" for n, _ in headers):
                kept = [(n, v) for n, v in headers if n.lower() != "content-length"]
                start_response(status, [*kept, ("Content-Length", "0")])
                return [b""]
        return self._refuse(MissingTokenError(), start_response)


class _Streamed:
    """An app's lazy response body, each step run with the request's identity on current_identity()."""

    def __init__(self, body: Iterable[bytes], identity: IdentityContext | None) -> None:
        self._body = body
        self._steps: Iterator[bytes] | None = None
        self._identity = identity

    def __iter__(self) -> _Streamed:
        return self

    def __next__(self) -> bytes:
        reset = _current.set(self._identity)
        try:
            if self._steps is None:
                self._steps = iter(self._body)
            return next(self._steps)
        finally:
            _current.reset(reset)

    def close(self) -> None:  # PEP 3333: the server calls it; the app's own close() must run
        close = getattr(self._body, "close", None)
        if callable(close):
            reset = _current.set(self._identity)
            try:
                close()
            finally:
                _current.reset(reset)


def _as_path_info(paths: frozenset[str]) -> frozenset[str]:
    """Route paths as PEP 3333 hands them in ``PATH_INFO``: the request's bytes read as latin-1.

    A non-ASCII route (``"/café"``) arrives as its UTF-8 bytes so read (``"/cafÃ©"``), which werkzeug
    reads back as UTF-8 and ASGI servers deliver decoded. Translated once, here, so a request still costs
    one set lookup; an ASCII path is unchanged, and a path whose bytes are no UTF-8 matches no route.
    """
    try:
        return frozenset(path.encode("utf-8").decode("latin-1") for path in paths)
    except UnicodeEncodeError:  # a lone surrogate: no request path can be one
        raise ConfigurationError("public_paths must be route paths of text (a lone surrogate is none)"
                                 ) from None


def _file_wrapper(environ: Mapping[str, Any]) -> type | tuple[type, ...]:
    wrapper = environ.get("wsgi.file_wrapper")
    return wrapper if isinstance(wrapper, type) else ()


def _is_preflight(environ: Mapping[str, Any]) -> bool:
    return (environ.get("REQUEST_METHOD") == "OPTIONS" and "HTTP_ORIGIN" in environ
            and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ)
