"""The dev issuer's HTTP side: discovery, JWKS (with switchable faults) and the OIDC endpoints.

Discovery, JWKS, token and userinfo answer CORS for the provider's allowed origins (preflights
included); the login page and logout are browser navigations and send no CORS headers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from serverless_jwt._config import is_loopback
from serverless_jwt.dev._http_framing import CHUNK_LINE_BYTES, BadFraming, Framing, chunk_size, framing
from serverless_jwt.dev._oidc_rules import OAuthError, Response, cors_headers
from serverless_jwt.dev.oidc_provider import AUTHORIZE_PATH, END_SESSION_PATH, TOKEN_PATH, USERINFO_PATH

if TYPE_CHECKING:
    from serverless_jwt.dev.issuer import DevIssuer

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"
MAX_FORM_BYTES = 64 * 1024
_CORS_PATHS = frozenset({DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH, USERINFO_PATH})
# HEAD wherever GET works (RFC 9110 §9.3.2): GET's status and headers, no body.
_OIDC_METHODS: dict[str, tuple[str, ...]] = {
    AUTHORIZE_PATH: ("GET", "HEAD", "POST"), TOKEN_PATH: ("POST",), USERINFO_PATH: ("GET", "HEAD", "POST"),
    END_SESSION_PATH: ("GET", "HEAD", "POST"),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: DevIssuer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer (size caps, deadlines) is what the faults are for


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 120  # per socket operation: an idle or stalled connection ends, its thread with it

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests stay quiet

    body_read = False
    frame: Framing | None = None  # None: framing that is malformed or ambiguous (a 400)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    # Methods HTTP defines but no endpoint here takes: 405 with Allow (RFC 9110 §15.5.6), where
    # http.server would answer 501 as if the method were unknown. HEAD is GET without the body (§9.3.2):
    # ``_answer`` and ``_send`` leave the body out.
    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS

    def _handle(self) -> None:
        self.body_read = False
        try:
            self.frame = framing(self.headers)
        except BadFraming:
            self.frame = None
        try:
            handle(self.server.owner, self)
        except Exception:
            # A bug must still answer: RFC 6749's server_error, never a dropped connection (a browser
            # shows that as a network error). Nothing of the request or the exception is echoed.
            self.close_connection = True
            with contextlib.suppress(Exception):
                _answer(self, Response(500, {"Content-Type": "application/json", "Cache-Control": "no-store"},
                                       b'{"error":"server_error"}'))
        frame = self.frame
        if frame is None or frame.close_after or (frame.has_body and not self.body_read):
            # A body nobody read would be parsed as the next request on this connection: close it. So
            # too after both Transfer-Encoding and Content-Length (RFC 9112 §6.1: another reader on
            # the way may have framed it by the other) and after framing that could not be read.
            self.close_connection = True


def _local_host(value: str | None) -> bool:
    # DNS rebinding: a page on attacker.example whose name now points at 127.0.0.1 reaches this server
    # with "Host: attacker.example". Only the names of this machine are served.
    if value is None:
        return True  # HTTP/1.0 without Host: no name to have been rebound
    try:
        name = urlsplit("//" + value.strip()).hostname
    except ValueError:
        return False
    return name is not None and is_loopback(name)


def handle(owner: DevIssuer, h: _Handler) -> None:
    if not _local_host(h.headers.get("Host")):
        h.close_connection = True
        _send(h, 421, b'{"error":"misdirected_request"}')
        return
    if h.frame is None:  # Content-Length fields that disagree or are no number, a coding but chunked
        _answer(h, OAuthError("invalid_request", "Malformed Content-Length or Transfer-Encoding").response())
        return
    path, _, query = h.path.partition("?")
    with owner._count_lock:
        owner.requests[path] += 1
    method = h.command
    cors = cors_headers(h.headers.get("Origin"), owner.oidc.cors_origins, preflight=method == "OPTIONS")
    if method == "OPTIONS":
        if path not in _CORS_PATHS:
            _answer(h, Response(404, {"Content-Type": "application/json"}, b'{"error":"not_found"}'))
        else:  # a preflight from an origin that is not allowed gets no Access-Control-* header
            _answer(h, Response(204 if "Access-Control-Allow-Origin" in cors else 403, cors))
        return
    if path in _OIDC_METHODS:
        if method not in _OIDC_METHODS[path]:
            allowed = ", ".join(_OIDC_METHODS[path])
            # An RFC 6749 error body a client library reads (as for 413), with HTTP's own status.
            wrong = OAuthError("invalid_request", f"This endpoint takes {allowed}", status=405)
            _answer(h, wrong.response({"Allow": allowed, **cors}))
            return
        _answer(h, _oidc(owner, h, path, query), cors if path in _CORS_PATHS else {})
        return
    if path == DISCOVERY_PATH:
        doc: Any = owner.discovery()
    elif path == JWKS_PATH:
        doc = owner.jwks()
    else:
        _send(h, 404, b'{"error":"not_found"}')
        return
    if method not in ("GET", "HEAD"):
        _answer(h, Response(405, {"Allow": "GET, HEAD", **cors}))
        return
    fault = owner.fault if path in owner.fault_paths else None
    body = json.dumps(doc).encode()
    if fault is None:
        _send(h, 200, body, extra=cors)
    elif fault in ("500", "503"):
        _send(h, int(fault), b'{"error":"unavailable"}')
    elif fault == "429":
        wait = owner.retry_after
        _send(h, 429, b'{"error":"slow_down"}', extra={} if wait is None else {"Retry-After": wait})
    elif fault == "slow":
        if not owner._stopping.wait(owner.slow_seconds):
            _send(h, 200, body)
    elif fault == "drip":
        _drip(owner, h, body)
    elif fault == "huge":
        _send(h, 200, b'{"pad":"' + b"x" * owner.huge_bytes + b'"}')
    elif fault == "huge_undeclared":
        _send(h, 200, b'{"pad":"' + b"x" * owner.huge_bytes + b'"}', declare_length=False)
    elif fault == "redirect":
        _send(h, 302, b"", extra={"Location": owner.issuer + path})
    elif fault == "not_json":
        _send(h, 200, b"<html>surprise</html>", content_type="text/html")
    elif fault == "json_bomb":
        _send(h, 200, b"[" * 100_000 + b"]" * 100_000)
    elif fault == "wrong_shape":
        _send(h, 200, b'["not", "an", "object"]')
    elif fault == "wrong_issuer":
        if path == DISCOVERY_PATH:
            doc["issuer"] = "https://attacker.example"
        _send(h, 200, json.dumps(doc).encode())
    elif fault == "reset":
        # SO_LINGER 0 then close: the client sees a TCP reset, not a clean EOF.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()
    else:
        _send(h, 500, b'{"error":"unknown_fault"}')

def _oidc(owner: DevIssuer, h: _Handler, path: str, query: str) -> Response:
    body = b""
    if h.command == "POST":
        try:
            body = _read_body(h)
        except _TooLarge:
            h.close_connection = True
            # An RFC 6749 error body (a client library reads error and error_description), with HTTP's
            # own status for the cause.
            too_large = OAuthError("invalid_request", "The request body is larger than 64 KiB", status=413)
            return too_large.response()
        except ValueError:  # a malformed length or chunk size
            h.close_connection = True
            return OAuthError("invalid_request", "Malformed Content-Length or chunk size").response()
    content_type = h.headers.get("Content-Type", "")
    provider = owner.oidc
    if path == AUTHORIZE_PATH:
        return provider.authorize(h.command, query, body, content_type)
    if path == TOKEN_PATH:
        return provider.token(body, content_type, h.headers.get("Authorization"))
    if path == USERINFO_PATH:
        return provider.userinfo(h.headers.get("Authorization"), body, content_type)
    return provider.end_session(query, body, content_type)


class _TooLarge(Exception):
    pass


def _read_body(h: _Handler) -> bytes:
    """The request body (Content-Length or chunked, RFC 9112 §7.1); _TooLarge past MAX_FORM_BYTES,
    BadFraming (a ValueError) for a malformed chunk or a body shorter than announced."""
    h.body_read = True
    frame = h.frame
    if frame is None:  # handle() answered it already
        raise BadFraming("unreadable framing")
    if frame.chunked:  # sizes read strictly (1*HEXDIG), as the local API reads them
        out = b""
        while size := chunk_size(h.rfile.readline(CHUNK_LINE_BYTES)):
            if len(out) + size > MAX_FORM_BYTES:
                raise _TooLarge
            chunk = h.rfile.read(size)
            if len(chunk) != size or h.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadFraming("short chunk")
            out += chunk
        for _ in range(100):  # trailer fields, then the empty line
            if h.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                return out
        raise BadFraming("endless trailers")
    length = frame.length or 0
    if length > MAX_FORM_BYTES:
        if length <= 16 * MAX_FORM_BYTES:
            h.rfile.read(length)  # drained, so the client reads the 413 instead of a reset
        raise _TooLarge
    body = h.rfile.read(length)
    if len(body) != length:
        raise BadFraming("short body")
    return body


def _answer(h: _Handler, response: Response, extra: Mapping[str, str] | None = None) -> None:
    h.send_response(response.status)
    headers = {**response.headers, **(extra or {})}
    headers.setdefault("Content-Length", str(len(response.body)))
    for name, value in headers.items():
        h.send_header(name, value)
    h.end_headers()
    if h.command == "HEAD":  # a GET's headers, Content-Length included, and no body (RFC 9110 §9.3.2)
        return
    try:
        h.wfile.write(response.body)
    except OSError:
        h.close_connection = True


def _send(
    h: _Handler,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    extra: Mapping[str, str] | None = None,
    declare_length: bool = True,
) -> None:
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    # Discovery and JWKS may be cached as real providers let them be; an error never is.
    h.send_header("Cache-Control", "public, max-age=600" if status == 200 else "no-store")
    for name, value in (extra or {}).items():
        h.send_header(name, value)
    if declare_length:
        h.send_header("Content-Length", str(len(body)))
    else:
        h.send_header("Connection", "close")
        h.close_connection = True
    h.end_headers()
    if h.command == "HEAD":
        return
    try:
        h.wfile.write(body)
    except OSError:
        h.close_connection = True  # the client gave up (size cap, deadline); that is the point

def _drip(owner: DevIssuer, h: _Handler, body: bytes) -> None:
    if h.command == "HEAD":
        _send(h, 200, body)
        return
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.close_connection = True
    try:
        for i in range(len(body)):
            if owner._stopping.wait(owner.drip_interval_seconds):
                return
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()
    except OSError:
        return
