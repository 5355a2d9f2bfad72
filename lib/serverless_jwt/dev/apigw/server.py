"""The local API Gateway: a loopback HTTP server that runs each request along API Gateway's path.

request -> body (``Content-Length`` or ``Transfer-Encoding: chunked``) -> CORS preflight -> route (or a
static file) -> authorizer -> payload 1.0/2.0 event -> function -> HTTP answer. The stdlib server is
used, as for the dev issuer; the request body is read by ``body.py`` (chunked included).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from serverless_jwt.dev import invocation
from serverless_jwt.dev._http_framing import framing
from serverless_jwt.dev._serve import serve_in_thread, shut_down
from serverless_jwt.dev.apigw import cors, events, routes
from serverless_jwt.dev.apigw._preflight import answer_preflight
from serverless_jwt.dev.apigw._target import origin_form
from serverless_jwt.dev.apigw.body import BadRequestBody, read_body
from serverless_jwt.dev.apigw.events import Request
from serverless_jwt.dev.apigw.jwt_authorizer import JwtAuthorizers
from serverless_jwt.dev.apigw.lambda_authorizer import LambdaAuthorizers, Runner
from serverless_jwt.dev.apigw.responses import Answer, MalformedResponse, customize, from_function, gateway
from serverless_jwt.dev.apigw.routes import Api, Match, Route
from serverless_jwt.dev.apigw.static import StaticFiles
from serverless_jwt.dev.invocation import InvocationError, UnsupportedInlineCode
from serverless_jwt.dev.oidc_provider import RESOURCE_METADATA_PATH

__all__ = ["LocalApiGateway"]

def _reason(answer: Answer) -> str:
    """Why the function refused, from its own ``WWW-Authenticate`` (our errors never carry the token),
    for the access log: ``" (invalid_token: The access token expired)"``; a 503's ``Retry-After``."""
    value = answer.header("WWW-Authenticate") if answer.status >= 400 else None
    if value is None:
        retry = answer.header("Retry-After") if answer.status == 503 else None
        return f" (Retry-After: {retry})" if retry is not None and retry.isdigit() else ""
    error = re.search(r'error="([^"]*)"', value)
    description = re.search(r'error_description="([^"]*)"', value)
    if error:
        return f" ({error[1]}: {description[1]})" if description else f" ({error[1]})"
    return " (no token)" if value.strip().lower().startswith("bearer") else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    gateway: LocalApiGateway

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (reset, broken pipe) is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6  # --host ::1: an IPv6 address, as sam's server (werkzeug) binds it


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # LocalApiGateway writes its own access line

    def _serve(self) -> None:
        self.server.gateway.handle(self)

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the gateway (the stdlib answers one without a do_X with an HTML 501), so
        # an odd one (PROPFIND, TRACE) gets API Gateway's no-route answer, as sam local answers it.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


class LocalApiGateway:
    """Serve a template's APIs on a loopback address.

    Parameters
    ----------
    routes:
        Every route (``collect(template).routes``): REST APIs answer under their stage, HTTP APIs at
        the root (or their named stage); a staged route also at the root where nothing else has its
        path, as ``sam local start-api`` serves it.
    runners:
        One runner per function name (backends and authorizers), each with
        ``invoke(event, *, request_id=None)``.
    host, port:
        Where to listen; ``port=0`` picks a free port.
    static_dir:
        A folder of static files (``public/``), or ``None``.
    jwt_override:
        ``(issuer, audience)`` for every HTTP API JWT authorizer (the dev issuer), or ``None`` to use
        each authorizer's own configuration.
    clock:
        Monotonic seconds for the Lambda authorizers' answer cache.
    access_log:
        Where to write one line per request and the functions' failures (``None``: nowhere).

    Raises
    ------
    OSError
        From :meth:`start` when the port is taken.

    Examples
    --------
    >>> with LocalApiGateway(collect(template).routes, runners) as api:   # doctest: +SKIP
    ...     urllib.request.urlopen(api.url + "/prod/me")
    """

    def __init__(self, routes: Sequence[Route], runners: Mapping[str, Runner], *, host: str = "127.0.0.1",
                 port: int = 0, static_dir: str | Path | None = None,
                 jwt_override: tuple[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic, access_log: TextIO | None = None,
                 region: str = "us-east-1",
                 resource_metadata: Callable[[str], Mapping[str, Any]] | None = None) -> None:
        self.routes = list(routes)
        self.resource_metadata = resource_metadata
        self.apis: list[Api] = list(dict.fromkeys(r.api for r in self.routes))
        self.runners = dict(runners)
        self.host, self.port, self.region = host, port, region
        has_static = static_dir is not None and Path(static_dir).is_dir()
        self.static = StaticFiles(static_dir) if static_dir is not None and has_static else None
        self.access_log = access_log
        self.lambda_authorizers = LambdaAuthorizers(self.runners, clock=clock, log=self._log)
        self.jwt_authorizers = JwtAuthorizers(override=jwt_override, log=self._log)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._noted: set[Route] = set()  # routes served at the root, named once in the log
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalApiGateway is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._server.server_address[1]}"

    def _resource(self, request: Request) -> str:
        # RFC 9728 §3.3: "resource" is the URL the metadata was fetched under, which a client compares;
        # a loopback name of this port (localhost for 127.0.0.1) is kept as the client wrote it.
        port = self.url.rsplit(":", 1)[1]
        host = (request.header("host") or "").lower()
        loopback = {f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"}
        return f"http://{host}" if host in loopback else self.url

    def start(self) -> LocalApiGateway:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._server is None:
            server = (_Server6 if ":" in self.host else _Server)((self.host, self.port), _Handler)
            server.gateway = self
            self._server = server
            self._thread = serve_in_thread(server, "LocalApiGateway")
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is not None:
            shut_down(server, self._thread)
        self._thread = None

    def __enter__(self) -> LocalApiGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def route_lines(self) -> list[str]:
        """One line per route: method, full local URL, function, API and authorizer."""
        lines = []
        for r in self.routes:
            path = "/{proxy+} ($default)" if r.path == "$default" else r.path
            guard = f", authorizer {r.authorizer.name} ({r.authorizer.kind})" if r.authorizer else ""
            lines.append(f"  {r.method:<7} {self.url}{r.api.prefix}{path}  -> {r.function}"
                         f"  [{r.api.kind} {r.api.name}{guard}]")
        if self.static is not None:
            lines.append(f"  GET     {self.url}/  -> static files from {self.static.root}")
        return lines

    # -- one request ---------------------------------------------------------------------------

    def handle(self, h: _Handler) -> None:
        raw_path, _, raw_query = origin_form(h.path).partition("?")
        port = self._server.server_address[1] if self._server is not None else self.port
        try:
            body = read_body(h.rfile, h.headers)
            problem = None
            h.close_connection |= framing(h.headers).close_after  # TE and CL both: RFC 9112 §6.1 closes
        except BadRequestBody as exc:
            body, problem = b"", exc.kind
            h.close_connection = True
        request = Request(method=h.command, raw_path=raw_path, raw_query=raw_query,
                          headers=list(h.headers.items()), body=body, source_ip=h.client_address[0],
                          port=int(port), region=self.region, protocol=h.request_version)
        if problem is not None:
            rest = routes.rest_owner(self.apis, raw_path) is not None
            answer, target = gateway(problem, rest, request.request_id), "-"
        else:
            try:
                answer, target = self.answer(request)
            except Exception as exc:  # a bug here must still answer, as API Gateway's 500 would
                self._log("local API Gateway error:\n" + "".join(traceback.format_exception(exc)))
                rest = routes.rest_owner(self.apis, raw_path) is not None
                answer, target = gateway("integration_failure", rest, request.request_id), "-"
                answer.status = 500
        self._send(h, answer, request, target)

    def answer(self, request: Request) -> tuple[Answer, str]:
        """The answer to one request and what served it (a function name, ``static``, ``-``)."""
        answer, target, api = self._answer(request)
        return customize(answer, api or routes.rest_owner(self.apis, request.raw_path)), target

    def _answer(self, request: Request) -> tuple[Answer, str, Api | None]:
        if request.method.upper() == "OPTIONS":
            preflight = answer_preflight(self.routes, self.apis, self.lambda_authorizers, request,
                                         cors.is_preflight(request))
            if preflight is not None:
                return preflight, "cors", None
        found = routes.match(self.routes, request.method, request.raw_path)
        if (found is None or found.route.path == "$default") and self.static is not None:
            served = self.static.answer(request.method, request.raw_path)
            if served is not None:
                return served, "static", None
        if found is None and self.resource_metadata is not None and request.method == "GET" \
                and request.raw_path == RESOURCE_METADATA_PATH:
            # RFC 9728: how the sample page finds the issuer this local API trusts (dev only).
            body = json.dumps(self.resource_metadata(self._resource(request))).encode()
            # Public metadata, read cross-origin by a page served elsewhere (`?api=`).
            headers = [("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")]
            return Answer(200, headers, body), "-", None
        if found is None:
            found = routes.at_root(self.routes, request.method, request.raw_path)
            if found is not None:
                self._note_at_root(found, request)
        if found is None:
            rest = routes.rest_owner(self.apis, request.raw_path) is not None
            return gateway("not_found", rest, request.request_id), "-", None
        answer, target = self._run(found, request)
        if found.route.api.kind == "HTTP" and found.route.api.cors is not None:
            added = cors.http_response_headers(found.route.api.cors, request)
            answer.headers = cors.strip_cors(answer.headers) + added
        return answer, target, found.route.api

    def _note_at_root(self, found: Match, request: Request) -> None:
        """Once per route: where a route served at the root (as sam local serves it) answers deployed."""
        with self._lock:
            if found.route in self._noted:
                return
            self._noted.add(found.route)
        self._log(f"note: {request.method.upper()} {request.raw_path} is served at the root as sam local "
                  f"serves it; deployed, it is {found.route.api.prefix}{request.raw_path}")

    def _run(self, found: Match, request: Request) -> tuple[Answer, str]:
        """The answer, and who gave it for the access log: the route's function, or its authorizer."""
        route = found.route
        authorizer_context: dict[str, Any] | None = None
        if route.authorizer is not None:
            guard = self.jwt_authorizers if route.authorizer.kind == "jwt" else self.lambda_authorizers
            outcome = guard.authorize(found, request)
            if isinstance(outcome, Answer):
                auth = route.authorizer
                who = f" ({auth.function})" if auth.function else ""
                return outcome, f"authorizer {auth.name}{who}"
            authorizer_context = outcome
        return self._invoke(found, request, authorizer_context), route.function

    def _invoke(self, found: Match, request: Request, authorizer_context: dict[str, Any] | None) -> Answer:
        route, rest = found.route, found.route.api.kind == "REST"
        build = events.v2_event if route.payload_version == "2.0" else events.v1_event
        event = build(found, request)
        if authorizer_context is not None:
            event["requestContext"]["authorizer"] = authorizer_context
        runner = self.runners.get(route.function)
        if runner is None:
            self._log(f"{route.function}: not run locally (the notice at start says why: a function sam "
                      "local does not run either, a Runtime other than Python's, or none of that name): 502")
            return gateway("no_function", rest, request.request_id)
        seconds = (route.timeout_ms or (29000 if rest else 30000)) / 1000
        try:
            result = invocation.invoke_within(runner, event, request_id=request.request_id, seconds=seconds)
        except invocation.IntegrationTimeout as exc:  # API Gateway's 504 (REST) / 503; the function runs on
            self._log(f"{route.function}: {exc}")
            return gateway("integration_timeout", rest, request.request_id)
        except UnsupportedInlineCode:  # as sam local: 501 with its message
            return gateway("inline_code", rest, request.request_id)
        except InvocationError as exc:  # the function failed or timed out: API Gateway's own answer
            # Its own traceback (in-process) or one line: the runtime has logged the rest. Never this
            # server's stack, which reads as if the tool had crashed.
            cause = exc.__cause__
            detail = "".join(traceback.format_exception(cause)) if cause is not None else f"{exc}\n"
            self._log(f"{route.function} failed: {detail}".rstrip("\n"))
            return gateway("integration_failure", rest, request.request_id)
        except Exception as exc:  # a fault of ours: its whole stack, for a bug report
            self._log(f"{route.function} failed:\n" + "".join(traceback.format_exception(exc)))
            return gateway("integration_failure", rest, request.request_id)
        try:
            answer = from_function(result, api=route.api, payload_version=route.payload_version,
                                   accept=request.header("Accept"))
        except MalformedResponse as exc:
            self._log(f"{route.function} answered a malformed response: {exc}")
            return gateway("integration_failure", rest, request.request_id)
        answer.headers.append(("x-amzn-RequestId", request.request_id) if rest
                              else ("apigw-requestid", request.request_id))
        return answer

    def _send(self, h: _Handler, answer: Answer, request: Request, target: str) -> None:
        # Logged before the answer leaves: once a client has its reply, the line is already there.
        why = f" ({answer.kind.replace('_', ' ')})" if answer.kind else _reason(answer)
        self._log(f"{request.method} {request.raw_path} -> {target} {answer.status}{why}")
        try:
            h.send_response(answer.status)
            for name, value in answer.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    h.send_header(name, value)
            # No body after 1xx/204/304 (as sam local's server): kept alive, it would start the next answer.
            bodiless = answer.status < 200 or answer.status in (204, 304)
            if not bodiless:
                h.send_header("Content-Length", str(len(answer.body)))
            h.end_headers()
            if request.method.upper() != "HEAD" and not bodiless:
                h.wfile.write(answer.body)
        except OSError:
            h.close_connection = True  # the client went away

    def _log(self, line: str) -> None:
        stream = self.access_log
        if stream is not None:
            print(line, file=stream, flush=True)
