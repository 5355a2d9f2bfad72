"""Request bodies read by Content-Length or chunked transfer coding, with API Gateway's size cap."""

from __future__ import annotations

import email.message
import io
import socket
from urllib.parse import urlsplit

import pytest

from serverless_jwt.dev.apigw import LocalApiGateway
from serverless_jwt.dev.apigw.body import BadRequestBody, read_body


def _chunked(raw: bytes, limit: int = 1 << 20) -> bytes:
    return read_body(io.BytesIO(raw), {"Transfer-Encoding": "chunked"}, limit)


def test_chunks_extensions_and_trailers_are_decoded() -> None:
    assert _chunked(b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT") == b"Wikipedia"
    assert _chunked(b"A\r\n0123456789\r\n0\r\n\r\n") == b"0123456789"
    assert _chunked(b"0\r\n\r\n") == b""


@pytest.mark.parametrize("raw", [
    b"zz\r\nabc\r\n0\r\n\r\n", b"-1\r\n", b"5\r\nabc", b"3\r\nabcXX0\r\n\r\n", b"", b"3",
])
def test_bad_chunking_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequestBody) as caught:
        _chunked(raw)
    assert caught.value.kind == "bad_request"


def test_limits_apply_to_chunked_and_sized_bodies() -> None:
    with pytest.raises(BadRequestBody) as caught:
        _chunked(b"8\r\n12345678\r\n0\r\n\r\n", limit=4)
    assert caught.value.kind == "too_large"
    with pytest.raises(BadRequestBody) as sized:
        read_body(io.BytesIO(b"12345678"), {"Content-Length": "8"}, 4)
    assert sized.value.kind == "too_large"


def test_content_length() -> None:
    assert read_body(io.BytesIO(b"abcdef"), {"Content-Length": "3"}) == b"abc"
    assert read_body(io.BytesIO(b""), {}) == b""
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(BadRequestBody):
            read_body(io.BytesIO(b"abc"), {"Content-Length": bad})
    with pytest.raises(BadRequestBody):  # the client promised more than it sent
        read_body(io.BytesIO(b"ab"), {"Content-Length": "5"})


def test_content_lengths_that_disagree_are_a_bad_request_and_repeats_that_agree_are_one() -> None:
    # RFC 9112 §6.3: differing lengths leave the body's end ambiguous (a request-smuggling shape).
    message = email.message.Message()
    message["Content-Length"] = "3"
    message["Content-Length"] = "5"
    with pytest.raises(BadRequestBody) as caught:
        read_body(io.BytesIO(b"abcdef"), message)
    assert caught.value.kind == "bad_request"
    with pytest.raises(BadRequestBody):
        read_body(io.BytesIO(b"abcdef"), {"Content-Length": "3, 5"})
    agreeing = email.message.Message()
    agreeing["Content-Length"] = "3"
    agreeing["Content-Length"] = "3, 3"
    assert read_body(io.BytesIO(b"abcdef"), agreeing) == b"abc"


def test_other_transfer_codings_are_refused() -> None:
    with pytest.raises(BadRequestBody):
        read_body(io.BytesIO(b"x"), {"Transfer-Encoding": "gzip"})


@pytest.mark.parametrize("length", ["\u00b2", "\u0665", "+3", "0x3", "3_0", "", "3 3"])
def test_a_content_length_that_is_not_ascii_digits_is_a_bad_request(length: str) -> None:
    # str.isdigit() takes U+00B2 (superscript two) and U+0665 (Arabic-Indic five); int() takes signs and "_".
    with pytest.raises(BadRequestBody) as caught:
        read_body(io.BytesIO(b"abcdef"), {"Content-Length": length})
    assert caught.value.kind == "bad_request"


def test_a_content_length_of_thousands_of_digits_is_too_large_not_a_crash() -> None:
    # int() refuses strings of more than 4300 digits with a ValueError.
    with pytest.raises(BadRequestBody) as caught:
        read_body(io.BytesIO(b"abc"), {"Content-Length": "9" * 5000})
    assert caught.value.kind == "too_large"
    assert read_body(io.BytesIO(b"abcdef"), {"Content-Length": "0" * 5000 + "3"}) == b"abc"


@pytest.mark.parametrize("size", [b"0x3", b"+3", b"0_3", b" 3", b"3 ", b"\xd9\xa3", b";x"])
def test_a_chunk_size_is_hex_digits_only(size: bytes) -> None:
    # RFC 9112 §7.1: chunk-size = 1*HEXDIG, then optional extensions after ";".
    with pytest.raises(BadRequestBody) as caught:
        _chunked(size + b"\r\nabc\r\n0\r\n\r\n")
    assert caught.value.kind == "bad_request"
    assert _chunked(b"3 ;ext\r\nabc\r\n0\r\n\r\n") == b"abc"  # whitespace before an extension is allowed


@pytest.mark.parametrize("coding", ["chunked, identity", "chunked, chunked", "gzip, chunked"])
def test_a_transfer_coding_list_other_than_chunked_alone_is_refused(coding: str) -> None:
    with pytest.raises(BadRequestBody):
        read_body(io.BytesIO(b"3\r\nabc\r\n0\r\n\r\n"), {"Transfer-Encoding": coding})


def _exchange(data: bytes) -> bytes:
    """What a local API (no routes: every path a 404) answers to ``data`` on one connection."""
    with LocalApiGateway([], {}, host="127.0.0.1", port=0) as gateway, \
            socket.create_connection(("127.0.0.1", urlsplit(gateway.url).port or 0), timeout=10) as sock:
        sock.sendall(data)
        answers = b""
        while chunk := sock.recv(65536):  # the server closes after its answer
            answers += chunk
    return answers


@pytest.mark.parametrize("length", [b"\xb2", b"9" * 5000])
def test_a_content_length_int_cannot_read_is_answered_over_http(length: bytes) -> None:
    answer = _exchange(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: " + length + b"\r\n\r\nhello")
    assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 413 "))
    assert answer.count(b"HTTP/1.1 ") == 1


def test_a_request_with_both_transfer_encoding_and_content_length_ends_the_connection() -> None:
    # RFC 9112 §6.1: read by Transfer-Encoding, then closed (a front end may have framed it by length).
    smuggled = b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n"
    answer = _exchange(b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                       b"Content-Length: 40\r\n\r\n0\r\n\r\n" + smuggled)
    assert answer.startswith(b"HTTP/1.1 404 ")
    assert answer.count(b"HTTP/1.1 ") == 1
