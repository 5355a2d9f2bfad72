"""_http.get_json: one GET over real loopback sockets, every failure a FetchError with a fixed reason."""

from __future__ import annotations

import gzip
import socket
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from serverless_jwt._http import FetchError, get_json, url_allowed, url_problem
from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer


class RawServer:
    """A one-connection TCP server answering with ``chunks`` (0.2 s apart when there are several)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.chunks: list[bytes] = []


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            for chunk in chunks:
                if stop.wait(0.2 if len(chunks) > 1 else 0):
                    return
                try:
                    conn.sendall(chunk)
                except OSError:
                    return

    server = RawServer(f"http://127.0.0.1:{listener.getsockname()[1]}/doc")
    chunks = server.chunks
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server
    stop.set()
    listener.close()
    thread.join(5)


def _reason(url: str, *, timeout_seconds: float = 5, max_bytes: int = 1 << 20) -> str:
    with pytest.raises(FetchError) as info:
        get_json(url, timeout_seconds=timeout_seconds, max_bytes=max_bytes)
    # The message is ours alone: a fixed prefix and the reason token, no foreign exception text.
    assert str(info.value) == f"fetch failed: {info.value.reason}"
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
    return info.value.reason


def test_fetches_a_json_document(issuer: DevIssuer) -> None:
    doc = get_json(issuer.jwks_uri, timeout_seconds=5, max_bytes=1 << 20)
    assert {k["kid"] for k in doc["keys"]} == {issuer.kid("RS256"), issuer.kid("ES256")}


def test_connection_refused_is_a_fetch_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    assert _reason(f"http://127.0.0.1:{port}/jwks") == "connection"


@pytest.mark.parametrize("fault", ["500", "503"])
def test_non_200_status_is_refused(issuer: DevIssuer, fault: str) -> None:
    issuer.fault = fault
    assert _reason(issuer.jwks_uri) == "status"


@pytest.mark.parametrize(("status", "header", "expected"), [
    (429, "120", 120.0), (503, " 7 ", 7.0), (429, None, None), (500, "120", None),  # 500 asks nothing
    (429, "soon", None), (429, "-5", None), (429, "Fri, 01 Jan 2100 00:00:00 GMT", "future"),
    (503, "Thu, 01 Jan 1970 00:00:00 GMT", 0.0), (429, "Fri, 01 Jan 2100 00:00:00", "future"),
])
def test_retry_after_of_a_429_or_503_is_read_in_either_form(
        raw_server: RawServer, status: int, header: str | None, expected: Any) -> None:
    extra = b"" if header is None else b"Retry-After: " + header.encode() + b"\r\n"
    raw_server.chunks.append(b"HTTP/1.1 %d No\r\nContent-Length: 0\r\n" % status + extra + b"\r\n")
    with pytest.raises(FetchError) as info:
        get_json(raw_server.url, timeout_seconds=5, max_bytes=1000)
    assert info.value.status == status
    if expected == "future":
        assert (info.value.retry_after or 0) > 1e9  # some 74 years from now
    else:
        assert info.value.retry_after == expected


def test_redirect_is_refused_not_followed(issuer: DevIssuer) -> None:
    issuer.fault = "redirect"
    assert _reason(issuer.jwks_uri) == "status"
    assert issuer.requests[JWKS_PATH] == 1


@pytest.mark.parametrize("fault", ["huge", "huge_undeclared"])
def test_body_over_the_cap_is_refused(issuer: DevIssuer, fault: str) -> None:
    issuer.fault = fault
    assert _reason(issuer.jwks_uri) == "too_large"


def test_cap_counts_bytes_actually_read(raw_server: RawServer) -> None:
    body = b'{"a":"' + b"x" * 5000 + b'"}'
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
    assert _reason(raw_server.url, max_bytes=1000) == "too_large"


def test_declared_length_over_the_cap_is_refused_before_reading(issuer: DevIssuer) -> None:
    assert _reason(issuer.jwks_uri, max_bytes=100) == "too_large"


def test_non_json_body_is_refused(issuer: DevIssuer) -> None:
    issuer.fault = "not_json"
    assert _reason(issuer.jwks_uri) == "not_json"


def test_json_bomb_is_refused_without_recursion_error(issuer: DevIssuer) -> None:
    issuer.fault = "json_bomb"
    assert _reason(issuer.jwks_uri) == "too_deep"


def test_brackets_inside_strings_do_not_count_as_depth(raw_server: RawServer) -> None:
    body = b'{"a":"' + b"[" * 100 + b'\\"{{{"}'
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    doc = get_json(raw_server.url, timeout_seconds=5, max_bytes=1000)
    assert doc == {"a": "[" * 100 + '"{{{'}


def test_a_body_cut_short_of_its_content_length_is_refused(raw_server: RawServer) -> None:
    # The part that did arrive is a whole JSON document: only the declared length tells it was cut.
    body = b'{"keys":[]}'
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) + 500) + body)
    assert _reason(raw_server.url) == "truncated"


def test_non_utf8_body_is_refused(raw_server: RawServer) -> None:
    body = b'{"a":"\xe9"}'
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert _reason(raw_server.url) == "not_utf8"


def test_a_document_led_by_a_byte_order_mark_is_read(raw_server: RawServer) -> None:
    # A key set saved with a BOM (an editor's, IIS's): json.loads(bytes), requests and PyJWT read it, so
    # refusing it would be an outage of ours alone. One mark only; a second is not JSON.
    body = b'\xef\xbb\xbf{"keys":[]}'
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert get_json(raw_server.url, timeout_seconds=5, max_bytes=1000) == {"keys": []}


def test_a_second_byte_order_mark_is_not_json(raw_server: RawServer) -> None:
    body = b'\xef\xbb\xbf\xef\xbb\xbf{"keys":[]}'
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert _reason(raw_server.url) == "not_json"


def _compressed(raw_server: RawServer, coding: str, body: bytes) -> None:
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
                             % (coding.encode(), len(body)) + body)


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "deflate-raw"])
def test_a_body_compressed_despite_accept_encoding_identity_is_read(
        raw_server: RawServer, coding: str) -> None:
    # A CDN in front of the issuer may compress anyway: browsers, requests and fetch read it, so must we.
    document = b'{"keys":[]}'
    if coding.endswith("gzip"):
        body = gzip.compress(document)
    elif coding == "deflate":
        body = zlib.compress(document)
    else:  # raw deflate, which some servers send as "deflate"
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body, coding = packer.compress(document) + packer.flush(), "deflate"
    _compressed(raw_server, coding, body)
    assert get_json(raw_server.url, timeout_seconds=5, max_bytes=1000) == {"keys": []}


def test_a_compressed_body_is_read_under_a_cap_as_large_as_a_python_int_allows(raw_server: RawServer) -> None:
    # max_response_bytes=sys.maxsize ("no cap"): the cap plus one no longer fits zlib's C size argument,
    # which raised OverflowError out of get_json (a 500 on every cold start behind a compressing proxy).
    _compressed(raw_server, "gzip", gzip.compress(b'{"keys":[]}'))
    assert get_json(raw_server.url, timeout_seconds=5, max_bytes=sys.maxsize) == {"keys": []}


def test_a_compressed_body_is_capped_at_its_decoded_size(raw_server: RawServer) -> None:
    body = gzip.compress(b'{"pad":"' + b"x" * 5000 + b'"}')  # about 50 bytes on the wire
    _compressed(raw_server, "gzip", body)
    assert _reason(raw_server.url, max_bytes=1000) == "too_large"


@pytest.mark.parametrize(("coding", "body"), [
    ("gzip", b'{"keys":[]}'),  # says gzip, is not
    ("gzip", gzip.compress(b'{"keys":[]}')[:-6]),  # cut short
    ("gzip", gzip.compress(b'{"keys":[]}') + b"junk"),
    ("br", b'{"keys":[]}'),
    ("gzip, gzip", gzip.compress(gzip.compress(b'{"keys":[]}'))),
], ids=["not-gzip", "cut-short", "trailing-junk", "brotli", "twice"])
def test_a_body_that_is_not_what_its_content_encoding_says_is_refused(
        raw_server: RawServer, coding: str, body: bytes) -> None:
    _compressed(raw_server, coding, body)
    assert _reason(raw_server.url) == "bad_encoding"


def test_nan_constant_is_refused(raw_server: RawServer) -> None:
    body = b'{"a":NaN}'
    raw_server.chunks.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert _reason(raw_server.url) == "not_json"


def test_interim_1xx_answers_before_the_document_are_skipped(raw_server: RawServer) -> None:
    # RFC 9110 §15.2: a client must read past 1xx answers; a CDN's 103 Early Hints is not the document.
    body = b'{"keys":[]}'
    raw_server.chunks.append(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                             b"HTTP/1.1 102 Processing\r\n\r\n"
                             b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert get_json(raw_server.url, timeout_seconds=5, max_bytes=1024) == {"keys": []}


def test_an_interim_answer_with_no_final_one_is_a_fetch_error(raw_server: RawServer) -> None:
    raw_server.chunks.append(b"HTTP/1.1 103 Early Hints\r\n\r\n")
    assert _reason(raw_server.url) == "connection"


def test_interim_answers_without_end_are_bounded_by_the_one_total_deadline(raw_server: RawServer) -> None:
    # Each interim answer is read and dropped: a server that never stops sending them (0.2 s apart, so
    # no single read times out) still meets the deadline, not one deadline per answer.
    raw_server.chunks.extend([b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"] * 40)
    started = time.monotonic()
    assert _reason(raw_server.url, timeout_seconds=1) == "timeout"
    assert time.monotonic() - started < 2


def test_connection_reset_is_a_fetch_error(issuer: DevIssuer) -> None:
    issuer.fault = "reset"
    assert _reason(issuer.jwks_uri) == "connection"


def test_slow_server_hits_the_deadline(issuer: DevIssuer) -> None:
    issuer.fault = "slow"
    issuer.slow_seconds = 30
    assert _reason(issuer.jwks_uri, timeout_seconds=0.5) == "timeout"


def test_body_drip_is_bounded_by_one_total_deadline(issuer: DevIssuer) -> None:
    # Each byte arrives well within a per-read timeout; only the total deadline can stop this
    # (without it the read would finish minutes later with a valid document).
    issuer.fault = "drip"
    assert _reason(issuer.jwks_uri, timeout_seconds=1) == "timeout"


def test_header_drip_is_bounded_by_one_total_deadline(raw_server: RawServer) -> None:
    raw_server.chunks.extend([b"HTTP/1.1 200 OK\r\n"] + [b"X-Pad: y\r\n"] * 200)
    assert _reason(raw_server.url, timeout_seconds=1) == "timeout"


def test_a_name_lookup_that_never_answers_is_bounded_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # DNS is outside this machine: a resolver that does not answer is stood in for here.
    real = socket.getaddrinfo
    release, waiting, gave_up = threading.Event(), threading.Event(), threading.Event()

    def unanswered(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "keys.unanswered-dns.test":
            return real(host, *args, **kwargs)
        waiting.set()
        release.wait(5)  # a resolver's own retries
        gave_up.set()
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", unanswered)
    try:
        assert _reason("https://keys.unanswered-dns.test/jwks", timeout_seconds=0.3) == "timeout"
        assert waiting.is_set()
        assert not gave_up.is_set()  # the answer came while the lookup was still hanging
    finally:
        release.set()


@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "keys..example.com", ".example.com"])
def test_a_host_name_no_resolver_can_encode_is_refused_before_connecting(host: str) -> None:
    # getaddrinfo refuses such a name (UnicodeError, a label over 63 characters or an empty one) before
    # any query: the URL policy refuses it first, so a configured one fails at construction, not per request.
    assert url_allowed(f"https://{host}/jwks") is False
    assert url_problem(f"https://{host}/jwks") == (
        "has a host name no resolver accepts (a label empty or over 63 characters)")
    assert _reason(f"https://{host}/jwks") == "url_not_allowed"


@pytest.mark.parametrize("host", ["a" * 63 + ".example.com", "keys.example.com.", "bücher.example", "[::1]"])
def test_host_names_the_resolver_accepts_stay_allowed(host: str) -> None:
    assert url_problem(f"https://{host}/jwks") is None


def test_a_host_name_is_resolved_and_each_address_tried(issuer: DevIssuer) -> None:
    # "localhost" may come first as ::1, where nothing listens: the next address (127.0.0.1) serves.
    url = issuer.jwks_uri.replace("127.0.0.1", "localhost")
    assert get_json(url, timeout_seconds=5, max_bytes=1 << 20)["keys"]


def test_https_is_really_tls(issuer: DevIssuer) -> None:
    # The dev issuer speaks plain HTTP, so a TLS handshake with it must fail.
    assert _reason(issuer.jwks_uri.replace("http://", "https://")) == "connection"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://issuer.example/.well-known/jwks.json", True),
        ("http://127.0.0.1:8080/jwks", True),
        ("http://127.9.9.9/jwks", True),
        ("http://localhost/jwks", True),
        ("http://[::1]:8080/jwks", True),
        ("http://issuer.example/jwks", False),
        ("http://10.0.0.1/jwks", False),
        ("ftp://127.0.0.1/jwks", False),
        ("https://user:pw@issuer.example/jwks", False),
        ("https:///jwks", False),
        ("https://issuer.example:notaport/jwks", False),
        ("not a url", False),
    ],
)
def test_url_policy_requires_tls_off_loopback(url: str, allowed: bool) -> None:
    assert url_allowed(url) is allowed


def test_plain_http_to_a_remote_host_is_refused_before_connecting() -> None:
    assert _reason("http://issuer.example/jwks") == "url_not_allowed"


@pytest.mark.parametrize("url", ["https://keys example.com/jwks", "https://keys\x01example.com/jwks",
                                 "https://keys.example\x7f.com/jwks", "http://127.0.0.1:1/jw ks"])
def test_a_url_http_client_would_refuse_is_refused_as_a_fetch_error(url: str) -> None:
    # A control character or space (from a discovery document, say) is a FetchError like any other,
    # never http.client's InvalidURL escaping with its own text.
    assert url_allowed(url) is False
    assert _reason(url) == "url_not_allowed"


@pytest.mark.parametrize(("url", "address"), [
    ("https://[2001:db8::abcd]/jwks", ("2001:db8::abcd", 443)),
    ("http://[::1]/jwks", ("::1", 80)),
])
def test_an_ipv6_literal_without_a_port_is_fetched_from_its_own_address(
        monkeypatch: pytest.MonkeyPatch, url: str, address: tuple[str, int]) -> None:
    # http.client, given no port, reads the last group of an IPv6 literal as one (or refuses it with
    # its own InvalidURL): the address looked up must be the URL's, on the scheme's port.
    looked_up: list[tuple[str, int]] = []

    def record(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        looked_up.append((host, port))
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", record)
    assert _reason(url, timeout_seconds=2) == "connection"
    assert looked_up == [address]


def test_an_address_family_this_machine_cannot_open_is_skipped(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # A kernel without IPv6: socket() itself fails for the ::1 that getaddrinfo lists first.
    port = urlsplit(issuer.issuer).port
    real_socket = socket.socket

    def first_v6(host: str, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    def no_v6(family: int = -1, *args: Any, **kwargs: Any) -> Any:
        if family == socket.AF_INET6:
            raise OSError(97, "Address family not supported by protocol")
        return real_socket(family, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", first_v6)
    monkeypatch.setattr(socket, "socket", no_v6)
    url = issuer.jwks_uri.replace("127.0.0.1", "localhost")
    assert get_json(url, timeout_seconds=5, max_bytes=1 << 20)["keys"]


@pytest.mark.parametrize("failing", ["watchdog", "name lookup"])
def test_a_thread_that_cannot_start_is_a_fetch_error(
        issuer: DevIssuer, failing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Out of threads (a container's pids limit, Lambda's 1,024), starting the deadline's watchdog or the
    # name lookup fails with "can't start new thread". That is a failed fetch (a 503, with back-off), not
    # a RuntimeError out of verify: a 500, or, from the async verifier's refetch for a new kid, a 401.
    import asyncio

    from serverless_jwt import AsyncVerifier, Verifier
    from serverless_jwt.errors import KeysUnavailableError

    start = threading.Thread.start

    def out_of_threads(thread: threading.Thread) -> None:
        watchdog = isinstance(thread, threading.Timer)
        if (watchdog if failing == "watchdog" else thread.name == "serverless-jwt-dns"):
            raise RuntimeError("can't start new thread")
        start(thread)

    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)
    verifier.verify(issuer.mint())
    issuer.rotate()
    monkeypatch.setattr(threading.Thread, "start", out_of_threads)
    with pytest.raises(KeysUnavailableError):  # the new key could not be fetched: retry, not discard
        asyncio.run(AsyncVerifier(verifier).verify(issuer.mint(sub="rotated")))
    assert _reason(issuer.jwks_uri) == "no_thread"
