"""Where a request's body ends (RFC 9112 §6): one reading of ``Content-Length``, ``Transfer-Encoding``
and chunk sizes for both local servers (the API's ``apigw/body.py`` and the dev issuer's
``_issuer_http.py``).

Its own module because both servers must frame a request the same strict way: two readings of the same
bytes are how a body becomes a second request on the connection (request smuggling). ``int()`` is not
a framing parser: it takes ``+5``, ``0x5``, ``0_5``, ``' 5'``, non-ASCII digits (``'²'`` passes
``str.isdigit`` and then fails in ``int``) and refuses more than 4300 digits with a ``ValueError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CHUNK_LINE_BYTES", "BadFraming", "Framing", "chunk_size", "framing"]

_DIGITS = re.compile(r"[0-9]+")
_HEXDIGITS = re.compile(rb"[0-9A-Fa-f]+")
# A length with more digits than this is past every cap here (10 MB) however it is read, and is
# reported as too large: its exact value never matters, and it is never handed to int() whole.
_MAX_DIGITS = 15
TOO_LONG = 10**_MAX_DIGITS
CHUNK_LINE_BYTES = 1024  # a chunk-size line with its extensions: both servers read at most this much


class BadFraming(ValueError):
    """The request's framing is malformed or ambiguous: a 400 (RFC 9112), then the connection closes."""


@dataclass(frozen=True)
class Framing:
    """How the body is sent: ``chunked``, else ``length`` bytes (``None``: no ``Content-Length``)."""

    chunked: bool
    length: int | None
    # Transfer-Encoding and Content-Length both sent: read by Transfer-Encoding, and the connection is
    # closed after the answer (RFC 9112 §6.1), for a front end may have framed it by the other.
    close_after: bool

    @property
    def has_body(self) -> bool:
        """Whether bytes follow the header: left unread, they would be parsed as the next request."""
        return self.chunked or bool(self.length)


def _fields(headers: Any, name: str) -> list[str]:
    get_all = getattr(headers, "get_all", None)
    fields = get_all(name) if get_all is not None else [headers.get(name)]
    # List members are separated by commas with optional SP / HTAB around them (RFC 9110 §5.6.1);
    # str.strip() would also take Unicode spaces such as U+00A0.
    return [v.strip(" \t") for field in fields or () if field is not None for v in str(field).split(",")]


def framing(headers: Any) -> Framing:
    """The request's :class:`Framing`; raises :class:`BadFraming`.

    ``headers`` needs ``get(name)`` (and ``get_all(name)`` to see repeated fields, as the
    ``email.message.Message`` of ``http.server`` has). Every ``Content-Length`` field and list member
    must be ASCII digits and all must agree (RFC 9112 §6.3); when ``Transfer-Encoding`` is sent, it
    must be ``chunked`` alone: chunked must be the final coding (§6.3) and sent once (§7), and these
    servers undo no other (``gzip, chunked`` would reach the function still compressed).

    Examples
    --------
    >>> framing({"Content-Length": "3"})
    Framing(chunked=False, length=3, close_after=False)
    >>> framing({"Transfer-Encoding": "chunked"}).chunked
    True
    """
    codings = [c.lower() for c in _fields(headers, "Transfer-Encoding")]
    lengths = set(_fields(headers, "Content-Length"))
    if codings and codings != ["chunked"]:  # gzip or another coding these servers cannot undo
        raise BadFraming("a transfer coding other than chunked")
    if any(not _DIGITS.fullmatch(v) for v in lengths) or len({v.lstrip("0") for v in lengths}) > 1:
        raise BadFraming("malformed or disagreeing Content-Length")
    length = None
    if lengths:
        digits = lengths.pop().lstrip("0") or "0"
        length = TOO_LONG if len(digits) > _MAX_DIGITS else int(digits)
    return Framing(chunked=bool(codings), length=length, close_after=bool(codings) and length is not None)


def chunk_size(line: bytes) -> int:
    """The size on a chunk's first line (``1*HEXDIG`` then optional ``;extensions``, RFC 9112 §7.1);
    raises :class:`BadFraming`. Sizes past :data:`TOO_LONG` are read as it.

    >>> chunk_size(b"1a;name=value\\r\\n")
    26
    """
    if not line.endswith(b"\n"):
        raise BadFraming("chunk size line cut short")
    size, semicolon, _ = line.rstrip(b"\r\n").partition(b";")
    if semicolon:
        size = size.rstrip(b" \t")  # BWS before the extension
    if not _HEXDIGITS.fullmatch(size):
        raise BadFraming("malformed chunk size")
    digits = size.lstrip(b"0") or b"0"
    return TOO_LONG if len(digits) > _MAX_DIGITS else int(digits, 16)
