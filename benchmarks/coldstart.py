"""Cold start: import time in a fresh interpreter, against ``import jwt`` + cryptography alone.

Each measurement is its own ``python -c`` process. The probe times only the import statement (the
interpreter's own start-up is the same for everyone and is reported separately as process wall time),
and says whether boto3 or Powertools' Event Handler ended up in ``sys.modules``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from benchmarks._common import AUDIENCE, ISSUER, ROOT, short_error

BASELINE = "`import jwt; from jwt.algorithms import RSAAlgorithm` (baseline)"
SAMPLE_TARGET = 1.5

_PROBE = """\
import sys, time
{setup}
t0 = time.perf_counter_ns()
{statement}
t1 = time.perf_counter_ns()
m = sys.modules
eh = any(n.startswith("aws_lambda_powertools.event_handler") for n in m)
sys.stdout.write("\\nPROBE %d %d %d %d\\n" % (t1 - t0, "boto3" in m, eh, len(m)))
"""


def _targets(jwks_issuer: str, secret: str) -> list[tuple[str, str, str, dict[str, str], bool]]:
    """(label, setup, statement, env, is_sample)."""
    jwks_env = {"JWT_ISSUER": jwks_issuer, "JWT_AUDIENCE": AUDIENCE}
    secret_env = {"JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "JWT_SECRET": secret}
    out = [
        (BASELINE, "", "import jwt\nfrom jwt.algorithms import RSAAlgorithm", {}, False),
        ("`import serverless_jwt`", "", "import serverless_jwt", {}, False),
        ("`import serverless_jwt.verifier`", "", "import serverless_jwt.verifier", {}, False),
        ("`from serverless_jwt import Verifier, require_auth, require_scope`", "",
         "from serverless_jwt import Verifier, require_auth, require_scope", {}, False),
        ("Powertools `auth_alpha.JWTVerifier` (for comparison)", "",
         "from aws_lambda_powertools.utilities.auth_alpha import JWTVerifier", {}, False),
    ]
    for name in ("me", "shows"):
        folder = ROOT / "lambdas" / name
        if not (folder / "app.py").is_file():
            continue  # reported as skipped by run()
        setup = f"sys.path.insert(0, {str(folder)!r})"
        out.append((f"`lambdas/{name}/app.py`, discovery issuer env", setup, "import app", jwks_env, True))
        out.append((f"`lambdas/{name}/app.py`, `JWT_SECRET` env", setup, "import app", secret_env, True))
    return out


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "PYTHON"))}
    env.update(extra)
    return env


def _probe(setup: str, statement: str, env: Mapping[str, str], cwd: str) -> tuple[dict[str, Any], float]:
    code = _PROBE.format(setup=setup, statement=statement)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=_env(env), cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)
    wall_ms = (time.perf_counter() - started) * 1000
    line = next((s for s in done.stdout.splitlines() if s.startswith("PROBE ")), None)
    if done.returncode != 0 or line is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"exit {done.returncode}: {tail[:120]}")
    ns, boto3, event_handler, modules = (int(x) for x in line.split()[1:])
    return {"ns": ns, "boto3": bool(boto3), "event_handler": bool(event_handler), "modules": modules}, wall_ms


def top_imports(setup: str, statement: str, env: Mapping[str, str], cwd: str, n: int = 8) -> list[Any]:
    """The direct imports of the imported module ``app``, heaviest first (cumulative ms, -X importtime)."""
    code = f"import sys\n{setup}\n{statement}\n"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=_env(env), cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)
    children: list[tuple[str, float]] = []
    found: list[tuple[str, float]] = []
    # Lines come children first; depth is (indent - 1) / 2 after the second "|".
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)", line)
        if not m:
            continue
        depth, name, ms = (len(m.group(2)) - 1) // 2, m.group(3), int(m.group(1)) / 1000
        if depth == 1:
            children.append((name, round(ms, 1)))
        elif depth == 0:
            if name == "app":
                found = [*children, ("(app total)", round(ms, 1))]
            children = []
    found.sort(key=lambda e: -e[1])
    return found[:n]


def run(*, runs: int, jwks_issuer: str, secret: str) -> dict[str, Any]:
    targets = _targets(jwks_issuer, secret)
    samples: dict[str, list[dict[str, Any]]] = {t[0]: [] for t in targets}
    walls: dict[str, list[float]] = {t[0]: [] for t in targets}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as cwd:
        for attempt in range(runs + 1):  # attempt 0 warms the bytecode caches and is discarded
            for label, setup, statement, env, _ in targets:
                if label in errors:
                    continue
                try:
                    probe, wall = _probe(setup, statement, env, cwd)
                except Exception as exc:
                    errors[label] = short_error(exc)
                    continue
                if attempt:
                    samples[label].append(probe)
                    walls[label].append(wall)
        shows = next((t for t in targets if t[4] and "shows" in t[0]), None)
        try:
            heaviest = top_imports(shows[1], shows[2], shows[3], cwd) if shows else []
        except Exception as exc:
            heaviest = [("error", short_error(exc))]
    rows: dict[str, dict[str, Any]] = {
        f"`lambdas/{name}/app.py`": {"note": "skipped: not in this checkout"}
        for name in ("me", "shows") if not (ROOT / "lambdas" / name / "app.py").is_file()
    }
    for label, _, _, _, is_sample in targets:
        if label in errors or not samples[label]:
            rows[label] = {"note": f"error: {errors.get(label, 'no samples')}"}
            continue
        got = samples[label]
        rows[label] = {
            "import_ms": round(statistics.median(p["ns"] for p in got) / 1e6, 2),
            "process_ms": round(statistics.median(walls[label]), 1),
            "boto3": any(p["boto3"] for p in got),
            "event_handler": any(p["event_handler"] for p in got),
            "modules": got[-1]["modules"],
            "sample": is_sample,
        }
    base = rows[BASELINE].get("import_ms")
    checks = []
    for label, stats in rows.items():
        if base and "import_ms" in stats:
            stats["x_baseline"] = round(stats["import_ms"] / base, 2)
        if stats.get("sample"):
            ratio = stats.get("x_baseline")
            checks.append({
                "target": f"{label} import <= {SAMPLE_TARGET}x baseline, no boto3",
                "ratio": ratio,
                "verdict": "n/a" if ratio is None else (
                    "PASS" if ratio <= SAMPLE_TARGET and not stats["boto3"] else "MISS"),
            })
    return {"runs": runs, "rows": rows, "targets": checks, "heaviest_shows_imports": heaviest}
