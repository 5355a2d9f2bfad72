"""Shared benchmark pieces: the machine, per-call timing, token sets, Lambda events, sample modules."""

from __future__ import annotations

import base64
import contextlib
import copy
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import secrets
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# https: Powertools' JWTVerifier accepts no other issuer, and every row must verify the same tokens.
ISSUER = "https://issuer.bench.example"
AUDIENCE = "https://api.bench.example"
SCOPE = "read:shows"
ALGORITHMS = ("RS256", "ES256", "EdDSA", "HS256")


# Notices the compared libraries print about themselves, not about this run: authlib's on importing
# authlib.jose (under a filter of its own set to "always", so no catch_warnings around a row's build
# keeps it out), joserfc's from every EdDSA decode (shown once, by the first timed call).
_THEIR_NOTICES = (("AuthlibDeprecationWarning", "authlib.jose module is deprecated"),
                  ("SecurityWarning", "EdDSA is deprecated via RFC 9864"))


def quiet_known_warnings() -> None:
    """Keep the compared libraries' own notices out of the report, at no cost to any timed call.

    Only the display is replaced; the filters stay as they are, so every ``warnings.warn`` those
    libraries make in a timed round does exactly the work it did before (the first is recorded in the
    caller's warning registry and the rest return there). An "ignore" filter would change that: an
    ignored warning is never recorded, so each call would search the filters again.
    """
    show = warnings.showwarning

    def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: Any = None, line: str | None = None) -> None:
        text = str(message)
        if any(category.__name__ == name and text.startswith(start) for name, start in _THEIR_NOTICES):
            return
        show(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


def machine() -> dict[str, Any]:
    """CPU, cores, Python and the versions of the libraries being compared."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    openssl = "?"
    with contextlib.suppress(Exception):
        from cryptography.hazmat.backends.openssl import backend

        openssl = backend.openssl_version_text()
    return {
        "cpu": cpu,
        "cores": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
        "cryptography": version("cryptography"),
        "openssl": openssl,
        "PyJWT": version("PyJWT"),
        "msgspec": version("msgspec"),
        "pybase64": version("pybase64"),
        "joserfc": version("joserfc"),
        "authlib": version("authlib"),
        "python-jose": version("python-jose"),
        "aws-lambda-powertools": version("aws-lambda-powertools"),
        "serverless-jwt": version("serverless-jwt"),
    }


def b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# -- timing ------------------------------------------------------------------------------------


def time_calls(fn: Callable[[Any], Any], inputs: Sequence[Any]) -> list[int]:
    """Nanoseconds of each ``fn(x)``, one sample per input."""
    clock = time.perf_counter_ns
    out: list[int] = []
    append = out.append
    for x in inputs:
        t0 = clock()
        fn(x)
        append(clock() - t0)
    return out


def call_overhead_ns(inputs: Sequence[Any]) -> float:
    """What the timing loop itself costs per call (subtracted from every median)."""
    samples: list[int] = []
    for _ in range(5):
        samples.extend(time_calls(lambda _x: None, inputs))
    return float(statistics.median(samples))


def summary_us(samples: Sequence[int], overhead_ns: float) -> dict[str, float]:
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return {
        "median_us": round((statistics.median(samples) - overhead_ns) / 1000, 3),
        "p25_us": round((q[0] - overhead_ns) / 1000, 3),
        "p75_us": round((q[2] - overhead_ns) / 1000, 3),
        "samples": len(samples),
    }


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")
    return text[:140]


# -- tokens ------------------------------------------------------------------------------------


@dataclass
class TokenSet:
    """Distinct tokens for one algorithm, and what the floor needs to check them."""

    alg: str
    tokens: list[str]
    pairs: list[tuple[bytes, bytes]]  # (signing input, signature) per token
    key: Any  # cryptography public key, or the HS secret bytes
    secret: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def mint_tokens(issuer: Any, alg: str, n: int, *, secret: str | None = None,
                iss: str = ISSUER) -> TokenSet:
    """``n`` distinct tokens (each has its own ``jti``) signed by the DevIssuer's key for ``alg``."""
    if not alg.startswith("HS"):
        try:
            issuer.kid(alg)
        except ValueError:  # no key for it yet
            issuer.rotate(alg=alg)  # adds a key for an algorithm the issuer does not hold yet (EdDSA)
    tokens = [
        issuer.mint(sub=f"user-{i}", scopes=[SCOPE, "openid"], issuer=iss, alg=alg, secret=secret)
        for i in range(n)
    ]
    pairs = []
    for token in tokens:
        signing_input, _, signature = token.rpartition(".")
        pairs.append((signing_input.encode("ascii"), b64decode(signature)))
    if alg.startswith("HS"):
        key: Any = (secret or "").encode()
    else:
        key = issuer.private_key(alg=alg).public_key()
    return TokenSet(alg, tokens, pairs, key, secret)


def hs_secret() -> str:
    # 43 url-safe characters: 32 bytes of entropy, and over the library's 32-byte minimum.
    return secrets.token_urlsafe(32)


# -- Lambda shapes -----------------------------------------------------------------------------

_MINIMAL_V2 = {
    "version": "2.0", "routeKey": "GET /me", "rawPath": "/me", "rawQueryString": "",
    "headers": {"accept": "application/json", "host": "id.execute-api.us-east-1.amazonaws.com"},
    "requestContext": {"http": {"method": "GET", "path": "/me"}, "stage": "$default"},
    "isBase64Encoded": False,
}


def event_template(name: str = "me.json") -> dict[str, Any]:
    """An HTTP API (payload 2.0) event from ``events/`` (what ``sam local generate-event`` makes)."""
    path = ROOT / "events" / name
    try:
        event = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        event = copy.deepcopy(_MINIMAL_V2)
    if not isinstance(event, dict):
        event = copy.deepcopy(_MINIMAL_V2)
    return event


def events_for(tokens: Sequence[str], template: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for token in tokens:
        event = copy.deepcopy(dict(template))
        event["headers"] = {**event.get("headers", {}), "authorization": f"Bearer {token}"}
        out.append(event)
    return out


class Context:
    """A minimal Lambda context (the attributes Powertools' Logger reads), reused across requests."""

    function_name = "BenchFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:BenchFunction"
    memory_limit_in_mb = 128
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/BenchFunction"
    log_stream_name = "bench"

    def __init__(self) -> None:
        self.identity: Any = None
        self.client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return 3000


class NullWriter(io.TextIOBase):
    """Swallows the sample functions' log lines (they are still formatted: that cost is real)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


_NULL = NullWriter()


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith("JWT_")]:
            del os.environ[name]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_sample(name: str, env: Mapping[str, str], tag: str) -> ModuleType:
    """Import ``lambdas/<name>/app.py`` afresh under ``env``, as a Lambda container would.

    Raises FileNotFoundError when the sample is not there (yet).
    """
    path = ROOT / "lambdas" / name / "app.py"
    if not path.is_file():
        raise FileNotFoundError(f"lambdas/{name}/app.py is missing")
    spec = importlib.util.spec_from_file_location(f"_bench_{name}_{tag}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load lambdas/{name}/app.py")
    module = importlib.util.module_from_spec(spec)
    stdout = sys.stdout
    sys.stdout = _NULL  # Logger(...) keeps the stream it sees at construction
    try:
        with environment(env):
            spec.loader.exec_module(module)
    finally:
        sys.stdout = stdout
    return module
