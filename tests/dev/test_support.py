"""The CLI's helpers in dev/_support.py that have no command of their own to be tested through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serverless_jwt import Verifier
from serverless_jwt.dev import _support
from serverless_jwt.dev._support import describe_times
from serverless_jwt.dev.template import Template


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


_DOT = ("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.12}\n")


def test_a_dev_issuer_started_in_the_code_keeps_serving_its_key_from_outside_the_project(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A .serverless-jwt made inside CodeUri: . (by a version that kept it there) is emptied out of the
    # project by the next command; the issuer it recorded still runs, and its key now signs from outside.
    running = _support.start_issuer(tmp_path / ".serverless-jwt", port=None, owner="start-api")
    try:
        (tmp_path / "template.yaml").write_text(_DOT)
        state = _support.state_dir(None, Template(tmp_path / "template.yaml"))
        assert not state.is_relative_to(tmp_path)
        assert not (tmp_path / ".serverless-jwt").exists()
        assert f"removed {tmp_path / '.serverless-jwt'}" in capsys.readouterr().err
        shared = _support.shared_issuer(state, owner="invoke")
        assert isinstance(shared, _support.AttachedIssuer)  # the running one, found in its new place
        token = shared.mint(sub="alice")
        assert Verifier(issuer=running.issuer, audience=running.audience).verify(token)["sub"] == "alice"
    finally:
        running.stop()


def test_issuer_and_token_use_the_state_that_invoke_and_start_api_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "template.yaml").write_text(_DOT)
    monkeypatch.chdir(tmp_path)
    template = Template("template.yaml")
    assert _support.here(None, writing=False) == tmp_path / ".serverless-jwt"  # nothing ran yet
    assert _support.here(None, writing=True) == template.state_dir != tmp_path / ".serverless-jwt"
    assert _support.here(None, writing=False) == template.state_dir  # once made, token finds it
    assert _support.state_dir(None, template) == template.state_dir
    assert _support.here("elsewhere", writing=True) == Path("elsewhere")


def test_a_state_dir_given_inside_code_that_sam_build_copies_is_used_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "template.yaml").write_text(_DOT)
    given = str(tmp_path / "state")
    assert _support.state_dir(given, Template(tmp_path / "template.yaml")) == Path(given)
    err = capsys.readouterr().err
    assert f"warning: --state-dir {given} is inside Fn's CodeUri: sam build would copy it" in err


@pytest.mark.parametrize("name", ["template.yml", "template.json"])
def test_issuer_keeps_its_keys_out_of_the_code_with_a_template_named_as_sam_also_reads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # sam (and our invoke/start-api) read template.yml or template.json when there is no template.yaml.
    text = _DOT if name.endswith("yml") else json.dumps({
        "Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"CodeUri": ".", "Handler": "app.handler", "Runtime": "python3.12"}}}})
    (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    state = _support.here(None, writing=True)
    assert state == Template(name).state_dir
    assert not state.is_relative_to(tmp_path)
