"""JWKS behaviour under load, against a real loopback issuer (DevIssuer): fetch counts and memory."""

from __future__ import annotations

import contextlib
import gc
import json
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._common import AUDIENCE, short_error


def _counts(issuer: Any) -> tuple[int, int]:
    from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH

    return issuer.requests[DISCOVERY_PATH], issuer.requests[JWKS_PATH]


def _reset(issuer: Any) -> None:
    from serverless_jwt.jwks import clear_shared_cache

    clear_shared_cache()
    issuer.requests.clear()


def herd(issuer: Any, *, threads: int, rounds: int) -> dict[str, Any]:
    """``threads`` requests arrive at once on a cold verifier: one discovery and one JWKS fetch."""
    from serverless_jwt.verifier import Verifier

    worst = (0, 0)
    ok_total, errors, walls = 0, set(), []
    for _ in range(rounds):
        tokens = [issuer.mint(sub=f"herd-{i}") for i in range(threads)]
        _reset(issuer)
        verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)
        barrier = threading.Barrier(threads)

        def one(token: str, verifier: Any = verifier, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            verifier.verify(token)
            return True

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(one, t) for t in tokens]
            for f in futures:
                try:
                    ok_total += f.result()
                except Exception as exc:
                    errors.add(short_error(exc))
        walls.append((time.perf_counter() - started) * 1000)
        got = _counts(issuer)
        worst = max(worst, got, key=sum)
    return {
        "threads": threads, "rounds": rounds, "verified": ok_total, "requests": threads * rounds,
        "worst_discovery": worst[0], "worst_jwks": worst[1], "errors": sorted(errors),
        "wall_ms": round(statistics.median(walls), 1),
        "verdict": "PASS" if worst == (1, 1) and ok_total == threads * rounds else "MISS",
    }


def unknown_kid_storm(issuer: Any, *, tokens: int, threads: int) -> dict[str, Any]:
    """A burst of tokens whose kid the JWKS lacks, within one cool-down: expect one refetch."""
    from serverless_jwt.errors import UnknownKeyError
    from serverless_jwt.verifier import Verifier

    storm = [issuer.mint(sub=f"storm-{i}", kid=f"unknown-{i}") for i in range(tokens)]
    _reset(issuer)
    verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, unknown_kid_cooldown_seconds=30)
    verifier.verify(issuer.mint())  # warm: discovery + JWKS
    before = _counts(issuer)
    kinds: dict[str, int] = {}
    lock = threading.Lock()

    def one(token: str) -> None:
        try:
            verifier.verify(token)
            kind = "accepted"
        except UnknownKeyError:
            kind = "UnknownKeyError"
        except Exception as exc:
            kind = type(exc).__name__
        with lock:
            kinds[kind] = kinds.get(kind, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, storm))
    wall = (time.perf_counter() - started) * 1000
    after = _counts(issuer)
    fetches = after[1] - before[1]
    return {
        "tokens": tokens, "threads": threads, "jwks_fetches": fetches,
        "discovery_fetches": after[0] - before[0], "outcomes": kinds, "wall_ms": round(wall, 1),
        # Throughput, not per-call latency: with 8 threads, latency is mostly waiting for the GIL.
        "us_per_rejection": round(wall * 1000 / tokens, 1),
        "verdict": "PASS" if fetches == 1 and kinds.get("UnknownKeyError") == tokens else "MISS",
    }


def cooldown_windows(issuer: Any, *, lookups: int, span_seconds: float,
                     cooldown: float = 30.0) -> dict[str, Any]:
    """Unknown kids spread over many simulated cool-downs (injected clock): fetches per window."""
    from serverless_jwt.dev.issuer import JWKS_PATH
    from serverless_jwt.errors import UnknownKeyError
    from serverless_jwt.jwks import RemoteKeySource

    now = [0.0]

    def clock() -> float:
        return now[0]

    _reset(issuer)
    source = RemoteKeySource(issuer=None, jwks_uri=issuer.jwks_uri + "?cooldown", algorithms=["RS256"],
                             unknown_kid_cooldown_seconds=cooldown, jwks_max_age_seconds=10 * span_seconds,
                             clock=clock)
    source.prefetch()
    fetch_times: list[float] = []
    step = span_seconds / lookups
    for i in range(lookups):
        now[0] = i * step
        seen = issuer.requests[JWKS_PATH]
        with contextlib.suppress(UnknownKeyError):
            source.keys_for({"alg": "RS256", "kid": f"unknown-{i}"})
        if issuer.requests[JWKS_PATH] != seen:
            fetch_times.append(now[0])
    most = max((sum(1 for t in fetch_times if s <= t < s + cooldown) for s in fetch_times), default=0)
    windows = int(span_seconds // cooldown) + 1
    return {
        "lookups": lookups, "simulated_seconds": span_seconds, "cooldown_seconds": cooldown,
        "refetches": len(fetch_times), "windows": windows, "max_per_window": most,
        "verdict": "PASS" if most <= 1 and len(fetch_times) <= windows else "MISS",
    }


def _rss_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def key_cache_memory(issuer: Any, *, counts: tuple[int, ...] = (1, 10, 100)) -> dict[str, Any]:
    """Memory the shared key caches hold for N issuers (each its own JWKS URI on one DevIssuer).

    Measured as the growth between "verifiers built" and "one token verified per issuer" (discovery
    is skipped: ``jwks_uri`` points at the loopback issuer, one URI per issuer).
    """
    from serverless_jwt.verifier import Verifier

    def build(n: int, tag: str) -> tuple[list[Any], list[str]]:
        names = [f"https://tenant-{tag}-{i}.bench.example" for i in range(n)]
        verifiers = [Verifier(issuer=name, audience=AUDIENCE, algorithms=["RS256", "ES256"],
                              jwks_uri=f"{issuer.jwks_uri}?tenant={tag}-{i}") for i, name in enumerate(names)]
        tokens = [issuer.mint(issuer=name, alg="RS256" if i % 2 else "ES256") for i, name in enumerate(names)]
        return verifiers, tokens

    warm_v, warm_t = build(1, "warm")  # imports and first-use allocations are not the cache's
    warm_v[0].verify(warm_t[0])
    jwks_bytes = len(json.dumps(issuer.jwks()))
    out: dict[str, Any] = {"jwks_document_bytes": jwks_bytes, "keys_per_issuer": len(issuer.jwks()["keys"]),
                           "issuers": {}}
    for n in counts:
        _reset(issuer)
        verifiers, tokens = build(n, f"n{n}")
        gc.collect()
        tracemalloc.start(32)
        base = tracemalloc.get_traced_memory()[0]
        rss0 = _rss_kib()
        for verifier, token in zip(verifiers, tokens, strict=True):
            verifier.verify(token)
        gc.collect()
        total = tracemalloc.get_traced_memory()[0] - base
        # Only what was allocated under jwks.py (fetch, JSON, KeySet) counts as the cache: the
        # loopback server's threads allocate in this process too.
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*serverless_jwt/jwks.py", all_frames=True)])
        tracemalloc.stop()
        held = sum(stat.size for stat in snapshot.statistics("filename"))
        rss = _rss_kib() - rss0
        out["issuers"][n] = {
            "python_heap_kib": round(held / 1024, 1), "per_issuer_kib": round(held / 1024 / n, 2),
            "process_heap_growth_kib": round(total / 1024, 1), "rss_growth_kib": rss,
            "fetches": _counts(issuer)[1],
        }
        del verifiers, tokens
    return out


def run(issuer: Any, *, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    parts: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("herd", lambda: herd(issuer, threads=32, rounds=2 if quick else 5)),
        ("storm", lambda: unknown_kid_storm(issuer, tokens=1000, threads=8)),
        ("windows", lambda: cooldown_windows(issuer, lookups=1000, span_seconds=300.0)),
        ("memory", lambda: key_cache_memory(issuer)),
    ]
    for name, part in parts:
        try:
            out[name] = part()
        except Exception as exc:
            out[name] = {"error": short_error(exc)}
    return out
