"""Bearer credentials from HTTP request headers (RFC 6750 §2.1), for any framework.

The Lambda adapters (``adapters/events.py``) and the ASGI / WSGI / FastAPI / Flask glue read tokens
with these rules, so every entry point answers one request the same way:

* the ``Authorization`` scheme is case-insensitive (RFC 7235 §2.1): ``bearer <token>`` is accepted;
* no ``Authorization`` value, or another scheme (``Basic``, ``Digest``...), is *no bearer token*:
  :class:`~serverless_jwt.errors.MissingTokenError` (401 with a bare ``Bearer`` challenge);
* two values with bearer credentials among them (two headers, or one comma-joined by a proxy; the
  comma-separated params of another scheme, Digest or AWS SigV4, are one value), or ``Bearer`` with an
  empty or non-token68 value, is :class:`~serverless_jwt.errors.InvalidRequestError` (400
  ``invalid_request``); repeated headers of other schemes only are no bearer token, joined or not;
* a cookie (``nf_jwt`` for Netlify Identity) is read only when configured and only when there is no
  ``Authorization`` header with bearer credentials; two different values for it are refused;
* the query string is never read (RFC 6750 §2.3: tokens in URLs end up in logs and history).

Why not a library: Starlette's ``get_authorization_scheme_param`` and FastAPI's ``HTTPBearer`` split on
the first space and take the last header value, so a duplicate header or a malformed token passes
through to the verifier as ``invalid_token`` instead of being refused as a bad request.

Examples
--------
>>> token_from_headers({"Authorization": "bearer a.b.c"})
'a.b.c'
>>> token_from_headers([(b"cookie", b"nf_jwt=a.b.c")], cookie_name="nf_jwt")
'a.b.c'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from serverless_jwt.errors import ConfigurationError, InvalidRequestError, MissingTokenError

__all__ = ["Headers", "token_from_header_values", "token_from_headers", "validate_cookie_name"]

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""A mapping of header names to values, or (name, value) pairs (ASGI's raw ``bytes`` pairs too)."""

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
JWT_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
# RFC 7230 token, for the configured cookie name.
_HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

_OWS = " \t"  # RFC 9110 optional whitespace: space and horizontal tab, nothing else
_CREDENTIALS = re.compile(r"([^ \t]*)[ \t]*(.*)", re.DOTALL)

_SEVERAL = "The request carries more than one Authorization value"
_MALFORMED = "The Authorization header does not carry a well-formed bearer token"
_BAD_COOKIE = "The authentication cookie is malformed or repeated"


def is_token68(value: str) -> bool:
    """Whether ``value`` is an RFC 7235 token68 (every JWT is one)."""
    # Fast path for the usual case, a JWT (base64url and dots: all token68 characters), in one C pass.
    if value and value.isascii() and not value.encode("ascii").translate(None, JWT_ALPHABET):
        return True
    return _TOKEN68.fullmatch(value) is not None


def validate_cookie_name(name: str) -> str:
    """Check a configured cookie name (an RFC 7230 token); raises ConfigurationError."""
    if not isinstance(name, str) or not _HTTP_TOKEN.fullmatch(name):
        raise ConfigurationError("cookie_name must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)")
    return name


def authorization_token(values: Sequence[str]) -> str | None:
    """The token of non-empty ``Authorization`` values; ``None`` for another scheme."""
    if len(values) > 1 or "," in values[0]:
        # Proxies join repeated headers with commas, and a token68 never holds one: a comma beside
        # bearer credentials means several values. Other schemes separate their own auth-params by
        # commas (Digest, AWS SigV4: RFC 7235 §2.1): that is one value, and still no bearer token.
        # Repeated headers none of which is bearer credentials (two Basic) carry no access token
        # either: the 401 they get once a proxy (HTTP API, a WSGI server) has joined them.
        if any(_is_bearer_scheme(part) for value in values for part in value.split(",")):
            raise InvalidRequestError(_SEVERAL)
        return None
    # RFC 7235: the scheme, then spaces (a tab tolerated), then the token; any other whitespace
    # (NO-BREAK SPACE, form feed ...) separates nothing, as a proxy reading the header would agree.
    scheme, token = _CREDENTIALS.fullmatch(values[0].strip(_OWS)).groups()  # type: ignore[union-attr]
    if scheme.lower() != "bearer":
        if scheme[:6].lower() == "bearer" and scheme[6:7].isspace():
            raise InvalidRequestError(_MALFORMED)  # "Bearer" and a token, joined by odd whitespace
        # Another scheme (Basic, Digest, ...) is not bearer credentials: 401 without an error code.
        return None
    if not token or not is_token68(token):
        raise InvalidRequestError(_MALFORMED)
    return token


def _is_bearer_scheme(credentials: str) -> bool:
    # The first word (split at any whitespace, so "Bearer\xa0x" counts too) is "bearer".
    words = credentials.split(None, 1)
    return bool(words) and words[0].lower() == "bearer"


def cookie_token(pairs: Iterable[str], cookie_name: str) -> str | None:
    """The value of cookie ``cookie_name`` among ``name=value`` pairs; ``None`` when absent or empty."""
    found: set[str] = set()
    for pair in pairs:
        name, sep, value = pair.strip(_OWS).partition("=")
        if sep and name.strip(_OWS) == cookie_name:
            value = value.strip(_OWS)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if value:  # an emptied cookie (a logout) counts as no credentials
                found.add(value)
    if not found:
        return None
    # Two different values for the one cookie: we cannot tell which is meant, so refuse both.
    if len(found) > 1:
        raise InvalidRequestError(_BAD_COOKIE)
    value = found.pop()
    if not is_token68(value):
        raise InvalidRequestError(_BAD_COOKIE)
    return value


def token_from_header_values(authorization: Sequence[str], *, cookies: Sequence[str] = (),
                             cookie_name: str | None = None) -> str:
    """The bearer token, given every ``Authorization`` value and every ``Cookie`` header value.

    Parameters
    ----------
    authorization:
        Each ``Authorization`` header value as received (several means the header was repeated).
    cookies:
        Each ``Cookie`` header value (``"a=1; nf_jwt=..."``); read only with ``cookie_name``.
    cookie_name:
        Also accept the token from this cookie; the ``Authorization`` header wins.

    Raises
    ------
    MissingTokenError
        No bearer credentials (none at all, or another scheme such as Basic).
    InvalidRequestError
        Several Authorization values with bearer credentials among them, ``Bearer`` with an empty or
        malformed token, or a repeated or malformed cookie.

    Examples
    --------
    >>> token_from_header_values(["Basic dXNlcjpwYXNz"])
    Traceback (most recent call last):
    ...
    serverless_jwt.errors.MissingTokenError: Authentication required
    """
    if authorization:
        token = authorization_token(authorization)
        if token is not None:
            return token
    if cookie_name is not None and cookies:
        token = cookie_token((p for header in cookies for p in header.split(";")), cookie_name)
        if token is not None:
            return token
    raise MissingTokenError()


def _text(value: str | bytes) -> str:
    # HTTP header bytes are ISO-8859-1 (RFC 7230 §3.2.4); anything non-ASCII is not a token anyway.
    if isinstance(value, (bytes, bytearray, memoryview)):  # ASGI servers may pass any bytes-like
        return bytes(value).decode("latin-1")
    if isinstance(value, str):
        return value
    raise TypeError("header names and values must be str or bytes")


def token_from_headers(headers: Headers, *, cookie_name: str | None = None) -> str:
    """The bearer token of a request's headers (see the module docstring for the rules).

    Parameters
    ----------
    headers:
        A mapping (``dict``, Starlette's or Werkzeug's ``Headers``, whose ``items()`` list repeated
        headers), any object with such an ``items()`` (``http.server``'s ``self.headers``), or an
        iterable of ``(name, value)`` pairs such as an ASGI scope's ``headers``.
        Names are compared case-insensitively, so ``Authorization`` and ``authorization`` keys count
        as two values.
    cookie_name:
        Also accept the token from this cookie (``"nf_jwt"`` for Netlify Identity). Off by default.

    Raises
    ------
    MissingTokenError, InvalidRequestError
        As :func:`token_from_header_values`.
    TypeError
        ``headers`` is none of the above (a programming error, not a bad request).

    Examples
    --------
    >>> token_from_headers({"authorization": "Bearer a.b.c", "AUTHORIZATION": "Bearer d.e.f"})
    Traceback (most recent call last):
    ...
    serverless_jwt.errors.InvalidRequestError: The request carries more than one Authorization value
    """
    # A Mapping, or a mapping-like object that is not one (the standard library's http.server and
    # email headers, HTTPMessage: iterating it gives names only, its items() every (name, value)).
    items = getattr(headers, "items", None)
    pairs: Iterable[Any] = items() if callable(items) else headers
    authorization: list[str] = []
    cookies: list[str] = []
    try:
        for raw_name, raw_value in pairs:
            name = _text(raw_name).lower()
            if name == "authorization":
                authorization.append(_text(raw_value))
            elif name == "cookie" and cookie_name is not None:
                cookies.append(_text(raw_value))
    except (TypeError, ValueError, AttributeError):
        # A programming error, not a bad request: say what was expected instead of failing in here.
        raise TypeError("headers must be a mapping of header names to values or (name, value) pairs "
                        "of str or bytes") from None
    return token_from_header_values(authorization, cookies=cookies, cookie_name=cookie_name)
