"""Local API Gateway fixtures: templates and functions written to tmp dirs, a gateway on a free port."""

from __future__ import annotations

import http.client
import io
import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from serverless_jwt.dev.apigw import LocalApiGateway, collect
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.runtime import FunctionRunner
from serverless_jwt.dev.template import Template

ROOT = Path(__file__).resolve().parents[3]

# A backend that answers with the event it got (and who it is), so tests see what API Gateway built.
ECHO = """\
import base64, json
def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"event": event, "function": context.function_name})}
"""

# A Lambda authorizer driven by the token: allow / deny / unauthorized / broken / crash / scoped.
# Each answer carries a call counter in its context, so tests can tell a cached answer from a new one.
AUTHORIZER = """\
CALLS = 0
def handler(event, context):
    global CALLS
    CALLS += 1
    ids = event.get("identitySource")
    token = (event.get("authorizationToken") or (ids[0] if isinstance(ids, list) and ids else "")
             or (event.get("headers") or {}).get("X-Key", ""))
    arn = event.get("methodArn") or event.get("routeArn")
    if token.endswith("unauthorized"):
        raise Exception("Unauthorized")
    if token.endswith("crash"):
        raise RuntimeError("authorizer bug")
    if token.endswith("broken"):
        return {"principalId": "x"}
    if token.endswith("simple-yes"):
        return {"isAuthorized": True, "context": {"calls": CALLS, "nested": {"a": [1]}}}
    if token.endswith("simple-no"):
        return {"isAuthorized": False}
    effect = "Deny" if token.endswith("deny") else "Allow"
    resource = arn
    if token.endswith("stage"):
        resource = arn.split("/", 1)[0] + "/*"
    if token.endswith("other"):
        resource = arn.rsplit("/", 1)[0] + "/elsewhere"
    return {"principalId": "user-1",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
            "context": {"calls": CALLS, "token": token[-20:], "admin": False, "level": 3}}
"""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    all_headers: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


class Clock:
    """An injectable monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(base: str, method: str, path: str, *, body: bytes | None = None,
            headers: dict[str, str] | None = None, chunks: list[bytes] | None = None) -> Reply:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        if chunks is not None:
            conn.putrequest(method, path)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for chunk in chunks:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.getheaders()
        return Reply(response.status, {k.lower(): v for k, v in raw}, response.read(), raw)
    finally:
        conn.close()


@dataclass
class Project:
    """A template in a tmp dir, its functions, and a running gateway over it."""

    root: Path
    issuer: DevIssuer
    clock: Clock = field(default_factory=Clock)
    logs: io.StringIO = field(default_factory=io.StringIO)
    gateway: LocalApiGateway | None = None

    def function(self, name: str, code: str) -> None:
        (self.root / name).mkdir(exist_ok=True)
        (self.root / name / "app.py").write_text(textwrap.dedent(code))

    def start(self, template: str, *, jwt_override: bool = True) -> LocalApiGateway:
        (self.root / "template.yaml").write_text(textwrap.dedent(template))
        parsed = Template(self.root / "template.yaml")
        env = {"JWT_ISSUER": self.issuer.issuer, "JWT_AUDIENCE": self.issuer.audience}
        runners = {n: FunctionRunner(f, environment=env, log_stream=self.logs)
                   for n, f in parsed.functions.items()}
        self.gateway = LocalApiGateway(
            collect(parsed).routes, runners, static_dir=self.root / "public", clock=self.clock,
            access_log=self.logs,
            jwt_override=(self.issuer.issuer, self.issuer.audience) if jwt_override else None).start()
        return self.gateway

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        assert self.gateway is not None
        return request(self.gateway.url, method, path, **kwargs)


@pytest.fixture
def project(tmp_path: Path, issuer: DevIssuer) -> Iterator[Project]:
    p = Project(tmp_path, issuer)
    p.function("echo", ECHO)
    p.function("auth", AUTHORIZER)
    try:
        yield p
    finally:
        if p.gateway is not None:
            p.gateway.stop()


@pytest.fixture
def bearer(issuer: DevIssuer) -> Callable[..., dict[str, str]]:
    def make(**claims: Any) -> dict[str, str]:
        return {"Authorization": "Bearer " + issuer.mint(**claims)}

    return make
