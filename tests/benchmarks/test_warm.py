"""The benchmark's targets table."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_target_whose_section_was_not_run_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import warm

    distinct = {"RS256": {warm.OURS: {"x_rs256": 1.2}, warm.OURS_URI: {"x_rs256": 1.25}}}
    verdicts = {t["target"]: t["verdict"] for t in warm.targets(distinct, None)}
    cache_rows = [v for target, v in verdicts.items() if target.startswith("cache hit")]
    assert cache_rows
    assert set(cache_rows) == {"not run (--sections)"}
    assert verdicts[next(t for t in verdicts if t.startswith("`Verifier` RS256 (default"))] == "PASS"
    # A section that ran without a number for the row (it failed, or the row is missing) stays n/a.
    assert {t["verdict"] for t in warm.targets({}, {})} == {"n/a"}
