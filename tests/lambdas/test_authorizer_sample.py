"""The sample REST TOKEN authorizer (lambdas/authorizer) with its SAM-generated event."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from serverless_jwt.adapters.authorizer import Unauthorized
from serverless_jwt.dev.issuer import DevIssuer

ROOT = Path(__file__).resolve().parents[2]


def _load(monkeypatch: pytest.MonkeyPatch, issuer: DevIssuer, scopes: str = "") -> ModuleType:
    for name in ("JWT_SECRET", "JWT_JWKS_URI", "JWT_PUBLIC_KEY", "JWT_ALGORITHMS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_ISSUER", issuer.issuer)
    monkeypatch.setenv("JWT_AUDIENCE", issuer.audience)
    monkeypatch.setenv("AUTHORIZER_SCOPES", scopes)
    spec = importlib.util.spec_from_file_location("sample_authorizer_app", ROOT / "lambdas/authorizer/app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events/authorizer-token.json").read_text())
    event["authorizationToken"] = f"Bearer {token}"
    return event


def test_sample_allows_the_stage_for_a_valid_token(issuer: DevIssuer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app = _load(monkeypatch, issuer)
    response = app.handler(_event(issuer.mint(sub="alice")), None)
    statement = response["policyDocument"]["Statement"][0]
    assert response["principalId"] == "alice"
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:example/prod/*/*"


def test_sample_rejects_the_placeholder_token(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _load(monkeypatch, issuer)
    event: dict[str, Any] = json.loads((ROOT / "events/authorizer-token.json").read_text())
    with pytest.raises(Unauthorized):
        app.handler(event, None)


def test_sample_denies_without_configured_scope(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _load(monkeypatch, issuer, scopes="write:shows")
    response = app.handler(_event(issuer.mint(scopes=["read:shows"])), None)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.mark.parametrize("listed",
                         ["read:shows,write:shows", "read:shows, write:shows", "read:shows write:shows"])
def test_sample_reads_scopes_listed_with_commas_or_spaces(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch,
                                                          listed: str) -> None:
    # A scope never holds whitespace (RFC 6749 §3.3): "a, b" or "a b" names two scopes, not " b" or "a b".
    app = _load(monkeypatch, issuer, scopes=listed)
    both = app.handler(_event(issuer.mint(scopes=["read:shows", "write:shows"])), None)
    assert both["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    one = app.handler(_event(issuer.mint(scopes=["read:shows"])), None)
    assert one["policyDocument"]["Statement"][0]["Effect"] == "Deny"
