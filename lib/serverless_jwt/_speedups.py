"""Which native decoders the optional ``speedups`` extra brought, and the switch that turns them off.

``pip install serverless-jwt[speedups]`` adds msgspec (JSON) and pybase64 (base64), both written in C
with wheels for Lambda's x86_64 and arm64. :mod:`serverless_jwt.token` uses them when they import, and
decides on its own what a token means: each native decoder only proposes a reading, which is taken when
it provably equals the strict standard-library reading (:func:`native_json_object`,
:func:`serverless_jwt._base64url.native`); anything else goes to the strict path, which names the problem.

Set ``SERVERLESS_JWT_SPEEDUPS=0`` to never use them (read at import and again by each
:func:`serverless_jwt.token.use_speedups` call, which tests use to switch at run time: while it is set,
``use_speedups()`` cannot turn them on).

Each package is tried on its own, and only after it proved itself on a few known inputs at load (a few
microseconds): a package that is not installed is skipped silently; one that fails to import for another
reason (a wheel for another Python or architecture, a half-removed install), whose API changed, that
reads the known inputs wrongly, a pybase64 older than the extra's floor or without its compiled module
(its pure-Python fallback is slower than the strict path), is skipped with one warning on the
``serverless_jwt`` logger. Either way the standard-library path decodes, and nothing fails at import or
on a request.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from typing import Any

__all__ = ["B64Decode", "JsonCodec", "b64_decoder", "json_codec", "native_json_object"]

JsonCodec = tuple[Callable[[bytes], Any], Callable[[Any], bytes]]
"""``(decode, encode)``: bytes -> value, and value -> its compact JSON bytes."""
B64Decode = Callable[[bytes, bytes, bool], bytes]
"""pybase64's ``b64decode(data, altchars, validate)``."""

_log = logging.getLogger("serverless_jwt")
_PYBASE64_FLOOR = (1, 5)  # pyproject.toml's speedups extra: before 1.5, see its comment there
# A compact document with every kind of value, escapes and non-ASCII text: msgspec must read it as the
# standard library does and write it back byte for byte (what native_json_object relies on).
_JSON_PROBE = b'{"sub":"a\\"\\n","n":[1,-2,0.5,18446744073709551615,true,false,null],"o":{"\xc3\xa9":""}}'


def _enabled() -> bool:
    return os.environ.get("SERVERLESS_JWT_SPEEDUPS", "").strip() != "0"


def json_codec() -> JsonCodec | None:
    """msgspec's JSON ``(decode, encode)``, or ``None`` when it is missing, unusable or switched off."""
    if not _enabled():
        return None
    try:
        from msgspec.json import Decoder, Encoder

        codec: JsonCodec = (Decoder().decode, Encoder().encode)
        value = codec[0](_JSON_PROBE)
        works = value == json.loads(_JSON_PROBE) and codec[1](value) == _JSON_PROBE
    except ModuleNotFoundError as err:
        if err.name in ("msgspec", "msgspec.json"):
            return None  # not installed (or blocked with sys.modules["msgspec"] = None)
        works = False  # msgspec._core missing: a wheel for another architecture or Python
    except Exception:  # a broken install or another API: the strict path decodes
        works = False
    if not works:
        _unusable("msgspec")
        return None
    return codec


def b64_decoder() -> B64Decode | None:
    """pybase64's ``b64decode``, or ``None`` when it is missing, unusable or switched off."""
    if not _enabled():
        return None
    try:
        import pybase64

        decode: B64Decode = pybase64.b64decode
        version = re.match(r"(\d+)\.(\d+)", str(pybase64.__version__))
        # Without its compiled module (a wheel for another architecture, an sdist built without a
        # compiler) pybase64 falls back to Python code that is slower than the strict path itself.
        works = (version is not None and (int(version[1]), int(version[2])) >= _PYBASE64_FLOOR
                 and getattr(decode, "__module__", "") != "pybase64._fallback"
                 and decode(b"-_-_YQ==", b"-_", True) == b"\xfb\xff\xbfa"
                 and _refuses(decode, b"YW!Jj"))  # "YWJj" to a decoder skipping foreign bytes
    except ModuleNotFoundError as err:
        if err.name == "pybase64":
            return None  # not installed
        works = False
    except Exception:  # a broken install, another API, an unreadable version: the strict path decodes
        works = False
    if not works:
        _unusable("pybase64")
        return None
    return decode


def _refuses(decode: B64Decode, segment: bytes) -> bool:
    try:
        decode(segment, b"-_", True)
    except ValueError:  # binascii.Error, as _base64url.native expects
        return True
    return False


_warned: set[str] = set()


def _unusable(package: str) -> None:
    if package in _warned:  # one line per process, however often use_speedups() looks again
        return
    _warned.add(package)
    _log.warning("serverless_jwt: %s is installed but not usable here (a wheel for another architecture "
                 "or Python, a broken install, or an API or version this release does not know); tokens "
                 "are decoded without it, with the same verdicts", package)


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
