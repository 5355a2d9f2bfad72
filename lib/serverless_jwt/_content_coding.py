"""A response body's ``Content-Encoding`` undone, within the size cap (for :mod:`serverless_jwt._http`).

We ask for ``Accept-Encoding: identity``, but a CDN or proxy in front of an issuer may compress anyway
(RFC 9110 §12.5.3 says a server *should* not). Reading such a key set keeps the issuer usable: refusing
it would be an outage of ours alone, since browsers, requests and fetch-based clients decode it. The
decoded size is capped as the raw one is, so a small compressed body cannot expand past the cap.
"""

from __future__ import annotations

import sys
import zlib

from serverless_jwt._http import FetchError

__all__ = ["decode_body"]

# wbits: 16 + MAX_WBITS reads the gzip wrapper; MAX_WBITS the zlib one, -MAX_WBITS raw deflate (what
# some servers send as "deflate", against RFC 9110 §8.4.1.2).
_GZIP = 16 + zlib.MAX_WBITS


def decode_body(body: bytes, coding: str | None, max_bytes: int) -> bytes:
    """``body`` with ``coding`` (the Content-Encoding header) undone, at most ``max_bytes`` long.

    Raises :class:`FetchError`: ``too_large`` past the cap, ``bad_encoding`` for a coding we cannot
    undo (several, or one other than gzip and deflate) or a body that is not what it claims.
    """
    name = (coding or "").strip().lower()
    if name in ("", "identity"):
        return body
    if name in ("gzip", "x-gzip"):
        return _inflate(body, _GZIP, max_bytes)
    if name == "deflate":
        try:
            return _inflate(body, zlib.MAX_WBITS, max_bytes)
        except FetchError as exc:
            if exc.reason != "bad_encoding":
                raise
            return _inflate(body, -zlib.MAX_WBITS, max_bytes)
    raise FetchError("bad_encoding")


def _inflate(body: bytes, wbits: int, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        # One byte past the cap tells "too large"; zlib takes a C ssize_t (a cap of sys.maxsize, "none",
        # plus one would be an OverflowError out of get_json).
        out = inflater.decompress(body, min(max_bytes, sys.maxsize - 1) + 1)
    except zlib.error:
        raise FetchError("bad_encoding") from None
    if len(out) > max_bytes:
        raise FetchError("too_large")
    if not inflater.eof or inflater.unused_data:  # cut short, or something after the stream
        raise FetchError("bad_encoding")
    return out
