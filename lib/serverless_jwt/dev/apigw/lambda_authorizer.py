"""Lambda authorizers as API Gateway runs them: identity sources, the call, the cache, the verdict.

A request whose identity sources are missing (or whose TOKEN fails the ``ValidationExpression``) is
answered ``401 {"message":"Unauthorized"}`` without calling the function (a REST REQUEST authorizer
with caching off does not require them, as in API Gateway). The function runs through the same runner
as every function; an error whose message is exactly ``Unauthorized`` is a 401, any other failure or a
malformed answer a 500. A REST backend gets the context's values as text (``3`` -> ``"3"``). Answers
are cached per identity-source values for the authorizer's TTL (``ReauthorizeEvery``; 0 turns it off)
and a cached policy is evaluated against each request's own method ARN, so a policy for one resource
cached for another request denies it, as in API Gateway.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from serverless_jwt.dev.apigw import events
from serverless_jwt.dev.apigw.events import Request
from serverless_jwt.dev.apigw.policy import Decision, InvalidAuthorizerResponse, parse_response
from serverless_jwt.dev.apigw.responses import Answer, gateway
from serverless_jwt.dev.apigw.routes import Authorizer, Match
from serverless_jwt.dev.invocation import InvocationError

__all__ = ["LambdaAuthorizers", "Runner"]


class Runner(Protocol):
    """What runs a function: ``dev.runtime.FunctionRunner`` or the Runtime Interface Emulator's runner."""

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any: ...


def error_message(exc: BaseException) -> str:
    """The function error's message as Lambda reports it (``errorMessage``), or ``str(exc)``."""
    for attr in ("error_message", "errorMessage", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            return value
    payload = getattr(exc, "payload", None)
    if isinstance(payload, Mapping) and isinstance(payload.get("errorMessage"), str):
        return str(payload["errorMessage"])
    return str(exc)


def _text(value: Any) -> str:
    """A context value as API Gateway hands it to a REST backend (booleans as JSON writes them)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class LambdaAuthorizers:
    """Runs Lambda authorizers for matched requests and caches their answers.

    Parameters
    ----------
    runners:
        One runner per function name (authorizer functions included).
    clock:
        Seconds, monotonic; the cache's TTLs are measured with it (inject one in tests).
    log:
        Where failures are described (one string per call).
    """

    def __init__(self, runners: Mapping[str, Runner], *, clock: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.runners = runners
        self.clock = clock
        self.log = log
        self._cache: dict[tuple[str, str, tuple[str, ...]], tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def authorize(self, found: Match, request: Request) -> Answer | dict[str, Any]:
        """The error answer, or the ``requestContext.authorizer`` object for the backend's event."""
        route, auth = found.route, found.route.authorizer
        assert auth is not None
        assert auth.function is not None
        rest = route.api.kind == "REST"
        values = self._identity(auth, found, request)
        required = auth.identity_sources and not (rest and auth.kind == "request" and auth.ttl_seconds == 0)
        if values is None and required:
            return gateway("unauthorized", rest, request.request_id)
        values = values or ()
        arn = events.method_arn(route.api, request, found.resource_path)
        key = (route.api.name, auth.name, values)
        cacheable = auth.ttl_seconds > 0 and bool(values)
        decision = self._cached(key) if cacheable else None
        if decision is None:
            outcome = self._call(auth, found, request, arn, values)
            if isinstance(outcome, Answer):
                return outcome
            decision = outcome
            if cacheable:
                with self._lock:
                    self._cache[key] = (self.clock() + auth.ttl_seconds, decision)
        verdict = decision.verdict(arn)
        if verdict != "allow":
            return gateway(verdict, rest, request.request_id)
        if route.payload_version == "2.0":
            return {"lambda": dict(decision.context)}
        # REST APIs hand the backend the context's values stringified: 3 -> "3", true -> "true" (AWS's
        # "Output from an API Gateway Lambda authorizer"), so code reading a number works deployed too.
        out: dict[str, Any] = {k: _text(v) for k, v in decision.context.items()} if rest \
            else dict(decision.context)
        if decision.principal is not None:
            out["principalId"] = decision.principal
        out["integrationLatency"] = 0
        return out

    def _cached(self, key: tuple[str, str, tuple[str, ...]]) -> Decision | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if self.clock() >= entry[0]:
                del self._cache[key]
                return None
            return entry[1]

    def _call(self, auth: Authorizer, found: Match, request: Request, arn: str,
              values: tuple[str, ...]) -> Answer | Decision:
        rest = found.route.api.kind == "REST"
        if auth.kind == "token":
            event = events.token_authorizer_event(values[0], arn)
        elif auth.payload_version == "1.0":
            event = events.v1_authorizer_event(found, request, arn, None if rest else values)
        else:
            event = events.v2_authorizer_event(found, request, arn, values)
        runner = self.runners.get(auth.function or "")
        if runner is None:
            self.log(f"authorizer {auth.name}: function {auth.function} is not run locally (not in the "
                     "template, or the notice at start says why)")
            return gateway("authorizer_failure", rest, request.request_id)
        try:
            result = runner.invoke(event, request_id=request.request_id)
        except Exception as exc:
            if error_message(exc) == "Unauthorized":  # API Gateway's contract for a rejected caller
                return gateway("unauthorized", rest, request.request_id)
            if isinstance(exc, InvocationError):
                # As for a failing function: its own traceback (in-process) or one line, the runtime has
                # logged the rest; never this server's stack, which reads as if the tool had crashed.
                cause = exc.__cause__
                trace = "".join(traceback.format_exception(cause)) if cause is not None else f"{exc}\n"
                self.log(f"authorizer {auth.name} ({auth.function}) failed: {trace}".rstrip("\n"))
            else:  # a fault of ours: its whole stack, for a bug report
                trace = "".join(traceback.format_exception(exc))
                self.log(f"authorizer {auth.name} ({auth.function}) failed:\n{trace}")
            return gateway("authorizer_failure", rest, request.request_id)
        try:
            return parse_response(result, simple=auth.simple_responses and not rest,
                                  nested_context=not rest and auth.payload_version == "2.0")
        except InvalidAuthorizerResponse as exc:
            self.log(f"authorizer {auth.name} ({auth.function}) answered wrongly: {exc}")
            return gateway("authorizer_failure", rest, request.request_id)

    def _identity(self, auth: Authorizer, found: Match, request: Request) -> tuple[str, ...] | None:
        values = []
        context: dict[str, Any] | None = None
        for kind, name in auth.identity_sources:
            value: Any
            if kind == "header":
                value = request.header(name)
            elif kind == "query":
                value = next((v for k, v in reversed(request.query()) if k == name), None)
            elif kind == "stage":
                value = dict(found.route.api.stage_variables).get(name)
            else:
                if context is None:
                    context = events.v1_event(found, request)["requestContext"]
                value = context
                for part in name.split("."):
                    value = value.get(part) if isinstance(value, Mapping) else None
            if value is None or value == "":
                return None
            values.append(str(value))
        if auth.kind == "token" and auth.validation_expression and values:
            try:
                if re.fullmatch(auth.validation_expression, values[0]) is None:
                    return None
            except re.error:
                self.log(f"authorizer {auth.name}: ValidationExpression is not a regular expression")
                return None
        return tuple(values)
