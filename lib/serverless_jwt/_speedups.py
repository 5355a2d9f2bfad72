"""Which native decoders the optional ``speedups`` extra brought, and the switch that turns them off.

``pip install serverless-jwt[speedups]`` adds msgspec (JSON) and pybase64 (base64), both written in C
with wheels for Lambda's x86_64 and arm64. :mod:`serverless_jwt.token` uses them when they import, and
decides on its own what a token means: each native decoder only proposes a reading, which is taken when
it provably equals the strict standard-library reading (:func:`native_json_object`,
:func:`serverless_jwt._base64url.native`); anything else goes to the strict path, which names the problem.

Set ``SERVERLESS_JWT_SPEEDUPS=0`` to never use them (read at import and again by each
:func:`serverless_jwt.token.use_speedups` call, which tests use to switch at run time: while it is set,
``use_speedups()`` cannot turn them on).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["B64Decode", "JsonCodec", "b64_decoder", "json_codec", "native_json_object"]

JsonCodec = tuple[Callable[[bytes], Any], Callable[[Any], bytes]]
"""``(decode, encode)``: bytes -> value, and value -> its compact JSON bytes."""
B64Decode = Callable[[bytes, bytes, bool], bytes]
"""pybase64's ``b64decode(data, altchars, validate)``."""


def _enabled() -> bool:
    return os.environ.get("SERVERLESS_JWT_SPEEDUPS", "").strip() != "0"


def json_codec() -> JsonCodec | None:
    """msgspec's JSON ``(decode, encode)``, or ``None`` when it is missing or switched off."""
    if not _enabled():
        return None
    try:
        from msgspec.json import Decoder, Encoder
    except ImportError:
        return None
    return Decoder().decode, Encoder().encode


def b64_decoder() -> B64Decode | None:
    """pybase64's ``b64decode``, or ``None`` when it is missing or switched off."""
    if not _enabled():
        return None
    try:
        from pybase64 import b64decode
    except ImportError:
        return None
    return b64decode


def native_json_object(codec: JsonCodec, strict: Callable[[bytes], dict[str, Any]],
                       max_depth: int) -> Callable[[bytes], dict[str, Any]]:
    """A JSON-object reader that uses ``codec`` when that provably equals ``strict``, else ``strict``."""
    decode, encode = codec

    def json_object(raw: bytes) -> dict[str, Any]:
        # msgspec refuses what the strict path refuses (NaN, 1e400, lone surrogates, a BOM, raw control
        # characters, invalid UTF-8) and integers past 64 bits, but keeps the last of duplicate names
        # and reads escapes, whitespace and number spellings its own way. Its reading is taken only
        # when re-encoding it compactly gives the input back byte for byte: then nothing was dropped (no
        # duplicate), and there is no whitespace, no escape but those it writes itself and no number
        # but in its shortest form, so the strict path would read exactly this object. Anything else,
        # its errors included, goes to the strict path, which names the problem. Depth is bounded the
        # same way as there: never more opening brackets than the limit. (A document whose only
        # bracket is its first byte needs no count; `in` with an int is one memchr.)
        if (91 not in raw and raw.find(123, 1) < 0) or raw.count(123) + raw.count(91) <= max_depth:
            try:
                value = decode(raw)
            except Exception:
                value = None
            if type(value) is dict and encode(value) == raw:
                return value
        return strict(raw)

    return json_object
