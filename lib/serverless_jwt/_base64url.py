"""Strict base64url (RFC 7515 §2, RFC 4648 §5 without padding): the two decoders that must agree.

:func:`strict_decode` is the reference, on the standard library's ``binascii``. :func:`native` wraps
pybase64's C decoder (the ``speedups`` extra) so that it refuses exactly what the reference refuses:
pybase64 with ``altchars=b"-_"`` and ``validate=True`` still reads '+' and '/' (it knows both
alphabets) and '=' where padding may stand, and it does not check the unused trailing bits. Both are
written here by hand because no library decodes *strict, unpadded, canonical* base64url: the standard
``base64.urlsafe_b64decode`` skips foreign bytes and accepts padding. Every refusal raises
:class:`MalformedTokenError` with one fixed description that never echoes the input.
"""

from __future__ import annotations

import binascii
import sys
from collections.abc import Callable
from typing import NoReturn

from serverless_jwt.errors import MalformedTokenError

__all__ = ["ALPHABET", "MESSAGE", "native", "strict_decode"]

MESSAGE = "The access token is not strict base64url"
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
# The same, and what the standard alphabet would accept but base64url does not ('+', '/', '=') becomes
# '!', which strict decoding refuses with every other foreign byte: one pass checks and translates.
_URL_TO_STD_STRICT = bytes.maketrans(b"-_+/=", b"+/!!!")
# A segment of length 4n+2 / 4n+3 ends with a character whose low 4 / 2 bits are unused: they must be
# zero, otherwise several strings decode to the same bytes (RFC 4648 §3.5 canonical encoding).
_CANONICAL_LAST: tuple[frozenset[int], ...] = (  # by len(segment) % 4; a remainder of 1 never decodes
    frozenset(), frozenset(), frozenset(ALPHABET[::16]), frozenset(ALPHABET[::4]))
_PADDING = (b"", b"", b"==", b"=")  # by len(segment) % 4


def _fail() -> NoReturn:
    raise MalformedTokenError(MESSAGE)


if sys.version_info >= (3, 11):
    def strict_decode(segment: bytes) -> bytes:
        """The bytes a base64url segment encodes. Raises MalformedTokenError."""
        if type(segment) is not bytes:
            _fail()
        rem = len(segment) & 3
        if rem and (rem == 1 or segment[-1] not in _CANONICAL_LAST[rem]):
            _fail()
        # Strict mode refuses anything outside the standard alphabet ('!', whitespace, '.', controls,
        # non-ASCII ...) and misplaced padding, which the lenient decoder would skip or accept.
        try:
            return binascii.a2b_base64(segment.translate(_URL_TO_STD_STRICT) + _PADDING[rem],
                                       strict_mode=True)
        except binascii.Error:
            raise MalformedTokenError(MESSAGE) from None
else:  # pragma: no cover - Python 3.10 has no strict mode: check the alphabet, then decode leniently
    def strict_decode(segment: bytes) -> bytes:
        """The bytes a base64url segment encodes. Raises MalformedTokenError."""
        if type(segment) is not bytes:
            _fail()
        rem = len(segment) & 3
        if rem and (rem == 1 or segment[-1] not in _CANONICAL_LAST[rem]):
            _fail()
        # One C-level pass: anything left after deleting the base64url alphabet is foreign ('=', '+',
        # '/', '.', whitespace, controls ...), which the lenient binascii decoder would skip or accept.
        if segment.translate(None, ALPHABET):
            _fail()
        try:
            return binascii.a2b_base64(segment.translate(_URL_TO_STD) + _PADDING[rem])
        except binascii.Error:  # unreachable after the checks above; kept so nothing foreign escapes
            raise MalformedTokenError(MESSAGE) from None


def native(decode: Callable[[bytes, bytes, bool], bytes]) -> Callable[[bytes], bytes]:
    """:func:`strict_decode` over pybase64's ``b64decode(data, altchars, validate)``: same results,
    same refusals, about half the time on segments of token size."""
    canonical_last, padding = _CANONICAL_LAST, _PADDING

    def native_decode(segment: bytes) -> bytes:
        if type(segment) is not bytes:
            _fail()
        rem = len(segment) & 3
        if rem and (rem == 1 or segment[-1] not in canonical_last[rem]):
            _fail()
        # '+', '/' and '=' are the three bytes pybase64 would take that base64url without padding does
        # not; every other foreign byte it refuses itself. `int in bytes` is one memchr (a bytes needle
        # goes through the slower substring search).
        if 43 in segment or 47 in segment or 61 in segment:
            _fail()
        try:
            return decode(segment + padding[rem], b"-_", True)
        except (ValueError, TypeError):  # binascii.Error is a ValueError; MemoryError goes on, as there
            raise MalformedTokenError(MESSAGE) from None

    return native_decode
