"""``serverless-jwt demo``: the sample API answering real HTTP calls, verified against a real issuer.

An embedded OIDC issuer (discovery + JWKS on a free loopback port, a key made for this run) and the
template's APIs on another free port (the HTTP API at the root, the REST API under ``/prod`` behind its
TOKEN authorizer); the functions run as ``start-api`` runs them (Lambda's runtime under the emulator, or
in this process: :mod:`~serverless_jwt.dev.runners`) with ``JWT_ISSUER`` and ``JWT_AUDIENCE`` pointing
at the issuer, and verify tokens exactly as they would Auth0's.
"""

from __future__ import annotations

import http.client
import io
import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from serverless_jwt.dev._support import command, state_dir
from serverless_jwt.dev.apigw import LocalApiGateway, collect
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.runners import Prepared, prepare
from serverless_jwt.dev.template import Template

__all__ = ["Call", "run_demo"]


@dataclass(frozen=True)
class Call:
    """One sample request and the status it should get."""

    path: str
    note: str
    token: str | None
    expected: int


def _calls(issuer: DevIssuer) -> list[Call]:
    reader = issuer.mint(sub="demo-user", scopes=["read:shows"])
    plain = issuer.mint(sub="demo-user")
    expired = issuer.mint(sub="demo-user", lifetime_seconds=-600)
    return [
        Call("/me", "valid token", plain, 200),
        Call("/me", "no token", None, 401),
        Call("/me", "expired token", expired, 401),
        Call("/shows", "token without read:shows", plain, 403),
        Call("/shows", "token with read:shows", reader, 200),
        Call("/shows/1", "token with read:shows", reader, 200),
        Call("/shows/999", "token with read:shows", reader, 404),
        Call("/prod/me", "REST API, valid token", plain, 200),
        Call("/prod/me", "REST API, no token", None, 401),
    ]


def _request(base: str, call: Call) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {call.token}"} if call.token else {}
        conn.request("GET", call.path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _summary(status: int, headers: dict[str, str], body: bytes, width: int = 100) -> str:
    if status == 401 and "www-authenticate" in headers:
        text = "WWW-Authenticate: " + headers["www-authenticate"]
    else:
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = body.decode("utf-8", "replace")
        if isinstance(data, list):
            names = ", ".join(str(item.get("name")) for item in data[:3] if isinstance(item, dict))
            text = f"{len(data)} shows: {names}, ..."
        elif isinstance(data, dict) and isinstance(data.get("claims"), dict):
            claims = data["claims"]
            text = "claims: " + json.dumps({k: claims[k] for k in ("iss", "sub", "aud") if k in claims})
        else:
            text = json.dumps(data) if not isinstance(data, str) else data
    return text if len(text) <= width else text[: width - 3] + "..."


def run_demo(template_path: str, *, verbose: bool = False, out: TextIO | None = None,
             mode: str = "auto") -> int:
    """Run the demo; returns 0 when every call got its expected status, 1 otherwise.

    Raises
    ------
    ConfigurationError
        When the template is missing or lacks the sample's ``/me`` and ``/shows`` routes.

    Examples
    --------
    >>> run_demo("template.yaml")  # doctest: +SKIP
    0
    """
    out = out or sys.stdout
    template = Template(template_path)
    state_dir(None, template)  # its runtimes go there: moved out of the project when sam build copies it
    logs: TextIO = sys.stderr if verbose else io.StringIO()
    with DevIssuer() as issuer:
        env = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience}
        routes = collect(template).routes
        # Backends and the authorizers in front of them.
        names = list(dict.fromkeys([r.function for r in routes]
                                   + [r.authorizer.function for r in routes
                                      if r.authorizer is not None and r.authorizer.function]))
        names = [n for n in names if n in template.functions]
        prepared = prepare(template, names, mode=mode, environment=env, log_stream=logs,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
        for notice in prepared.notices:
            print(f"notice: {notice}", file=sys.stderr)
        try:
            failures = _serve_and_call(template, prepared, issuer, logs if verbose else None, out)
        finally:
            prepared.close()
    if failures:
        print(f"\n{failures} call(s) did not answer as expected.", file=out)
        if not verbose:
            print(f"Run `{command()} demo --verbose` to see the functions' logs.", file=out)
        return 1
    print("\nEvery call answered as expected: 200 with a valid token, 401 without or expired, "
          "403 without the scope; the REST API's authorizer turned away the call without a token.", file=out)
    print(f"Next: {command()} start-api   (then paste the printed curl lines)", file=out)
    return 0


def _serve_and_call(template: Template, prepared: Prepared, issuer: DevIssuer, access_log: TextIO | None,
                    out: TextIO) -> int:
    with LocalApiGateway(collect(template).routes, prepared.runners, access_log=access_log) as api:
        print(f"serverless-jwt demo: the sample API of {template.path}, no Docker, no cloud account",
              file=out)
        print(f"  issuer  {issuer.issuer}  (embedded OIDC issuer: discovery + JWKS, RS256 key"
              " for this run)", file=out)
        print(f"  api     {api.url}  ({', '.join(prepared.runners)})", file=out)
        print(f"  {prepared.describe()}\n", file=out)
        failures = 0
        for call in _calls(issuer):
            status, headers, body = _request(api.url, call)
            ok = status == call.expected
            failures += not ok
            mark = "ok  " if ok else f"FAIL (expected {call.expected})"
            print(f"{mark} GET {call.path:<11} {call.note:<25} -> {status}", file=out)
            print(f"       {_summary(status, headers, body)}", file=out)
    return failures
