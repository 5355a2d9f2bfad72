"""A local stand-in for API Gateway HTTP APIs: real requests in, payload 2.0 events, proxy responses out.

Routes come from the template's ``HttpApi`` events. Matching follows API Gateway: the route with the
most specific path wins (literal segments before ``{param}``, ``{proxy+}`` last, ``$default`` as the
fallback), ``ANY`` matches every method, and an unmatched request is ``404 {"message": "Not Found"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote

from serverless_jwt.dev._serve import serve_in_thread, shut_down
from serverless_jwt.dev.invocation import Runner
from serverless_jwt.dev.template import Route

__all__ = ["LocalApi", "build_event", "match_route", "proxy_response"]

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))")


def _pattern(path: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            out += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            out += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out)


def _specificity(route: Route) -> tuple[int, int, int]:
    if route.path == "$default":
        return (1, 0, 0)
    segments = route.path.strip("/").split("/")
    greedy = any(s.endswith("+}") for s in segments)
    literal = sum(1 for s in segments if not s.startswith("{"))
    return (0, int(greedy), -literal * 1000 - len(segments))


def match_route(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``method path`` and its path parameters (decoded), or ``None``.

    Examples
    --------
    >>> r = [Route("GET", "/shows", "S"), Route("GET", "/shows/{id}", "S")]
    >>> match_route(r, "GET", "/shows/7")
    (Route(method='GET', path='/shows/{id}', function='S'), {'id': '7'})
    """
    for route in sorted(routes, key=_specificity):
        if route.method not in ("ANY", method.upper()):
            continue
        if route.path == "$default":
            return route, {}
        m = _pattern(route.path).fullmatch(path)
        if m is not None:
            return route, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


def build_event(route: Route, *, method: str, raw_path: str, raw_query: str,
                headers: Sequence[tuple[str, str]], body: bytes, source_ip: str,
                path_parameters: Mapping[str, str] | None = None, request_id: str | None = None,
                now: float | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for one request.

    Header names are lower-cased and repeated headers comma-joined; ``Cookie`` headers become the
    ``cookies`` list; a body that is not text is base64-encoded with ``isBase64Encoded: true``.
    """
    now = time.time() if now is None else now
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            merged[lname] = f"{merged[lname]},{value}" if lname in merged else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    host = merged.get("host", "localhost")
    request_id = request_id or str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {"method": method.upper(), "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": merged.get("user-agent", "")},
            "requestId": request_id,
            "routeKey": route.key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        text = _TEXT_TYPES.match(merged.get("content-type", "").lower())
        try:
            event["body"] = body.decode("utf-8") if text else None
        except UnicodeDecodeError:
            event["body"] = None
        if event["body"] is None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return event


def proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a handler's result (payload 2.0 rules).

    A dict with ``statusCode`` is a proxy response (``headers``, ``multiValueHeaders``, ``cookies``,
    ``body``, ``isBase64Encoded``); anything else is sent as a 200 JSON body, as API Gateway does.
    Raises ``ValueError`` for a malformed proxy response.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], body.encode("utf-8")
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("statusCode must be an integer HTTP status")
    out: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        out.append((str(name), _header_text(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        out.extend((str(name), _header_text(v)) for v in values)
    out.extend(("Set-Cookie", _header_text(c)) for c in result.get("cookies") or [])
    raw = result.get("body")
    if raw is None:
        data = b""
    elif not isinstance(raw, str):
        raise ValueError("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("body is not valid base64") from None
    else:
        data = raw.encode("utf-8")
    return status, out, data


def _reason(status: int, headers: list[tuple[str, str]]) -> str:
    """Why a request was refused, from the function's own ``WWW-Authenticate`` (safe: our errors never
    carry the token), for the access log: ``" (invalid_token: The token has expired)"``."""
    if status < 400:
        return ""
    for name, value in headers:
        if name.lower() == "www-authenticate":
            error = re.search(r'error="([^"]*)"', value)
            description = re.search(r'error_description="([^"]*)"', value)
            if error:
                return f" ({error[1]}: {description[1]})" if description else f" ({error[1]})"
            return " (no token)" if value.strip().lower().startswith("bearer") else ""
    return ""


def _header_text(value: Any) -> str:
    text = "true" if value is True else "false" if value is False else str(value)
    if "\r" in text or "\n" in text:
        raise ValueError("header values must not contain line breaks")
    return text


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    api: LocalApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # LocalApi writes its own access line

    def _serve(self) -> None:
        self.server.api._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class LocalApi:
    """Serve HTTP API routes on a loopback address, invoking each function in-process.

    Parameters
    ----------
    routes:
        Routes to serve (``Template.routes``).
    runners:
        One runner (emulator or in-process) per function name used by ``routes``.
    host, port:
        Where to listen; ``port=0`` picks a free port.
    access_log:
        Where to write one line per request (``None``: nowhere).

    Raises
    ------
    OSError
        From :meth:`start` when the port is taken.

    Examples
    --------
    >>> with LocalApi(template.routes, runners) as api:          # doctest: +SKIP
    ...     urllib.request.urlopen(api.url + "/me")
    """

    def __init__(self, routes: Sequence[Route], runners: Mapping[str, Runner], *,
                 host: str = "127.0.0.1", port: int = 0, access_log: TextIO | None = None) -> None:
        self.routes = list(routes)
        self.runners = dict(runners)
        self.host, self.port = host, port
        self.access_log = access_log
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalApi is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._server.server_address[1]}"

    def start(self) -> LocalApi:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._server is None:
            server = _Server((self.host, self.port), _Handler)
            server.api = self
            self._server = server
            self._thread = serve_in_thread(server, "LocalApi")
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is not None:
            shut_down(server, self._thread)
        self._thread = None

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, h: _Handler) -> None:
        raw_path, _, raw_query = h.path.partition("?")
        method = h.command
        length = int(h.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(h, 413, [], b'{"message":"Request Entity Too Large"}', method, raw_path, "-")
            return
        body = h.rfile.read(length) if length > 0 else b""
        found = match_route(self.routes, method, unquote(raw_path))
        if found is None or found[0].function not in self.runners:
            self._send(h, 404, [], b'{"message":"Not Found"}', method, raw_path, "-")
            return
        route, params = found
        event = build_event(route, method=method, raw_path=raw_path, raw_query=raw_query,
                            headers=list(h.headers.items()), body=body, source_ip=h.client_address[0],
                            path_parameters=params)
        runner = self.runners[route.function]
        try:
            status, headers, data = proxy_response(runner.invoke(event))
        except Exception as exc:  # the function's own failure: API Gateway answers 500
            self._log(f"{route.function} failed:\n" + "".join(traceback.format_exception(exc)))
            status, headers, data = 500, [], b'{"message":"Internal Server Error"}'
        self._send(h, status, headers, data, method, raw_path, route.function)

    def _send(self, h: _Handler, status: int, headers: list[tuple[str, str]], data: bytes, method: str,
              raw_path: str, function: str) -> None:
        h.send_response(status)
        names = {name.lower() for name, _ in headers}
        if "content-type" not in names:
            h.send_header("Content-Type", "application/json")
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                h.send_header(name, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if method != "HEAD":
            try:
                h.wfile.write(data)
            except OSError:
                h.close_connection = True  # the client went away
        self._log(f"{method} {raw_path} -> {function} {status}{_reason(status, headers)}")

    def _log(self, line: str) -> None:
        stream = self.access_log
        if stream is not None:
            print(line, file=stream, flush=True)
