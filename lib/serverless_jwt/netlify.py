"""Netlify signed proxy redirects: trust a request only when it came through Netlify.

A redirect with ``signed = "ENV_VAR"`` makes Netlify add ``x-nf-sign``: an HS256 JWS signed with that
secret, ``iss`` ``"netlify"``, short ``exp``. :func:`require_netlify_signature` checks it before the
handler runs; stack it with ``require_auth`` to also check the user's bearer token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from serverless_jwt.errors import ConfigurationError, InvalidRequestError, MissingSignatureError
from serverless_jwt.verifier import Verifier

if TYPE_CHECKING:
    from serverless_jwt.bearer import Headers

__all__ = ["HEADER", "check_signature", "require_netlify_signature", "signature_from_headers",
           "signature_verifier"]

HEADER = "x-nf-sign"
_FIXED = frozenset({"issuer", "algorithms", "secrets"})  # what every x-nf-sign is: no option changes it


def signature_verifier(secret: str | bytes | Sequence[str | bytes], **options: Any) -> Verifier:
    """A :class:`Verifier` for ``x-nf-sign`` values: HS256, ``iss`` exactly ``"netlify"``, ``exp`` required.

    ``options`` go to ``Verifier`` (``allow_short_secret=True`` for a short redirect secret,
    ``leeway_seconds``, ``clock``); ``issuer``, ``algorithms`` and ``secrets`` are fixed (a
    ``ConfigurationError``).

    Examples
    --------
    >>> signature_verifier("a-redirect-secret-of-32-bytes-xx").issuer
    'netlify'
    """
    fixed = sorted(_FIXED.intersection(options))
    if fixed:  # else a TypeError ("got multiple values for keyword argument"), not a configuration error
        raise ConfigurationError(f"x-nf-sign verification fixes {', '.join(fixed)} (HS256, iss netlify, "
                                 "the redirect's secret as the first argument)")
    return Verifier(secrets=secret, issuer="netlify", algorithms=["HS256"], **options)


def check_signature(values: Sequence[str], verifier: Verifier) -> dict[str, Any]:
    """Verify the ``x-nf-sign`` value(s) of one request; the signature's claims.

    The framework-free check every integration uses (Lambda decorator, FastAPI, Flask, ASGI, WSGI).

    Raises
    ------
    MissingSignatureError
        No ``x-nf-sign``: the request did not come through Netlify's signed proxy (401, a
        ``MissingTokenError`` with code ``signature_missing``).
    InvalidRequestError
        More than one value (400).
    InvalidTokenError
        A signature that is malformed, expired, not ``iss: netlify`` or signed with another secret.
    """
    if not values:
        raise MissingSignatureError()
    # A WSGI server joins a repeated header with commas; a JWS never holds one.
    if len(values) > 1 or "," in values[0]:
        raise InvalidRequestError("The request carries more than one Netlify signature")
    return verifier.verify(values[0].strip(" \t"))


def signature_from_headers(headers: Headers, verifier: Verifier) -> dict[str, Any]:
    """:func:`check_signature` on a request's headers (a mapping or ``(name, value)`` pairs).

    Examples
    --------
    >>> signature_from_headers(request.headers, signature_verifier(secret))  # doctest: +SKIP
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    values = [v.decode("latin-1") if isinstance(v, bytes) else v for n, v in pairs
              if (n.decode("latin-1") if isinstance(n, bytes) else n).lower() == HEADER]
    return check_signature(values, verifier)


def require_netlify_signature(
    secret: str | bytes | Sequence[str | bytes], *, realm: str | None = None, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse requests without a valid ``x-nf-sign`` header (401), i.e. not proxied by Netlify.

    Raises
    ------
    ConfigurationError
        At decoration, for an unusable secret.

    Examples
    --------
    >>> @require_netlify_signature(os.environ["NF_PROXY_SECRET"])  # doctest: +SKIP
    ... @require_auth(verifier)
    ... def handler(event, context): ...
    """
    from serverless_jwt._rejections import log_rejection
    from serverless_jwt.adapters._headers import realm_text
    from serverless_jwt.adapters.events import error_response, header_values
    from serverless_jwt.errors import AuthError

    verifier = signature_verifier(secret, **options)
    realm = realm_text(realm)

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def wrapper(event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
            request: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
            try:
                check_signature(header_values(request, HEADER), verifier)
            except AuthError as err:
                log_rejection(err, issuer="netlify")  # x-nf-sign tokens' fixed iss
                return error_response(request, err, realm=realm)
            return handler(event, context, *args, **kwargs)

        return wrapper

    return decorate
