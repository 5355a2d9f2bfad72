"""Read a request body as API Gateway receives it: by ``Content-Length`` or chunked (RFC 9112 §7.1).

``http.server`` does not decode ``Transfer-Encoding: chunked``; these few lines do, rather than making a
web framework a dependency of the dev tools for it alone. Bodies are capped at API Gateway's 10 MB
payload limit; a bad chunk size, a short body or a bad ``Content-Length`` is a 400, never a hang on
a body that will not come (the client's own socket timeout still applies).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_BODY_BYTES", "BadRequestBody", "read_body"]

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


class BadRequestBody(ValueError):
    """The request body cannot be read (bad chunking, bad length) or is over the size limit."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "bad_request" | "too_large"


def read_body(rfile: Any, headers: Any, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body by ``Content-Length`` or chunked transfer coding; raises :class:`BadRequestBody`.

    ``headers`` needs ``get(name)`` (an ``email.message.Message`` as ``http.server`` gives, or a dict).

    Examples
    --------
    >>> import io
    >>> read_body(io.BytesIO(b"3\\r\\nabc\\r\\n0\\r\\n\\r\\n"), {"Transfer-Encoding": "chunked"})
    b'abc'
    """
    coding = (headers.get("Transfer-Encoding") or "").lower()
    if coding:
        if [c.strip() for c in coding.split(",")][-1] != "chunked":
            raise BadRequestBody("bad_request")
        out = bytearray()
        while True:
            line = rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequestBody("bad_request") from None
            if size < 0 or not line.endswith(b"\n"):
                raise BadRequestBody("bad_request")
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
    # Every Content-Length field and list member: lengths that differ (`5` and `7`) make the body's end
    # ambiguous, a request-smuggling shape that RFC 9112 §6.3 makes an unrecoverable 400.
    get_all = getattr(headers, "get_all", None)
    fields = get_all("Content-Length") if get_all is not None else [headers.get("Content-Length")]
    lengths = {v.strip() for field in fields or () if field is not None for v in field.split(",")}
    if not lengths:
        return b""
    raw = lengths.pop()
    if lengths or not raw.isdigit():
        raise BadRequestBody("bad_request")
    length = int(raw)
    if length > limit:
        raise BadRequestBody("too_large")
    data = rfile.read(length) if length else b""
    if len(data) != length:
        raise BadRequestBody("bad_request")
    return bytes(data)
