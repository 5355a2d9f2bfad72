"""Reproduce the README's performance table in one run.

Usage::

    .venv/bin/python benchmarks/run.py [--quick] [--json FILE] [--sections warm,cache,cold,lambda,jwks]

Prints a Markdown report to stdout (progress goes to stderr). Every section catches its own errors and
reports them in its table instead of stopping the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import coldstart, jwks_load, lambda_init, warm
from benchmarks._common import (
    ALGORITHMS,
    AUDIENCE,
    TokenSet,
    hs_secret,
    machine,
    mint_tokens,
    quiet_known_warnings,
    short_error,
)
from benchmarks.report import render

SECTIONS = ("warm", "cache", "cold", "lambda", "jwks")


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _guarded(report: dict[str, Any], name: str, fn: Callable[[], Any]) -> None:
    started = time.perf_counter()
    try:
        report[name] = fn()
    except Exception as exc:  # a broken section is reported, never fatal
        report[name] = {"error": short_error(exc)}
    _log(f"{name}: {time.perf_counter() - started:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~15 s version (fewer tokens and rounds)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    args = parser.parse_args(argv)
    quiet_known_warnings()  # before any compared library is imported
    chosen = {s.strip() for s in args.sections.split(",") if s.strip()}
    if chosen - set(SECTIONS):
        parser.error(f"unknown sections: {sorted(chosen - set(SECTIONS))}")
    quick = bool(args.quick)
    n_tokens, rounds, repeats, cold_runs = (1000, 3, 2000, 3) if quick else (2000, 5, 5000, 7)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "machine": machine(), "quick": quick,
        "config": {"distinct_tokens": n_tokens, "rounds": rounds, "repeats": repeats, "cold_runs": cold_runs},
    }
    from serverless_jwt.dev.issuer import DevIssuer

    with DevIssuer(audience=AUDIENCE) as dev:
        secret = hs_secret()
        token_sets: dict[str, TokenSet] = {}
        if chosen & {"warm", "cache"}:
            _log(f"minting {n_tokens} tokens per algorithm")
            for alg in ALGORITHMS:
                try:
                    key = secret if alg == "HS256" else None
                    token_sets[alg] = mint_tokens(dev, alg, n_tokens, secret=key)
                except Exception as exc:
                    report.setdefault("mint_errors", {})[alg] = short_error(exc)
        jwks = dev.jwks()
        floors: dict[str, float] = {}

        def distinct() -> dict[str, Any]:
            samples = warm.Samples(dev.jwks_uri, secret)
            table = {alg: warm.distinct_rows(ts, jwks, samples, dev.jwks_uri)
                     for alg, ts in token_sets.items()}
            overhead = warm.measure(table, rounds=rounds, warmup=min(200, n_tokens))
            res = warm.results(table, overhead)
            for alg, rows in res.items():
                median = rows.get(warm.FLOOR, {}).get("median_us")
                if median:
                    floors[alg] = median
            warm.with_ratios(res, floors)
            return {"rows": list(warm.DISTINCT_ROWS), "results": res, "loop_overhead_ns": round(overhead)}

        def cached() -> dict[str, Any]:
            table = {alg: warm.cached_rows(ts, jwks, repeats) for alg, ts in token_sets.items()}
            overhead = warm.measure(table, rounds=rounds, warmup=200)
            res = warm.results(table, overhead)
            warm.with_ratios(res, floors)
            return {"rows": list(warm.CACHED_ROWS), "results": res}

        if "warm" in chosen:
            _guarded(report, "warm", distinct)
        if "cache" in chosen:
            _guarded(report, "cache", cached)
        if chosen & {"warm", "cache"}:
            report["warm_targets"] = warm.targets(
                report.get("warm", {}).get("results", {}) if "warm" in chosen else None,
                report.get("cache", {}).get("results", {}) if "cache" in chosen else None)
        if "cold" in chosen:
            _guarded(report, "cold", lambda: coldstart.run(runs=cold_runs, jwks_issuer=dev.issuer,
                                                           secret=secret))
        if "lambda" in chosen:
            _guarded(report, "lambda", lambda: lambda_init.run(runs=cold_runs, dev=dev))
        if "jwks" in chosen:
            _guarded(report, "jwks", lambda: jwks_load.run(dev, quick=quick))
    report["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n", "utf-8")
        _log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
