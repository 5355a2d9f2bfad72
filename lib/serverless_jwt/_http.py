"""One HTTP GET for a JSON document: one total deadline (name lookup included), a size cap, no
redirects, TLS off loopback.

The only module that opens sockets. Every failure becomes :class:`FetchError` with a fixed ``reason``;
the text of foreign exceptions never leaves this module.

Why not urllib3 or requests: their timeouts apply per socket operation, so a server dripping one byte
at a time (or a resolver that never answers) holds a request far past any budget, and this is the
promise a cold start leans on; and importing urllib3 costs about twice ``http.client`` + ``ssl``
(84 ms against 40 ms measured here), paid on every cold start that fetches keys.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from serverless_jwt._config import MAX_TIMEOUT_SECONDS, is_loopback

__all__ = ["MAX_TIMEOUT_SECONDS", "FetchError", "get_bytes", "get_json", "url_allowed", "url_problem"]

_MAX_JSON_DEPTH = 32
_CHUNK_BYTES = 65536
_USER_AGENT = "serverless-jwt"
# Strings (with escapes) and structural brackets: enough to measure nesting without parsing.
# An unterminated string is matched once, to the end (linear), never rescanned from every quote.
# What http.client refuses in a host or path (its InvalidURL): controls, space and DEL.
_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f]")
_DEPTH_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


class FetchError(Exception):
    """Internal, message-free fetch failure; ``reason`` is a fixed token for logs and tests."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        self.reason = reason
        self.status = status  # the HTTP status, for reason "status"
        self.retry_after = retry_after  # seconds a 429 or 503 asked us to wait (Retry-After), if any
        super().__init__(f"fetch failed: {reason}")


class _FinalResponse(http.client.HTTPResponse):
    """The final answer, past any interim 1xx (RFC 9110 §15.2: a client must read and skip them).

    http.client skips only ``100 Continue``; a ``103 Early Hints`` from a CDN would otherwise be taken
    for the answer and refused.
    """

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers, dropped


_NOT_ALLOWED = "must use https (plain http only on loopback)"
_HOST_REFUSED = "has a host name no resolver accepts (a label empty or over 63 characters)"


def url_allowed(url: str) -> bool:
    """Whether ``url`` may be fetched: https anywhere, http only on loopback, no credentials."""
    return url_problem(url) is None


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be fetched, worded to follow the setting's name; None when it may."""
    if _FORBIDDEN_URL_CHARS.search(url):
        # http.client refuses these (InvalidURL, a foreign exception); say no here instead.
        return _NOT_ALLOWED
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return _NOT_ALLOWED
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return _NOT_ALLOWED
    # Plain HTTP only where nobody else can sit in the middle: the local machine.
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
        return _NOT_ALLOWED
    try:
        # getaddrinfo encodes the name with this codec and refuses what it refuses: say so at
        # construction, not as a 503 on every request.
        parts.hostname.encode("idna")
    except UnicodeError:
        return _HOST_REFUSED
    return None


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.expires_at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.expires_at - time.monotonic()
        if left <= 0:
            raise FetchError("timeout")
        return left


def _abort(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    # The watchdog: a server dripping headers one byte at a time never trips a per-recv timeout.
    fired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _start(thread: threading.Thread) -> None:
    # Out of threads ("can't start new thread": a pids limit): a failed fetch (503, back-off), not a 500.
    try:
        thread.start()
    except RuntimeError:
        raise FetchError("no_thread") from None


def _connector(deadline: _Deadline) -> Callable[..., socket.socket]:
    """``socket.create_connection`` under the total deadline, name lookup included.

    ``getaddrinfo`` has no timeout of its own (a resolver that does not answer holds a caller for its
    own retries, 10 s or more): it runs in a daemon thread that the deadline stops waiting for. TLS
    still checks the certificate against the host name (http.client wraps this socket with it).
    """

    def create_connection(address: tuple[str, int], *_: Any, **__: Any) -> socket.socket:
        host, port = address
        found: list[Any] = []

        def lookup() -> None:
            try:
                found.append(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
            except (OSError, UnicodeError) as exc:  # handed back below; no foreign text leaves this module
                # UnicodeError: a name the IDNA codec refuses (url_allowed refuses those first).
                found.append(exc)

        resolver = threading.Thread(target=lookup, name="serverless-jwt-dns", daemon=True)
        _start(resolver)
        resolver.join(deadline.remaining())
        if not found:
            raise FetchError("timeout")
        if isinstance(found[0], (OSError, UnicodeError)):
            raise found[0]
        error: OSError = OSError("no address")
        for family, kind, proto, _, sockaddr in found[0]:
            sock = None
            try:  # creating the socket may fail too (no IPv6 here): then the next address
                sock = socket.socket(family, kind, proto)
                sock.settimeout(deadline.remaining())
                sock.connect(sockaddr)
            except BaseException as exc:
                if sock is not None:
                    sock.close()
                if not isinstance(exc, OSError):
                    raise
                error = exc
                continue
            return sock
        raise error

    return create_connection


def get_bytes(url: str, *, timeout_seconds: float, max_bytes: int) -> bytes:
    """GET ``url`` and return its body (e.g. the PEM keys an ALB publishes).

    Parameters
    ----------
    url:
        ``https://`` URL, or ``http://`` on a loopback host.
    timeout_seconds:
        One total budget for connecting, sending, and reading headers and body.
    max_bytes:
        Largest accepted body (declared ``Content-Length``, bytes actually read, and bytes once a
        gzip or deflate ``Content-Encoding`` is undone).

    Raises
    ------
    FetchError
        For any failure: bad URL, connection error, timeout, non-200 status (redirects included),
        oversized body, or a ``Content-Encoding`` that cannot be undone.

    Examples
    --------
    >>> get_bytes("http://127.0.0.1:1/key", timeout_seconds=1, max_bytes=1024)  # doctest: +SKIP
    Traceback (most recent call last):
    FetchError: fetch failed: connection
    """
    if not url_allowed(url):
        raise FetchError("url_not_allowed")
    if not timeout_seconds > 0 or max_bytes <= 0:
        raise FetchError("bad_limits")
    deadline = _Deadline(timeout_seconds)
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    # The port always explicit: without one, http.client reads the end of an IPv6 literal as a port.
    if parts.scheme == "https":
        context = ssl.create_default_context()  # certificate and hostname verification on
        port = 443 if parts.port is None else parts.port
        conn = http.client.HTTPSConnection(host, port, timeout=timeout_seconds, context=context)
    else:
        port = 80 if parts.port is None else parts.port
        conn = http.client.HTTPConnection(host, port, timeout=timeout_seconds)
    conn._create_connection = _connector(deadline)  # type: ignore[attr-defined]
    conn.response_class = _FinalResponse
    fired = threading.Event()
    watchdog = threading.Timer(timeout_seconds, _abort, (conn, fired))
    watchdog.daemon = True
    _start(watchdog)
    try:
        body = _exchange(conn, target, deadline, max_bytes)
    except FetchError:
        raise
    except TimeoutError:
        raise FetchError("timeout") from None
    except (OSError, http.client.HTTPException, ValueError):
        raise FetchError("timeout" if fired.is_set() else "connection") from None
    finally:
        watchdog.cancel()
        conn.close()
    if fired.is_set():
        raise FetchError("timeout")
    return body


def get_json(url: str, *, timeout_seconds: float, max_bytes: int) -> Any:
    """GET ``url`` and return its parsed JSON body.

    Same rules as :func:`get_bytes`, plus: the body must be UTF-8 JSON, not too deeply nested.

    Raises
    ------
    FetchError
        For any failure, including a non-JSON or too deeply nested body.

    Examples
    --------
    >>> get_json("http://127.0.0.1:1/jwks", timeout_seconds=1, max_bytes=1024)  # doctest: +SKIP
    Traceback (most recent call last):
    FetchError: fetch failed: connection
    """
    return _parse(get_bytes(url, timeout_seconds=timeout_seconds, max_bytes=max_bytes))


def _exchange(conn: http.client.HTTPConnection, target: str, deadline: _Deadline, max_bytes: int) -> bytes:
    conn.request(
        "GET",
        target,
        headers={"Accept": "application/json", "Accept-Encoding": "identity", "User-Agent": _USER_AGENT},
    )
    _set_timeout(conn, deadline)
    response = conn.getresponse()
    # Only a plain 200 is a key document; 3xx is refused, never followed (no redirect handler here).
    if response.status != 200:
        wait = _retry_after(response.getheader("Retry-After")) if response.status in (429, 503) else None
        raise FetchError("status", status=response.status, retry_after=wait)
    declared = response.getheader("Content-Length")
    if declared is not None:
        try:
            too_big = int(declared) > max_bytes
        except ValueError:
            raise FetchError("bad_length") from None
        if too_big:
            raise FetchError("too_large")
    body = bytearray()
    while True:
        _set_timeout(conn, deadline)
        chunk = response.read1(min(_CHUNK_BYTES, max_bytes + 1 - len(body)))
        deadline.remaining()
        if not chunk:
            # read1() answers b"" at an early end of stream too: a body cut short of its declared
            # Content-Length is a failed fetch, not a shorter document.
            if response.length:
                raise FetchError("truncated")
            coding = response.getheader("Content-Encoding")
            if coding is None:
                return bytes(body)
            from serverless_jwt._content_coding import decode_body  # rare: no import cost otherwise

            return decode_body(bytes(body), coding, max_bytes)
        body += chunk
        if len(body) > max_bytes:
            raise FetchError("too_large")


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value (RFC 9110 §10.2.3: delay-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value[:12]))
    import datetime  # only for the rare date form: no import cost on the usual path
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # asctime's form has no zone: HTTP dates are always GMT (RFC 9110 §5.6.7)
            when = when.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _set_timeout(conn: http.client.HTTPConnection, deadline: _Deadline) -> None:
    if conn.sock is not None:
        conn.sock.settimeout(deadline.remaining())


def _parse(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FetchError("not_utf8") from None
    # One leading byte order mark (an editor's or IIS's) is dropped, as json.loads(bytes) and requests do
    # (RFC 8259 §8.1 lets a parser ignore it): refused, a key set every other client reads is an outage.
    text = text.removeprefix("\ufeff")
    # Measure nesting before json.loads so a bracket bomb never reaches the recursive parser.
    depth = 0
    for match in _DEPTH_TOKENS.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            depth += 1
            if depth > _MAX_JSON_DEPTH:
                raise FetchError("too_deep")
        elif lexeme in ("]", "}"):
            depth -= 1
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise FetchError("not_json") from None


def _reject_constant(name: str) -> Any:
    raise ValueError("non-standard JSON constant")
