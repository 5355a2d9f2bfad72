"""Django: a middleware for ``settings.MIDDLEWARE``; the caller on ``request.identity``.

::

    # settings.py
    MIDDLEWARE = [
        "corsheaders.middleware.CorsMiddleware",   # if any: above ours, so it answers preflights
        ...,
        "serverless_jwt.adapters.django.JwtAuthMiddleware",
    ]
    SERVERLESS_JWT = {"public_paths": ["/health/"]}   # the verifier: Verifier.from_env() (JWT_ISSUER...)

    # views.py
    @require_scope("read:shows")
    def shows(request):
        return JsonResponse({"sub": request.identity.subject})

Every request but ``public_paths`` needs a valid bearer token; the caller (an
:class:`~serverless_jwt.adapters.identity.IdentityContext`, ``None`` when anonymous) is on
``request.identity`` and on :func:`~serverless_jwt.adapters.identity.current_identity` while the view
runs (and while a ``StreamingHttpResponse`` body it returned is computed), sync and async views alike.
A middleware, not a ``wsgi.py`` wrapper, so Django's test ``Client``, ``AsyncClient`` and
``LiveServerTestCase`` go through it too. Sync and async capable, as Django's own
``MiddlewareMixin``: under ASGI a request is verified with
:class:`~serverless_jwt.async_verifier.AsyncVerifier` (a cold key fetch never blocks the loop).

Failures are answered here with our status, ``WWW-Authenticate`` and RFC 6750 body, and so is an
:class:`~serverless_jwt.errors.AuthError` a view raises (``process_exception``): the decorators below,
``identity_of()``, ``authz.check_scopes``. ``request.user`` stays Django's own (sessions, admin).
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar, cast

from serverless_jwt._extras import requires

with requires("django", "The Django integration (serverless_jwt.adapters.django)"):
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.http import HttpRequest, HttpResponse
    from django.utils.module_loading import import_string

from serverless_jwt import authz
from serverless_jwt.adapters._auth import _role_check, _scope_check, public_path_set
from serverless_jwt.adapters._request import RequestAuthenticator
from serverless_jwt.adapters.identity import IdentityContext, _current
from serverless_jwt.adapters.wsgi import environ_headers
from serverless_jwt.errors import AuthError, ConfigurationError, MissingTokenError

__all__ = ["SETTING", "JwtAuthMiddleware", "require_role", "require_scope"]

SETTING = "SERVERLESS_JWT"
_OPTIONS = ("verifier", "scopes", "roles", "optional", "public_paths", "cookie_name", "realm",
            "claims_mapper", "roles_claim", "error_headers")
View = TypeVar("View", bound=Callable[..., Any])


class _SettingError(ImproperlyConfigured, ConfigurationError):  # type: ignore[misc]
    """A bad ``SERVERLESS_JWT`` setting: Django's error for settings, and ours for configuration."""


class JwtAuthMiddleware:
    """Require a valid bearer token for every request, except ``public_paths``.

    Configured by the ``SERVERLESS_JWT`` setting (a dict, every key optional), read when Django loads
    its middleware (at startup; a test ``Client`` loads it anew, so ``override_settings`` applies):

    ``verifier``
        A ``Verifier`` (or ``MultiIssuerVerifier``, any ``verify(token)``), or the dotted path of one
        (``"myproject.auth.verifier"``). Default: ``Verifier.from_env()`` (``JWT_ISSUER``,
        ``JWT_AUDIENCE`` or ``JWT_SECRET``...), built once.
    ``scopes``, ``roles``
        Required of every caller (all of them): 403 otherwise.
    ``optional``
        ``True``: serve anonymous callers too (``request.identity`` is ``None``); a bad token is
        still refused.
    ``public_paths``
        Exact ``request.path_info`` values served without authentication: ``["/health/"]`` (with
        Django's trailing slashes; add ``"/health"`` too if ``APPEND_SLASH`` is to redirect it).
    ``cookie_name``, ``realm``, ``claims_mapper`` (a callable or its dotted path), ``roles_claim``,
    ``error_headers``
        As for :class:`serverless_jwt.adapters.wsgi.JwtWsgiMiddleware`.

    CORS: put ``CorsMiddleware`` (django-cors-headers) above ours, as its documentation asks. It then
    answers preflights and adds its headers to our refusals; this middleware has no preflight rule.

    Raises
    ------
    django.core.exceptions.ImproperlyConfigured
        For an unusable setting or verifier, when Django loads the middleware. It is also a
        :class:`~serverless_jwt.errors.ConfigurationError`, whose message it carries.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._auth, self._optional, self._public = _configured(getattr(settings, SETTING, None))
        # As Django's MiddlewareMixin: async when what follows is, so no thread is held per request.
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __repr__(self) -> str:
        return f"JwtAuthMiddleware(verifier={self._auth.verifier!r}, optional={self._optional})"

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self._acall(request)
        if request.path_info in self._public:
            request.identity = None
            return self.get_response(request)
        try:
            identity = self._auth.identity(environ_headers(request.META), optional=self._optional)
        except AuthError as err:
            return self._refuse(err)
        request.identity = identity
        reset = _current.set(identity)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(reset)
        return _streamed_with(response, identity)

    async def _acall(self, request: HttpRequest) -> Any:
        if request.path_info in self._public:
            request.identity = None
            return await self.get_response(request)
        try:
            identity = await self._auth.identity_async(environ_headers(request.META),
                                                       optional=self._optional)
        except AuthError as err:
            return self._refuse(err)
        request.identity = identity
        reset = _current.set(identity)
        try:
            response = await self.get_response(request)
        finally:
            _current.reset(reset)
        return _streamed_with(response, identity)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer an ``AuthError`` a view raised as a refusal here would be; other errors are Django's."""
        return self._refuse(exception) if isinstance(exception, AuthError) else None

    def _refuse(self, err: AuthError) -> HttpResponse:
        """Log the refusal once and answer it: status, ``WWW-Authenticate``, the RFC 6750 JSON body."""
        self._auth.rejected(err)
        shaped = self._auth.response(err)
        return HttpResponse(json.dumps(shaped.body), status=shaped.status, headers=shaped.headers)


def _streamed_with(response: Any, identity: IdentityContext | None) -> Any:
    """A ``StreamingHttpResponse`` body is computed as the server sends it, after this middleware
    returned: each step runs with the caller on ``current_identity()`` again, as under the WSGI one."""
    if identity is None or not getattr(response, "streaming", False) \
            or getattr(response, "file_to_stream", None) is not None:  # a file: sent as is, no code runs
        return response
    content = response.streaming_content  # Django's own bytes, sync or async as the view made them
    response.streaming_content = (_async_steps(content, identity) if response.is_async
                                  else _steps(content, identity))
    return response


def _steps(content: Iterable[bytes], identity: IdentityContext) -> Iterator[bytes]:
    steps = iter(content)
    while True:
        reset = _current.set(identity)
        try:
            step = next(steps)
        except StopIteration:
            return
        finally:
            _current.reset(reset)
        yield step


async def _async_steps(content: AsyncIterable[bytes], identity: IdentityContext) -> AsyncIterator[bytes]:
    steps = aiter(content)
    while True:
        reset = _current.set(identity)
        try:
            step = await anext(steps)
        except StopAsyncIteration:
            return
        finally:
            _current.reset(reset)
        yield step


def _configured(value: object) -> tuple[RequestAuthenticator, bool, frozenset[str]]:
    options: Mapping[str, Any] = {} if value is None else cast(Mapping[str, Any], value)
    try:
        if not isinstance(options, Mapping):
            raise ConfigurationError("must be a dict of options, such as {\"public_paths\": [\"/health/\"]}")
        unknown = sorted(str(name) for name in options if name not in _OPTIONS)
        if unknown:  # a misspelt "public_path" would otherwise leave that path protected, silently
            raise ConfigurationError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(_OPTIONS)}")
        options = {name: value for name, value in options.items() if value is not None}  # None: the default
        optional = options.get("optional", False)
        if not isinstance(optional, bool):  # the string "false" would be read as True
            raise ConfigurationError("optional must be True or False")
        if optional and (options.get("scopes") or options.get("roles")):
            raise ConfigurationError("optional authentication cannot also require scopes or roles")
        auth = RequestAuthenticator(
            _verifier(options.get("verifier")), realm=options.get("realm"),
            cookie_name=options.get("cookie_name"),
            claims_mapper=_imported(options.get("claims_mapper"), "claims_mapper"),
            roles_claim=options.get("roles_claim", authz.DEFAULT_ROLES_PATH),
            scopes=options.get("scopes", ()), roles=options.get("roles", ()),
            error_headers=options.get("error_headers"))
        public = public_path_set(options.get("public_paths", ()))
        if not all(p.startswith("/") for p in public):  # "health/" as urls.py spells it would match nothing
            raise ConfigurationError('public_paths must start with / (they are request.path_info), '
                                     'such as ["/health/"]')
    except ConfigurationError as err:
        raise _SettingError(f"{SETTING}: {err}") from err
    return auth, optional, public


def _imported(value: Any, name: str) -> Any:
    # Django settings name code by dotted path ("myproject.auth.verifier"); the object itself works too.
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError:
        raise ConfigurationError(f"{name} {value!r} cannot be imported") from None


def _verifier(value: Any) -> Any:
    verifier = _imported(value, "verifier")
    if verifier is None:
        return None  # RequestAuthenticator builds Verifier.from_env(), once
    if isinstance(verifier, type) or not callable(getattr(verifier, "verify", None)):
        # A class (the path "serverless_jwt.Verifier") has a verify too: every request would fail on it.
        raise ConfigurationError("verifier must be a verifier object (with verify(token)), or its dotted "
                                 "path; not a class")
    return verifier


def require_scope(*scopes: str, any_of: bool = False) -> Callable[[View], View]:
    """Decorate a view (sync or ``async def``): 403 ``insufficient_scope`` unless the caller has ``scopes``.

    Needs :class:`JwtAuthMiddleware`, which authenticates and answers the refusal. An anonymous caller
    (``optional``, a public path) gets the 401 of a request without a token. Class-based views:
    ``@method_decorator(require_scope("read:shows"), name="dispatch")``.

    Parameters
    ----------
    scopes:
        Scope names; all required unless ``any_of``.

    Raises
    ------
    ConfigurationError
        At decoration, for malformed or missing scope names.

    Examples
    --------
    >>> @require_scope("read:shows")                       # doctest: +SKIP
    ... def shows(request):
    ...     return JsonResponse({"sub": request.identity.subject})
    """
    return _requiring(_scope_check(authz.validate_names(scopes, "scope"), any_of=any_of), "require_scope")


def require_role(*roles: str, any_of: bool = False) -> Callable[[View], View]:
    """Decorate a view: 403 ``forbidden`` unless the caller has ``roles`` (read at the middleware's
    ``roles_claim``); as :func:`require_scope` otherwise.

    Examples
    --------
    >>> @require_role("admins")                            # doctest: +SKIP
    ... async def audit(request): ...
    """
    return _requiring(_role_check(authz.validate_names(roles, "role"), None, any_of=any_of), "require_role")


def _requiring(check: Callable[[IdentityContext], None], name: str) -> Callable[[View], View]:
    def checked(request: HttpRequest) -> None:
        try:
            identity = request.identity
        except AttributeError:  # a deployment error, not the caller's: Django's 500, with this message
            raise ImproperlyConfigured(f"{name} needs serverless_jwt.adapters.django.JwtAuthMiddleware "
                                       "in settings.MIDDLEWARE") from None
        if identity is None:
            raise MissingTokenError()
        check(identity)

    def decorate(view: View) -> View:
        if iscoroutinefunction(view):
            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                checked(request)
                return await view(request, *args, **kwargs)

            return cast(View, async_wrapper)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            checked(request)
            return view(request, *args, **kwargs)

        return cast(View, wrapper)

    return decorate
