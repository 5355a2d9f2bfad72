"""The CLI's helpers in dev/_support.py that have no command of their own to be tested through."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverless_jwt import Verifier
from serverless_jwt.dev import _support
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


def test_a_start_api_attached_to_another_ones_issuer_serves_it_when_that_one_stops(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two start-api in one folder share the first one's dev issuer. When the first stops, the second
    # must not be left trusting an issuer nobody serves (every cold runtime answered 503).
    state = tmp_path / ".serverless-jwt"
    first = _support.shared_issuer(state, owner="start-api")
    second = _support.shared_issuer(state, owner="start-api")
    assert isinstance(second, _support.AttachedIssuer)
    token = second.mint(sub="alice")
    try:
        assert second.take_over_if_gone() is False  # the first one still serves it
        first.stop()
        assert _support.running_issuer(state) is None
        assert second.take_over_if_gone() is True
        record = _support.running_issuer(state)
        assert record is not None
        assert record["issuer"] == second.issuer  # same address, same key
        verifier = Verifier(issuer=second.issuer, audience=second.audience)
        assert verifier.verify(token)["sub"] == "alice"
        assert "serves " + second.issuer + " now" in capsys.readouterr().err
    finally:
        first.stop()
        second.stop()
    assert _support.running_issuer(state) is None  # stopped with the command that took it over
