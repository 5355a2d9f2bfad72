"""Cold start as Lambda reports it: the init phase of the built sample ``me`` against a PyJWT baseline.

Both are built by ``sam build`` the same way (one layer with the third-party packages, the function's
own folder beside it): the sample from ``template.yaml``, the baseline from
``benchmarks/baseline_lambda/template.yaml`` (Powertools Logger, PyJWT with cryptography, a
``PyJWKClient`` built at import). Each cold start is a new Runtime Interface Emulator process
(``benchmarks/_rie.py``) serving one request with a valid token; the emulator logs the init phase as
``INIT REPORT(durationMs: ...)``. Runs alternate sample and baseline (the order flips every run).

The first request's own duration (``INVOKE RTDONE``, after init; it fetches the JWKS in both) is
shown beside it, so cost moved from init to the first request stays visible.

Two packagings are measured:

- **as built**: no bytecode, and none written (Lambda's code and layers are read-only), so every cold
  start compiles what it imports. This is what ``sam build`` + ``sam deploy`` gives you.
- **bytecode cached**: ``__pycache__`` written by one discarded run first, as for a package shipped
  with compiled bytecode.

Where the difference goes: ``python3.12 -X importtime`` of each handler module, as built, summed per
top-level package (self time, so every module is counted once).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import _rie
from benchmarks._common import ROOT

TARGET = 1.0
SAMPLE = ("sample `lambdas/me`", ROOT / "template.yaml", "ServerlessJwtLayer")
BASELINE = ("baseline: PyJWT + Powertools Logger by hand",
            ROOT / "benchmarks" / "baseline_lambda" / "template.yaml", "BaselineLayer")


def _event(token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "me.json").read_text())
    event["headers"]["authorization"] = f"Bearer {token}"
    return event


def _cold_start(build: Path, layer: str, *, python: str, ric: Path, emulator: Path, env: dict[str, str],
                token: str, log: Path, write_bytecode: bool) -> tuple[float, float]:
    with _rie.emulated(build, "MeFunction", layer, python=python, ric_dir=ric, emulator=emulator, env=env,
                       log_path=log, write_bytecode=write_bytecode) as function:
        answer = function.invoke(_event(token))
        if answer.get("statusCode") != 200:
            raise RuntimeError(f"{build.name}: expected 200, got {str(answer)[:120]}")
        return function.init_ms(), function.first_invoke_ms()


def _self_times(build: Path, layer: str, python: str, ric: Path, env: dict[str, str]) -> dict[str, float]:
    """Milliseconds of import self time per top-level package, importing the handler as built."""
    code = build / "MeFunction"
    environ = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1",
               "LAMBDA_TASK_ROOT": str(code),
               "PYTHONPATH": os.pathsep.join([str(code), str(build / layer / "python"), str(ric)]), **env}
    done = subprocess.run([python, "-X", "importtime", "-c", "import awslambdaric.bootstrap, app"], cwd=code,
                          env=environ, capture_output=True, text=True, timeout=120, check=False)
    totals: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)", line)
        if found:
            totals[found.group(2).split(".")[0]] += int(found.group(1)) / 1000
    return dict(totals)


def run(*, runs: int, dev: Any) -> dict[str, Any]:
    python = _rie.find_python()
    emulator = _rie.emulator_binary()
    if python is None:
        return {"error": "no python3.12 on PATH or in pyenv (sam build and the runtime need it)"}
    if emulator is None:
        return {"error": "aws-sam-cli is not installed (the emulator ships in it)"}
    env = {"JWT_ISSUER": dev.issuer, "JWT_AUDIENCE": dev.audience, "JWT_JWKS_URI": dev.jwks_uri,
           "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_SERVICE_NAME": "me"}
    with tempfile.TemporaryDirectory(prefix="sjwt-lambda-init-") as tmp:
        work = Path(tmp)
        ric = _rie.runtime_client(python, work)
        builds = {}
        for label, template, layer in (SAMPLE, BASELINE):
            build = _rie.sam_build(template, work / f"build-{layer}", python, cache_dir=work / "cache")
            builds[label] = (build, layer)
        modes: dict[str, dict[str, list[float]]] = {}
        first_invokes: dict[str, dict[str, list[float]]] = {}
        for mode, write_bytecode in (("as built (compiled at each cold start)", False),
                                     ("bytecode cached", True)):
            times: dict[str, list[float]] = {label: [] for label in builds}
            firsts: dict[str, list[float]] = {label: [] for label in builds}
            order = list(builds)
            for attempt in range(runs + 1 if write_bytecode else runs):
                for label in order if attempt % 2 == 0 else order[::-1]:
                    build, layer = builds[label]
                    init, first = _cold_start(build, layer, python=python, ric=ric, emulator=emulator,
                                              env=env, token=dev.mint(), log=work / f"{layer}.log",
                                              write_bytecode=write_bytecode)
                    if not (write_bytecode and attempt == 0):  # the run that wrote the bytecode
                        times[label].append(init)
                        firsts[label].append(first)
            modes[mode] = times
            first_invokes[mode] = firsts
        # Measured after the bytecode runs: compile the sources again, as built.
        for build, _ in builds.values():
            for cache in build.rglob("__pycache__"):
                for pyc in cache.glob("*.pyc"):
                    pyc.unlink()
        self_times = {label: _self_times(build, layer, python, ric, env)
                      for label, (build, layer) in builds.items()}
    rows: dict[str, dict[str, Any]] = {}
    targets = []
    for mode, times in modes.items():
        base = statistics.median(times[BASELINE[0]])
        for label, samples in times.items():
            median, first = statistics.median(samples), statistics.median(first_invokes[mode][label])
            total = statistics.median(i + f for i, f in zip(samples, first_invokes[mode][label], strict=True))
            base_total = statistics.median(
                i + f for i, f in zip(times[BASELINE[0]], first_invokes[mode][BASELINE[0]], strict=True))
            rows[f"{label}, {mode}"] = {"median_ms": round(median, 1), "min_ms": round(min(samples), 1),
                                        "max_ms": round(max(samples), 1), "runs": len(samples),
                                        "x_baseline": round(median / base, 2),
                                        "first_invoke_ms": round(first, 1), "with_first_ms": round(total, 1),
                                        "with_first_x_baseline": round(total / base_total, 2)}
        ratio = round(statistics.median(times[SAMPLE[0]]) / base, 2)
        targets.append({"target": f"sample `me` init <= {TARGET}x the PyJWT baseline, {mode}",
                        "ratio": ratio, "verdict": "PASS" if ratio <= TARGET else "MISS"})
    sample_t, base_t = self_times[SAMPLE[0]], self_times[BASELINE[0]]
    packages = sorted(set(sample_t) | set(base_t), key=lambda p: -abs(sample_t.get(p, 0) - base_t.get(p, 0)))
    where = [{"package": p, "sample_ms": round(sample_t.get(p, 0), 1),
              "baseline_ms": round(base_t.get(p, 0), 1)} for p in packages[:10]]
    return {"runs": runs, "python": python, "rows": rows, "targets": targets, "where": where,
            "import_total_ms": {"sample": round(sum(sample_t.values()), 1),
                                "baseline": round(sum(base_t.values()), 1)}}
