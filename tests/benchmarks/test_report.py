"""The benchmark's report, and the README's performance table that is pasted from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _readme_warm_table() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("|  | RS256 | ES256 | EdDSA | HS256 |\n")
    return text[start:text.index("\n\n", start)].splitlines()


def test_the_readme_performance_table_has_the_rows_and_format_the_benchmark_prints(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Refreshing the README's table is one paste of section 1 of `benchmarks/run.py`'s output: same
    # header and separator, the same rows in the same order, the same wording where a row has no number.
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import report, warm

    algs = ["RS256", "ES256", "EdDSA", "HS256"]
    results = {alg: {name: {"median_us": 1.0, "x_floor": 1.0} for name in warm.DISTINCT_ROWS} for alg in algs}
    results["EdDSA"][warm.PYTHON_JOSE] = {"note": "n/a: python-jose has no EdDSA"}
    results["HS256"][warm.OURS_URI] = {"note": "n/a: shared secrets have no JWKS"}
    results["HS256"][warm.POWERTOOLS] = {
        "note": "n/a: Powertools' JWTVerifier verifies asymmetric algorithms only"}
    printed = report._warm({"config": {"distinct_tokens": 2000, "rounds": 5},
                            "warm": {"results": results, "rows": list(warm.DISTINCT_ROWS)}})
    printed_table = [line for line in printed if line.startswith("|")]
    readme = _readme_warm_table()
    assert readme[:2] == printed_table[:2]
    assert [line.split(" | ")[0] for line in readme] == [line.split(" | ")[0] for line in printed_table]
    def cells(table: list[str]) -> list[str]:
        return [cell for line in table[2:] for cell in line.strip("| ").split(" | ")[1:]]

    assert {c for c in cells(readme) if c.startswith("n/a")} == {c for c in cells(printed_table)
                                                                  if c.startswith("n/a")}
    for cell in cells(readme):  # a measured cell, a note as printed, or a row this run did not have
        assert re.fullmatch(r"[\d.]+ µs \([\d.]+x\)|n/a: .+|not in this run|\d+\u2013\d+ µs", cell), cell
