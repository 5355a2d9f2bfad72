"""Markdown rendering of a benchmark report (the dict ``run.py`` builds, also written by ``--json``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _cell(stats: Mapping[str, Any], ratio: str) -> str:
    if "median_us" not in stats:
        return str(stats.get("note", "-"))
    value = f"{stats['median_us']:.1f} µs"
    if ratio in stats:
        value += f" ({stats[ratio]:.2f}x)"
    return value


def _error(section: Mapping[str, Any]) -> list[str]:
    return [f"**Section failed:** {section['error']}", ""] if "error" in section else []


def _machine(m: Mapping[str, Any], report: Mapping[str, Any]) -> list[str]:
    return [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['python']} on {m['platform']}; "
        f"cryptography {m['cryptography']} ({m['openssl']}), PyJWT {m['PyJWT']}, "
        f"msgspec {m.get('msgspec', '?')} and pybase64 {m.get('pybase64', '?')} (speedups), "
        f"joserfc {m.get('joserfc', '?')}, "
        f"authlib {m.get('authlib', '?')}, python-jose {m.get('python-jose', '?')}, "
        f"aws-lambda-powertools {m['aws-lambda-powertools']}, serverless-jwt {m['serverless-jwt']}. "
        f"{'Quick run' if report.get('quick') else 'Full run'} in {report.get('elapsed_seconds', '?')} s.",
        "",
    ]


def _warm(report: Mapping[str, Any]) -> list[str]:
    cfg = report["config"]
    out = [f"### 1. Warm, per request: {cfg['distinct_tokens']:,} distinct tokens per algorithm",
           "",
           f"Median of {cfg['rounds']} interleaved rounds, every row on the same tokens; in brackets the "
           "ratio to that algorithm's raw verify (the floor).", ""]
    section = report.get("warm", {})
    out += _error(section)
    res = section.get("results", {})
    algs = list(res)
    if algs:
        out += _table(["", *algs], [[name] + [_cell(res[a].get(name, {}), "x_floor") for a in algs]
                                    for name in section["rows"]])
        out.append("")
    for alg, message in report.get("mint_errors", {}).items():
        out += [f"Could not mint {alg} tokens: {message}", ""]
    return out


def _cache(report: Mapping[str, Any]) -> list[str]:
    out = [f"### 2. Same token repeated ({report['config']['repeats']:,} calls per round): verified-token "
           "cache", "", "In brackets: ratio to the raw RS256 verify.", ""]
    section = report.get("cache", {})
    out += _error(section)
    res = section.get("results", {})
    algs = list(res)
    if algs:
        out += _table(["", *algs], [[name] + [_cell(res[a].get(name, {}), "x_rs256") for a in algs]
                                    for name in section["rows"]])
        out.append("")
    return out


def _cold(report: Mapping[str, Any]) -> list[str]:
    section = report.get("cold", {})
    runs = section.get("runs", "?")
    out = [f"### 3. Cold start: import in a fresh interpreter (median of {runs} runs)", "",
           "Import statement only; process wall time (interpreter start-up included) for context.", ""]
    out += _error(section)
    rows = []
    for label, s in section.get("rows", {}).items():
        if "import_ms" not in s:
            rows.append([label, s.get("note", "-"), "", "", ""])
            continue
        ratio = f" ({s['x_baseline']:.2f}x)" if "x_baseline" in s else ""
        rows.append([label, f"{s['import_ms']:.1f} ms{ratio}", f"{s['process_ms']:.0f} ms",
                     "yes" if s["boto3"] else "no", "yes" if s["event_handler"] else "no"])
    if rows:
        out += _table(["import", "import time", "process", "boto3 loaded", "Event Handler loaded"], rows)
        out.append("")
    heavy = section.get("heaviest_shows_imports")
    if heavy:
        out += ["Direct imports of `lambdas/shows/app.py`, cumulative: "
                + ", ".join(f"`{n}` {ms} ms" for n, ms in heavy), ""]
    return out


def _lambda(report: Mapping[str, Any]) -> list[str]:
    section = report.get("lambda", {})
    runs = section.get("runs", "?")
    out = [f"### 3b. Cold start under Lambda's runtime emulator: init phase (median of {runs})", "",
           "`sam build` of the sample and of a hand-written PyJWT baseline; `INIT REPORT(durationMs)`.", ""]
    out += _error(section)
    rows = [[label, f"{s['median_ms']:.0f} ms ({s['x_baseline']:.2f}x)",
             f"{s['min_ms']:.0f}-{s['max_ms']:.0f} ms", f"{s['first_invoke_ms']:.0f} ms",
             f"{s['with_first_ms']:.0f} ms ({s['with_first_x_baseline']:.2f}x)"]
            for label, s in section.get("rows", {}).items()]
    if rows:
        out += _table(["function", "init", "init range", "first request (JWKS fetch)",
                       "init + first request"], rows)
        out.append("")
    where = section.get("where")
    if where:
        totals = section.get("import_total_ms", {})
        out += [f"Where the time goes (`-X importtime` self time per package, as built; all imports: sample "
                f"{totals.get('sample')} ms, baseline {totals.get('baseline')} ms):", ""]
        out += _table(["package", "sample", "baseline"],
                      [[f"`{w['package']}`", f"{w['sample_ms']} ms", f"{w['baseline_ms']} ms"]
                       for w in where])
        out.append("")
    return out


def _jwks(report: Mapping[str, Any]) -> list[str]:
    section = report.get("jwks", {})
    out = ["### 4. JWKS under load (loopback DevIssuer)", ""]
    out += _error(section)
    rows: list[list[Any]] = []
    h = section.get("herd", {})
    if "error" in h:
        rows.append(["cold start, 32 threads at once", h["error"], "error"])
    elif h:
        rows.append([f"cold start, {h['threads']} threads at once ({h['rounds']} rounds)",
                     f"worst round: {h['worst_discovery']} discovery + {h['worst_jwks']} JWKS fetch; "
                     f"{h['verified']}/{h['requests']} verified; {h['wall_ms']} ms per round"
                     + (f"; errors: {', '.join(h['errors'])}" if h["errors"] else ""), h["verdict"]])
    s = section.get("storm", {})
    if "error" in s:
        rows.append(["unknown-kid storm", s["error"], "error"])
    elif s:
        outcomes = ", ".join(f"{v} {k}" for k, v in s["outcomes"].items())
        rows.append([f"{s['tokens']:,} unknown-kid tokens, {s['threads']} threads, one 30 s cool-down",
                     f"{s['jwks_fetches']} JWKS refetch, {s['discovery_fetches']} discovery; {outcomes}; "
                     f"{s['wall_ms']} ms in all ({s['us_per_rejection']} µs per token)", s["verdict"]])
    w = section.get("windows", {})
    if "error" in w:
        rows.append(["unknown kids over several cool-downs", w["error"], "error"])
    elif w:
        rows.append([f"{w['lookups']:,} unknown kids over {w['simulated_seconds']:.0f} s (injected clock, "
                     f"{w['cooldown_seconds']:.0f} s cool-down)",
                     f"{w['refetches']} refetches in {w['windows']} windows, at most {w['max_per_window']} "
                     "per window", w["verdict"]])
    m = section.get("memory", {})
    if "error" in m:
        rows.append(["key cache memory", m["error"], "error"])
    for n, stats in m.get("issuers", {}).items():
        rows.append([f"key cache memory, {n} issuer{'s' if int(n) > 1 else ''} ({m['keys_per_issuer']} keys, "
                     f"{m['jwks_document_bytes']} B JWKS each)",
                     f"{stats['python_heap_kib']} KiB held by the key cache "
                     f"({stats['per_issuer_kib']} KiB per issuer) "
                     f"(whole process: heap +{stats['process_heap_growth_kib']} KiB, "
                     f"RSS +{stats['rss_growth_kib']} KiB)", ""])
    if rows:
        out += _table(["scenario", "result", "verdict"], rows)
        out.append("")
    return out


def _targets(report: Mapping[str, Any]) -> list[str]:
    rows = []
    for t in (report.get("warm_targets", []) + report.get("cold", {}).get("targets", [])
              + report.get("lambda", {}).get("targets", [])):
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        rows.append([t["target"], ratio, t["verdict"]])
    return ["### Targets", "", *_table(["target", "measured", "verdict"], rows), ""] if rows else []


def render(report: Mapping[str, Any]) -> str:
    out = ["## serverless-jwt benchmarks", ""]
    out += _machine(report["machine"], report)
    if "warm" in report or "mint_errors" in report:
        out += _warm(report)
    if "cache" in report:
        out += _cache(report)
    if "cold" in report:
        out += _cold(report)
    if "lambda" in report:
        out += _lambda(report)
    if "jwks" in report:
        out += _jwks(report)
    out += _targets(report)
    return "\n".join(out).rstrip() + "\n"
