"""Strict base64url: the reference decoder's rules, and pybase64 held to exactly the same verdicts.

``strict_decode`` (standard library) is the reference. ``native`` (pybase64, from the ``speedups``
extra) may never accept what the reference refuses or read different bytes: every byte value at every
position, padding, both alphabets, non-canonical trailing bits and generated segments are decoded both
ways and compared.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serverless_jwt import _base64url, _speedups
from serverless_jwt.errors import MalformedTokenError

_PYBASE64 = _speedups.b64_decoder()
native_only = pytest.mark.skipif(_PYBASE64 is None, reason="the speedups extra (pybase64) is not in use")
_native = _base64url.native(_PYBASE64) if _PYBASE64 is not None else _base64url.strict_decode
_strict = _base64url.strict_decode
REFUSED = ("error", _base64url.MESSAGE)


def _outcome(decode: Any, segment: Any) -> tuple[str, Any]:
    try:
        return "ok", decode(segment)
    except MalformedTokenError as err:
        return "error", err.description


def _encode(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


# --- the reference's rules ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"a", b"ab", b"abc", b"abcd", bytes(range(256)), b"\xfb\xff\xbf"])
def test_unpadded_base64url_decodes_to_its_bytes(raw: bytes) -> None:
    assert _strict(_encode(raw)) == raw


@pytest.mark.parametrize("segment", [
    b"YQ==",  # padding
    b"YQ=",
    b"+w",  # the standard alphabet's '+' and '/'
    b"_/8",
    b"YW Jj",  # whitespace, which a lenient decoder skips
    b"YWJj\n",
    b"YW.j",
    b"Y",  # a length of 4n+1 encodes nothing
    b"YWJjZ",
    b"YR",  # non-canonical: unused trailing bits set ("YQ" is the one encoding of b"a")
    b"YWJ",
    b"YW\xc3\xa9",  # non-ASCII
    b"YW\x00j",
])
def test_what_a_lenient_decoder_would_repair_is_refused(segment: bytes) -> None:
    assert _outcome(_strict, segment) == REFUSED


def _canonical_tails() -> list[bytes]:
    # Every segment of length 2 and 3 (the two lengths with unused trailing bits), alone and after a
    # full quantum: the reference is judged against the standard library's lenient decoder and encoder.
    letters = [bytes([c]) for c in _base64url.ALPHABET]
    twos = [a + b for a in letters for b in letters]
    return [*twos, *(two + c for two in twos for c in letters)]


_TAILS = _canonical_tails()


def test_exactly_the_canonical_encoding_of_each_tail_is_accepted() -> None:
    # "YR" and "YWJ" alone do not pin the table of allowed last characters down: a table letting in
    # one more letter per remainder ("AI", "AAC") would still refuse both, in both decoders at once.
    wrong = []
    for tail in _TAILS:
        for segment in (tail, b"YWJj" + tail):
            decoded = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
            expected = ("ok", decoded) if _encode(decoded) == segment else REFUSED
            if _outcome(_strict, segment) != expected or _outcome(_native, segment) != expected:
                wrong.append(segment)
    assert wrong == []


@pytest.mark.parametrize("value", ["YWJj", bytearray(b"YWJj"), memoryview(b"YWJj"), None, 7])
def test_only_bytes_are_decoded(value: Any) -> None:
    expected = ("ok", b"abc") if type(value) is bytes else REFUSED
    assert _outcome(_strict, value) == expected
    assert _outcome(_native, value) == expected


def test_the_refusal_never_echoes_the_segment() -> None:
    with pytest.raises(MalformedTokenError) as info:
        _strict(b"c2VjcmV0LXZhbHVl!")
    assert "c2VjcmV0" not in str(info.value)
    assert "c2VjcmV0" not in info.value.description


# --- pybase64 under the same rules ----------------------------------------------------------------


def _mutations() -> list[bytes]:
    # Every byte value at the start, the middle and the end of segments of each length class.
    bases = [_encode(b"abcdef"), _encode(b"abcde"), _encode(b"abcd"), _encode(b"\xff\xfe\xfd")]
    out = []
    for base in bases:
        for byte in range(256):
            for at in (0, len(base) // 2, len(base) - 1):
                out.append(base[:at] + bytes([byte]) + base[at + 1:])  # replaced
                out.append(base[:at] + bytes([byte]) + base[at:])  # inserted
            out.append(base + bytes([byte]))
    return out


MUTATIONS = _mutations()


@native_only
def test_pybase64_agrees_with_the_reference_on_every_byte_at_every_place() -> None:
    disagreements = [m for m in MUTATIONS if _outcome(_native, m) != _outcome(_strict, m)]
    assert disagreements == []


@native_only
def test_the_mutations_reach_acceptance_and_refusal() -> None:
    outcomes = {_outcome(_strict, m)[0] for m in MUTATIONS}
    assert outcomes == {"ok", "error"}


@native_only
@pytest.mark.parametrize("segment", [
    b"", b"A", b"AA", b"AAA", b"AAAA", b"AB", b"AQ", b"AE", b"AAB", b"AAE", b"AAI",  # trailing bits
    b"YQ==", b"YQ=", b"YWE=", b"=", b"==", b"YQ==YQ", b"Y=Q", b"+/+/", b"-_-_", b"YW+j", b"YW/j",
    b"YWJj\r\n", b" YWJj", b"YWJj\t", b"YW\x80j", b"YW\xffj", b"\x00\x00\x00\x00",
])
def test_pybase64_agrees_with_the_reference_on_padding_alphabets_and_trailing_bits(segment: bytes) -> None:
    assert _outcome(_native, segment) == _outcome(_strict, segment)


@native_only
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_pybase64_agrees_on_arbitrary_bytes(segment: bytes) -> None:
    assert _outcome(_native, segment) == _outcome(_strict, segment)


@native_only
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=90),
       st.sampled_from(list(b"+/=. \n\x00\x80-_A")))
def test_pybase64_agrees_on_encodings_with_one_foreign_or_edge_byte(raw: bytes, at: int, byte: int) -> None:
    segment = _encode(raw)
    at = min(at, len(segment))
    for candidate in (segment, segment[:at] + bytes([byte]) + segment[at:],
                      segment[:at] + bytes([byte]) + segment[at + 1:]):
        assert _outcome(_native, candidate) == _outcome(_strict, candidate)


def test_a_decoding_error_pybase64_raises_is_a_refusal() -> None:
    def broken(_data: bytes, _altchars: bytes, _validate: bool) -> bytes:
        raise ValueError("not base64")  # binascii.Error is a ValueError

    assert _outcome(_base64url.native(broken), b"YWJj") == REFUSED


# pybase64 decodes long inputs in SIMD blocks (16 to 64 bytes) chosen by CPU; an RS256 signature is 342
# characters. Each long segment is checked with foreign and edge bytes at every offset, on every SIMD
# path this machine can run (pybase64's private switch; without it, the path it picked).
def _simd_paths() -> list[int | None]:
    try:
        from pybase64 import _pybase64 as impl

        flags = impl._get_simd_flags_runtime() & impl._get_simd_flags_compile()
    except (ImportError, AttributeError):
        return [None]
    return [0, *(bit for bit in (1 << i for i in range(1, 16)) if flags & bit)]


_LONG_LENGTHS = (86, 342, 343, 683, 1024, 1026, 2731)  # RS256 (342), RS512-4096 (683) signatures ...
_EDGE_BYTES = b"+/=.! \n\x00\x80\xff-_A"


@native_only
@pytest.mark.parametrize("path", _simd_paths())
def test_pybase64_agrees_on_long_segments_on_every_simd_path(path: int | None) -> None:
    from pybase64 import _pybase64 as impl

    before = impl._get_simd_path() if path is not None else None
    if path is not None:
        impl._set_simd_path(path)
    try:
        disagreements = []
        for length in _LONG_LENGTHS:
            base = _encode(bytes(range(256)) * (length // 256 + 1))[:length]
            base = base[:-1] + b"A" if length % 4 else base  # "A" is canonical for every remainder
            candidates = [base, base + b"=", base + b"=="]
            for at in range(length):
                for byte in _EDGE_BYTES:
                    candidates.append(base[:at] + bytes([byte]) + base[at + 1:])
            if length == 342:  # every byte value at every offset of an RS256 signature
                candidates += [base[:at] + bytes([b]) + base[at + 1:]
                               for at in range(length) for b in range(256)]
            disagreements += [c for c in candidates if _outcome(_native, c) != _outcome(_strict, c)]
        assert disagreements == []
    finally:
        if before is not None:
            impl._set_simd_path(before)
