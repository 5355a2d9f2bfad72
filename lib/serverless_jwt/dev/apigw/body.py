"""Read a request body as API Gateway receives it: by ``Content-Length`` or chunked (RFC 9112 §7.1).

``http.server`` does not decode ``Transfer-Encoding: chunked``; these few lines do, rather than making a
web framework a dependency of the dev tools for it alone. Bodies are capped at API Gateway's 10 MB
payload limit; a bad chunk size, a short body or a bad ``Content-Length`` is a 400, never a hang on
a body that will not come (the client's own socket timeout still applies).
"""

from __future__ import annotations

from typing import Any

from serverless_jwt.dev._http_framing import CHUNK_LINE_BYTES, BadFraming, chunk_size, framing

__all__ = ["MAX_BODY_BYTES", "BadRequestBody", "read_body"]

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


class BadRequestBody(ValueError):
    """The request body cannot be read (bad chunking, bad length) or is over the size limit."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "bad_request" | "too_large"


def read_body(rfile: Any, headers: Any, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body by ``Content-Length`` or chunked transfer coding; raises :class:`BadRequestBody`.

    ``headers`` needs ``get(name)`` (an ``email.message.Message`` as ``http.server`` gives, or a dict);
    lengths, codings and chunk sizes are read by :mod:`serverless_jwt.dev._http_framing`, as the dev
    issuer reads them. A request with both ``Transfer-Encoding`` and ``Content-Length`` is read by the
    former; the caller closes the connection after it (``framing(headers).close_after``).

    Examples
    --------
    >>> import io
    >>> read_body(io.BytesIO(b"3\\r\\nabc\\r\\n0\\r\\n\\r\\n"), {"Transfer-Encoding": "chunked"})
    b'abc'
    """
    try:
        frame = framing(headers)
        if frame.chunked:
            return _chunked(rfile, limit)
    except BadFraming:
        raise BadRequestBody("bad_request") from None
    length = frame.length or 0
    if length > limit:
        raise BadRequestBody("too_large")
    data = rfile.read(length) if length else b""
    if len(data) != length:
        raise BadRequestBody("bad_request")
    return bytes(data)


def _chunked(rfile: Any, limit: int) -> bytes:
    out = bytearray()
    while True:
        size = chunk_size(rfile.readline(CHUNK_LINE_BYTES))
        if size == 0:
            break
        if len(out) + size > limit:
            raise BadRequestBody("too_large")
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise BadRequestBody("bad_request")
        out += chunk
    for _ in range(100):  # trailer fields, then the empty line
        if rfile.readline(8192) in (b"\r\n", b"\n", b""):
            return bytes(out)
    raise BadRequestBody("bad_request")
