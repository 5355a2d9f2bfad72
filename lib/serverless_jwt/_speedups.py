"""Which native decoders the optional ``speedups`` extra brought, and the switch that turns them off.

``pip install serverless-jwt[speedups]`` adds msgspec, whose JSON decoder and encoder are written in C.
:mod:`serverless_jwt.token` uses them when they import, and decides on its own what a token means:
the native decoder only proposes a reading, which is taken when re-encoding it gives back the input
byte for byte; anything else goes to the strict standard-library path (see ``token._native_json``).

Base64url stays on the standard library: ``binascii`` in strict mode after one translation measured
as fast as pybase64 on segments of JWT size (the call, not the decoding, dominates there).

Set ``SERVERLESS_JWT_SPEEDUPS=0`` to never use them (read once, at import); tests switch at run time
with :func:`serverless_jwt.token.use_speedups`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["JsonCodec", "json_codec"]

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
