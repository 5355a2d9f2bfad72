"""``error_headers`` (headers added to every refusal) and ``realm``, checked once, at configuration.

A header no server or gateway can send would otherwise fail every refusal at request time: API Gateway
and ALB answer a Lambda response with a non-string header value, or one holding a line break, with a
502; a WSGI server raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from serverless_jwt.errors import ConfigurationError

__all__ = ["error_header_map", "realm_text"]

_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # RFC 9110 field-value: no CR, LF or NUL
_FRAMING = frozenset({"content-length", "content-type", "transfer-encoding", "connection", "keep-alive",
                      "te", "trailer", "upgrade"})


def error_header_map(headers: Mapping[str, str] | None, *, server: bool) -> dict[str, str] | None:
    """``headers`` as a new dict (``None`` when empty); raises ConfigurationError when unusable.

    ``server``: the answer goes straight to an HTTP server (ASGI, WSGI), so framing and hop-by-hop
    headers are refused too (a Lambda proxy response has its framing set by API Gateway or the ALB).
    """
    if headers is None or (isinstance(headers, Mapping) and not headers):
        return None
    if not isinstance(headers, Mapping) or not all(
            isinstance(name, str) and _NAME.fullmatch(name) and isinstance(value, str)
            and _VALUE.fullmatch(value) for name, value in headers.items()):
        raise ConfigurationError("error_headers must map header names (RFC 9110 tokens) to values of "
                                 "visible latin-1 characters, spaces and tabs")
    folded = [name.lower() for name in headers]
    twice = sorted({name for name in headers if folded.count(name.lower()) > 1})
    if twice:
        # Header names are case-insensitive: both would be sent, and a client keeps either (or joins them).
        raise ConfigurationError(f"error_headers names one header twice: {', '.join(twice)}")
    framing = sorted(name for name in headers
                     if name.lower() in _FRAMING or name.lower().startswith("proxy-")) if server else ()
    if framing:
        # Ours to set (Content-Length, Content-Type) or the server's (hop-by-hop, RFC 9110 §7.6.1):
        # a second Content-Length desynchronizes a connection, and WSGI servers refuse hop-by-hop.
        raise ConfigurationError(f"error_headers cannot set {', '.join(framing)}")
    return dict(headers)


def realm_text(realm: str | None) -> str | None:
    """A configured ``realm``: text (characters a challenge cannot carry are dropped when it is sent)."""
    if realm is not None and not isinstance(realm, str):
        # Else every refusal would fail to build its WWW-Authenticate challenge: a 500, not a 401.
        raise ConfigurationError("realm must be text")
    return realm
