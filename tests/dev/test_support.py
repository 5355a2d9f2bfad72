"""The CLI's helpers in dev/_support.py that have no command of their own to be tested through."""

from __future__ import annotations

from serverless_jwt.dev._support import describe_times


def test_decode_says_whether_a_past_exp_is_still_within_the_default_leeway() -> None:
    now = 1_800_000_000
    lines = {delta: describe_times({"exp": now + delta}, now)[0] for delta in (30, -30, -100)}
    assert "in 30s" in lines[30]
    assert "past" not in lines[30]
    assert "30s ago" in lines[-30]
    assert "accepted only within the leeway" in lines[-30]
    assert "expired, past the default 60 s leeway" in lines[-100]
    assert "accepted" not in lines[-100]
