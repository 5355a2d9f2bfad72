"""Which native decoders the optional ``speedups`` extra brought, and the switch that turns them off.

``pip install serverless-jwt[speedups]`` adds msgspec, whose JSON decoder and encoder are written in C.
:mod:`serverless_jwt.token` uses them when they import, and decides on its own what a token means:
the native decoder only proposes a reading, which is taken when re-encoding it gives back the input
byte for byte; anything else goes to the strict standard-library path (:func:`native_json_object`).

Base64url stays on the standard library: ``binascii`` in strict mode after one translation measured
as fast as pybase64 on segments of JWT size (the call, not the decoding, dominates there).

Set ``SERVERLESS_JWT_SPEEDUPS=0`` to never use them (read once, at import); tests switch at run time
with :func:`serverless_jwt.token.use_speedups`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["JsonCodec", "json_codec", "native_json_object"]

JsonCodec = tuple[Callable[[bytes], Any], Callable[[Any], bytes]]
"""``(decode, encode)``: bytes -> value, and value -> its compact JSON bytes."""


def json_codec() -> JsonCodec | None:
    """msgspec's JSON ``(decode, encode)``, or ``None`` when it is missing or switched off."""
    if os.environ.get("SERVERLESS_JWT_SPEEDUPS", "").strip() == "0":
        return None
    try:
        from msgspec.json import decode, encode
    except ImportError:
        return None
    return decode, encode


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
        # same way as there: never more opening brackets than the limit.
        if raw.count(b"{") + raw.count(b"[") <= max_depth:
            try:
                value = decode(raw)
            except Exception:
                value = None
            if type(value) is dict and encode(value) == raw:
                return value
        return strict(raw)

    return json_object
