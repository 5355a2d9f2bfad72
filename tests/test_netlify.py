"""x-nf-sign: Netlify's signed proxy header, alone and stacked with the bearer check."""

from __future__ import annotations

import json
import secrets
import time
import types
from typing import Any

import pytest

from serverless_jwt.adapters.decorators import require_auth
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import InvalidClaimError, TokenExpiredError
from serverless_jwt.netlify import require_netlify_signature, signature_verifier
from serverless_jwt.verifier import Verifier

SECRET = secrets.token_urlsafe(32)


def nf_sign(issuer: DevIssuer, *, secret: str = SECRET, iss: str = "netlify", lifetime: float = 60,
            now: float | None = None) -> str:
    return issuer.mint(alg="HS256", secret=secret, issuer=iss, audience=None, sub=None,
                       lifetime_seconds=lifetime, now=now, claims={"site_url": "https://x.netlify.app"})


def _event(headers: dict[str, str]) -> dict[str, Any]:
    return {"version": "2.0", "headers": headers, "requestContext": {"http": {"method": "GET"}}}


def test_valid_signature_passes_and_others_fail(issuer: DevIssuer) -> None:
    verifier = signature_verifier(SECRET, leeway_seconds=0)
    assert verifier.verify(nf_sign(issuer))["iss"] == "netlify"
    with pytest.raises(TokenExpiredError):
        verifier.verify(nf_sign(issuer, now=time.time() - 600))
    with pytest.raises(InvalidClaimError):
        verifier.verify(nf_sign(issuer, iss="not-netlify"))


def test_decorator_combined_with_bearer_check(issuer: DevIssuer) -> None:
    @require_netlify_signature(SECRET, leeway_seconds=0)
    @require_auth(Verifier(issuer=issuer.issuer, audience=issuer.audience))
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    bearer = f"Bearer {issuer.mint(sub='alice')}"
    ok = handler(_event({"x-nf-sign": nf_sign(issuer), "authorization": bearer}), types.SimpleNamespace())
    assert ok == {"statusCode": 200, "body": "alice"}
    # Straight to the function, around the proxy: no signature, 401 even with a good bearer token.
    direct = handler(_event({"authorization": bearer}), types.SimpleNamespace())
    assert direct["statusCode"] == 401
    expired = handler(_event({"x-nf-sign": nf_sign(issuer, now=time.time() - 600), "authorization": bearer}),
                      types.SimpleNamespace())
    assert expired["statusCode"] == 401
    assert json.loads(expired["body"])["error"] == "invalid_token"
    forged = handler(_event({"x-nf-sign": nf_sign(issuer, secret=secrets.token_urlsafe(32)),
                             "authorization": bearer}), types.SimpleNamespace())
    assert forged["statusCode"] == 401
    no_user = handler(_event({"x-nf-sign": nf_sign(issuer)}), types.SimpleNamespace())
    assert no_user["statusCode"] == 401
