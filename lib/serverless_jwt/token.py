"""Strict compact-JWS parsing: ``"<header>.<payload>.<signature>"`` -> :class:`ParsedToken`.

Nothing here is trusted yet: the signature is checked later by the verifier. Parsing therefore rejects
anything a lenient decoder would silently repair (padding, the standard base64 alphabet, non-canonical
trailing bits, duplicate JSON members, non-finite numbers), so that the bytes that get signed and the
values that get checked can only have one meaning. Every rejection is a :class:`MalformedTokenError`
with a fixed description that never echoes the input. With the ``speedups`` extra, JSON is read
natively when that provably gives the same object (:mod:`serverless_jwt._speedups`); verdicts never
depend on it.
"""

from __future__ import annotations

import json
import json.scanner as _json_scanner
import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple, NoReturn

from serverless_jwt import _base64url, _speedups
from serverless_jwt.errors import MalformedTokenError

__all__ = ["MAX_JSON_DEPTH", "ParsedToken", "decode", "parse", "use_speedups"]

#: Deepest container nesting accepted in the header or payload (the top-level object counts as 1).
MAX_JSON_DEPTH = 20

_NOT_STR = "The access token must be a string"
_TOO_LARGE = "The access token is too large"
_NOT_ASCII = "The access token contains characters outside ASCII"
_JWE = "Encrypted tokens (JWE) are not accepted"
_SEGMENTS = "The access token must have exactly three dot-separated segments"
_EMPTY_SEGMENT = "The access token has an empty segment"
_UTF8 = "The access token header or payload is not valid UTF-8"
_BOM = "The access token header or payload starts with a byte order mark"
_JSON = "The access token header or payload is not valid JSON"
_NOT_OBJECT = "The access token header or payload is not a JSON object"
_DUPLICATE = "The access token header or payload has duplicate member names"
_NON_FINITE = "The access token header or payload contains a non-finite number"
_TOO_DEEP = "The access token header or payload is nested too deeply"
_SURROGATE = "The access token header or payload contains an unpaired surrogate escape"
_ALG = "The access token header has no valid 'alg'"
_CRIT_INVALID = "The access token header has an invalid 'crit'"
_CRIT = "The access token requires an unsupported critical extension"
_B64 = "Unencoded-payload tokens (RFC 7797 'b64') are not accepted"
_HEADER_PARAM = "The access token header has a parameter of the wrong type"
_NESTED = "Nested tokens (cty 'JWT') are not accepted"
_JWE_PARAM = "The access token header has an encryption parameter ('enc' or 'zip')"

# Strings are removed before measuring depth so brackets inside them do not count. An unterminated
# string runs to the end of input, so the match never fails and retries (linear, not quadratic).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS_ONLY_TABLE = bytes.maketrans(b"{[}]", b"(())")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"{[}]")
_NOT_OPENERS_OR_BACKSLASH = bytes(b for b in range(256) if b not in b"{[\\")


class ParsedToken(NamedTuple):
    """A syntactically valid compact JWS whose signature has not been checked yet (immutable).

    Parameters
    ----------
    header:
        The protected header, a strict JSON object.
    claims:
        The payload, a strict JSON object.
    signing_input:
        ASCII bytes of ``"<header b64>.<payload b64>"``, exactly as received.
    signature:
        The decoded signature bytes.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


class _Reject(Exception):
    """Internal: a JSON hook refused the document; carries the fixed description."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _fail(description: str) -> NoReturn:
    raise MalformedTokenError(description)


def parse(token: str, *, max_bytes: int = 16384) -> ParsedToken:
    """Split and decode a compact JWS without verifying it.

    Parameters
    ----------
    token:
        The bearer token, ``"<header>.<payload>.<signature>"`` in strict base64url.
    max_bytes:
        Longest token accepted; checked before any decoding.

    Returns
    -------
    ParsedToken
        Header, claims, signing input and signature.

    Raises
    ------
    MalformedTokenError
        For anything that is not a strict compact JWS with JSON object header and payload, or whose
        header asks for something this library does not support (``crit``, ``b64``, nested JWTs,
        JWE). No other exception escapes.

    Examples
    --------
    >>> t = parse("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")
    >>> t.header, t.claims, t.signature
    ({'alg': 'HS256'}, {'sub': 'a'}, b'sig')
    """
    data, h64, p64, s64 = split(token, max_bytes=max_bytes)
    header = dict(decode_header(h64))  # the header's problems are named first
    return ParsedToken(header, decode_payload(p64), data[: len(h64) + 1 + len(p64)], decode_signature(s64))


def decode(token: str, *, max_bytes: int = 16384) -> tuple[bytes, dict[str, Any], bytes, bytes]:
    """:func:`split`, then the payload and the signature: ``(header segment, claims, signing input,
    signature)``, the verifier's request path in one call. The header is left to :func:`decode_header`
    (cached), so a token with a bad header and a bad payload is refused for its payload here.

    Raises :class:`MalformedTokenError`.
    """
    data, h64, p64, s64 = split(token, max_bytes=max_bytes)
    claims = _decode_json(_b64decode(p64))
    return h64, claims, data[: len(h64) + 1 + len(p64)], _b64decode(s64)


def split(token: str, *, max_bytes: int = 16384) -> tuple[bytes, bytes, bytes, bytes]:
    """The first step of :func:`parse`: ``(token bytes, header, payload, signature segments)``.

    Checks type, size (before anything else), ASCII and exactly three non-empty segments; decodes
    nothing. Each ``decode_*`` step checks its segment's base64url alphabet (a header segment found in
    the cache was checked when it was first decoded). Raises :class:`MalformedTokenError`.
    """
    if not isinstance(token, str):
        _fail(_NOT_STR)
    # Size first: nothing below may spend work on an oversized input.
    if len(token) > max_bytes:
        _fail(_TOO_LARGE)
    if not token.isascii():
        _fail(_NOT_ASCII)
    data = token.encode("ascii")
    segments = data.split(b".")
    if len(segments) != 3:
        _fail(_JWE if len(segments) == 5 else _SEGMENTS)
    h64, p64, s64 = segments
    if not (h64 and p64 and s64):
        _fail(_EMPTY_SEGMENT)
    return data, h64, p64, s64


def decode_header(segment: bytes) -> dict[str, Any]:
    """The checked header of a header segment from :func:`split`; shared and cached: do not mutate.

    Every token of one issuer and key has the same header segment, so it is decoded and checked
    once. Raises :class:`MalformedTokenError`.
    """
    header = _HEADERS.get(segment)
    if header is None:
        header = _decode_json(_b64decode(segment))
        _check_header(header)
        if len(_HEADERS) >= _HEADER_CACHE_SIZE:
            _HEADERS.clear()
        _HEADERS[segment] = header
    return header


def decode_payload(segment: bytes) -> dict[str, Any]:
    """The claims of a payload segment from :func:`split` (a new dict). Raises MalformedTokenError."""
    return _decode_json(_b64decode(segment))


def decode_signature(segment: bytes) -> bytes:
    """The signature bytes of a signature segment from :func:`split`. Raises MalformedTokenError."""
    return _b64decode(segment)


_HEADER_CACHE_SIZE = 64
_HEADERS: dict[bytes, dict[str, Any]] = {}  # header segment -> its decoded, already-checked header
def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    # Duplicate names would let two parties read two different values from one signed payload.
    if len(obj) != len(pairs):
        raise _Reject(_DUPLICATE)
    return obj


def _constant(_name: str) -> NoReturn:
    # NaN / Infinity / -Infinity are not JSON (RFC 8259 §6).
    raise _Reject(_NON_FINITE)


def _float(text: str) -> float:
    value = float(text)
    # 1e400 overflows to inf: the same non-finite number by another spelling.
    if not math.isfinite(value):
        raise _Reject(_NON_FINITE)
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_object_pairs, parse_constant=_constant, parse_float=_float)
# The C scanner with the hooks above: (text, index) -> (value, end). typeshed types its argument as
# another scanner; at run time any decoder is the context it reads its settings from.
_SCAN = _json_scanner.make_scanner(_DECODER)  # type: ignore[arg-type]
# The same without the duplicate-name hook (which costs ~0.5 µs a payload in tuples and calls), for flat
# documents only, whose commas then prove there was no duplicate (see _json_object).
_FLAT_SCAN = _json_scanner.make_scanner(
    json.JSONDecoder(parse_constant=_constant, parse_float=_float))  # type: ignore[arg-type]


def _too_deep(raw: bytes) -> bool:
    shape = _JSON_STRING.sub(b"", raw).translate(_BRACKETS_ONLY_TABLE, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        if not shape:
            return False
        shape = shape.replace(b"()", b"")
    return bool(shape)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")  # strict: rejects overlongs, encoded surrogates, UTF-16/32 bytes
    except UnicodeDecodeError:
        raise MalformedTokenError(_UTF8) from None
    # Fast path for the usual document: an object from the first byte to the last, shallow (at most
    # MAX_JSON_DEPTH opening brackets), without any backslash escape. The scanner applies the same
    # hooks as the full path (duplicates, non-finite numbers); anything else it is unsure about goes
    # to the full path, which names the problem.
    # A document whose only bracket is its first byte and which has no backslash needs no count:
    # `int in bytes` is one memchr each, far cheaper than the deleting translate.
    flat = 91 not in raw and 92 not in raw and raw.find(123, 1) < 0
    if flat:
        # No array, no nested object, no escape: outside strings the only commas separate the object's
        # m members, so commas + 1 = m + (commas inside strings) >= m >= len(value). Equality proves m
        # distinct names (a duplicate collapses into one key); anything else takes the hooked scan.
        # Being flat also keeps depth and escapes (lone surrogates) off this scan: not a simplification.
        try:
            value, end = _FLAT_SCAN(text, 0)
        except (StopIteration, _Reject, ValueError, RecursionError):
            return _strict_json_object(raw, text)
        if end == len(text) and type(value) is dict and raw.count(44) + 1 == len(value):
            return value
    if flat or (len(marks := raw.translate(None, _NOT_OPENERS_OR_BACKSLASH)) <= MAX_JSON_DEPTH
                and 92 not in marks):
        try:
            value, end = _SCAN(text, 0)
        except (StopIteration, _Reject, ValueError, RecursionError):
            pass
        else:
            if end == len(text) and type(value) is dict:
                return value
    return _strict_json_object(raw, text)


def _strict_json_object(raw: bytes, text: str) -> dict[str, Any]:
    if text.startswith("\ufeff"):
        _fail(_BOM)
    # Cheap bound first: depth can never exceed the number of opening brackets.
    if raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH and _too_deep(raw):
        _fail(_TOO_DEEP)
    try:
        value = _DECODER.decode(text)
    except _Reject as exc:
        raise MalformedTokenError(exc.description) from None
    except RecursionError:  # only reachable when the caller's own stack is already deep
        raise MalformedTokenError(_TOO_DEEP) from None
    except ValueError:  # JSONDecodeError, and int() refusing a number with too many digits
        raise MalformedTokenError(_JSON) from None
    if not isinstance(value, dict):
        _fail(_NOT_OBJECT)
    if b"\\u" in raw:
        # "\ud800" decodes to a lone surrogate that no UTF-8 consumer can represent; re-encoding the
        # document is the cheapest exact test, and only escaped documents pay for it.
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedTokenError(_SURROGATE) from None
    return value


def _check_header(header: dict[str, Any]) -> None:
    # The allow-list is the verifier's job; a non-string alg can only be an attack or a bug.
    if not isinstance(header.get("alg"), str):
        _fail(_ALG)
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            _fail(_CRIT_INVALID)
        # RFC 7515 §4.1.11: we understand no extension, so any listed one must make us reject.
        _fail(_CRIT)
    # RFC 7797 unencoded payloads change what is signed; unsupported, so never guessed at.
    if "b64" in header:
        _fail(_B64)
    # "enc" marks a JWE (RFC 7516 §9) and "zip" a compressed JWE payload: in a JWS header either would
    # let a reader that honours it (inflating the payload, say) read other claims than we check.
    if "enc" in header or "zip" in header:
        _fail(_JWE_PARAM)
    for name in ("kid", "typ", "cty"):
        if name in header and not isinstance(header[name], str):
            _fail(_HEADER_PARAM)
    cty = header.get("cty")
    # A nested JWT would need a second verification this library does not do.
    # A media type may carry parameters ("application/jwt; charset=utf-8"): the type alone decides.
    if cty is not None and cty.split(";", 1)[0].strip().lower().removeprefix("application/") == "jwt":
        _fail(_NESTED)


_decode_json: Callable[[bytes], dict[str, Any]] = _json_object
_b64decode: Callable[[bytes], bytes] = _base64url.strict_decode


def use_speedups(enabled: bool = True) -> bool:
    """Decode with the ``speedups`` extra's native JSON and base64 (the default when it is installed).

    Verdicts and claims never depend on it; ``use_speedups(False)`` sends every segment down the
    standard-library path (tests cover both this way). ``SERVERLESS_JWT_SPEEDUPS=0`` in the
    environment keeps the native decoders off for good. Each native decoder is used when its package
    imports (msgspec for JSON, pybase64 for base64).

    Returns
    -------
    bool
        Whether a native decoder is now in use.

    Examples
    --------
    >>> use_speedups(False)
    False
    >>> _ = use_speedups()
    """
    global _decode_json, _b64decode
    codec = _speedups.json_codec() if enabled else None
    b64 = _speedups.b64_decoder() if enabled else None
    # The strict paths stay the judges: a native reading is taken only when provably the same.
    _decode_json = _json_object if codec is None else _speedups.native_json_object(
        codec, _json_object, MAX_JSON_DEPTH)
    _b64decode = _base64url.strict_decode if b64 is None else _base64url.native(b64)
    _HEADERS.clear()
    return codec is not None or b64 is not None


use_speedups()
