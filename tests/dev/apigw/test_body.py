"""Request bodies read by Content-Length or chunked transfer coding, with API Gateway's size cap."""

from __future__ import annotations

import email.message
import io

import pytest

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
