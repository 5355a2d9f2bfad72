"""x-nf-sign: Netlify's signed proxy header, alone and stacked with the bearer check."""

from __future__ import annotations

import base64
import json
import secrets
import time
import types
from typing import Any

import pytest
from jwt.algorithms import HMACAlgorithm

from serverless_jwt.adapters.decorators import require_auth
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import (
    ConfigurationError,
    InvalidClaimError,
    InvalidTokenError,
    TokenExpiredError,
)
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
    # ... named for what is missing: this client did send its bearer token.
    assert json.loads(direct["body"])["error"] == "signature_missing"
    assert "x-nf-sign" in json.loads(direct["body"])["error_description"]
    no_user = handler(_event({"x-nf-sign": nf_sign(issuer)}), types.SimpleNamespace())
    assert json.loads(no_user["body"])["error"] == "token_missing"
    expired = handler(_event({"x-nf-sign": nf_sign(issuer, now=time.time() - 600), "authorization": bearer}),
                      types.SimpleNamespace())
    assert expired["statusCode"] == 401
    assert json.loads(expired["body"])["error"] == "invalid_token"
    forged = handler(_event({"x-nf-sign": nf_sign(issuer, secret=secrets.token_urlsafe(32)),
                             "authorization": bearer}), types.SimpleNamespace())
    assert forged["statusCode"] == 401
    no_user = handler(_event({"x-nf-sign": nf_sign(issuer)}), types.SimpleNamespace())
    assert no_user["statusCode"] == 401


def _b64(data: dict[str, Any] | bytes, *, padded: bool = False) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")


def _hs_token(secret: str, header: dict[str, Any], payload: dict[str, Any], *, alg: str = "HS256") -> str:
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    digest = {"HS256": HMACAlgorithm.SHA256, "HS512": HMACAlgorithm.SHA512}[alg]
    return f"{signing_input}.{_b64(HMACAlgorithm(digest).sign(signing_input.encode(), secret.encode()))}"


def test_x_nf_sign_requires_iss_exp_and_hs256(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    verifier = signature_verifier(secret)
    now = int(time.time())
    good = {"iss": "netlify", "exp": now + 60, "site_url": "https://x.netlify.app"}
    assert verifier.verify(_hs_token(secret, {"alg": "HS256", "typ": "JWT"}, good))["iss"] == "netlify"
    refused = [
        _hs_token(secret, {"alg": "HS256"}, {**good, "iss": "other"}),
        _hs_token(secret, {"alg": "HS256"}, {k: v for k, v in good.items() if k != "iss"}),
        _hs_token(secret, {"alg": "HS256"}, {k: v for k, v in good.items() if k != "exp"}),
        _hs_token(secret, {"alg": "HS256"}, {**good, "exp": now - 3600}),
        _hs_token(secret, {"alg": "HS256"}, {**good, "exp": str(now + 60)}),
        _hs_token(secret, {"alg": "HS512"}, good, alg="HS512"),
        _hs_token("another-secret-of-enough-length-000", {"alg": "HS256"}, good),
        f"{_b64({'alg': 'none'})}.{_b64(good)}.",
        issuer.mint(issuer="netlify", audience=None),                    # RS256 with iss netlify
        issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None),  # an Identity token, no iss
    ]
    for token in refused:
        with pytest.raises(InvalidTokenError):
            verifier.verify(token)


def test_require_netlify_signature_answers_401_without_echoing(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)

    @require_netlify_signature(secret)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    expired = _hs_token(secret, {"alg": "HS256"}, {"iss": "netlify", "exp": int(time.time()) - 3600})
    for headers, status in (({}, 401), ({"x-nf-sign": expired}, 401), ({"x-nf-sign": "a.b"}, 401)):
        response = handler({"version": "2.0", "headers": headers,
                            "requestContext": {"http": {"method": "GET"}}}, None)
        assert response["statusCode"] == status
        assert expired not in json.dumps(response)
    multi = {"httpMethod": "GET", "multiValueHeaders": {"x-nf-sign": [expired, expired]}}
    assert handler(multi, None)["statusCode"] == 400


def test_a_folded_or_padded_signature_header_reads_as_it_was_sent(issuer: DevIssuer) -> None:
    from serverless_jwt.errors import InvalidRequestError
    from serverless_jwt.netlify import check_signature

    verifier = signature_verifier(SECRET)
    signed = nf_sign(issuer)
    assert check_signature([f" {signed}\t"], verifier)["iss"] == "netlify"  # OWS around a value
    with pytest.raises(InvalidRequestError):  # two headers a WSGI server joined with a comma
        check_signature([f"{signed}, {signed}"], verifier)


def test_a_realm_that_is_not_text_fails_at_decoration_not_per_refusal() -> None:
    with pytest.raises(ConfigurationError, match="realm"):
        require_netlify_signature(SECRET, realm=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("option", [{"issuer": "other"}, {"algorithms": ["HS512"]},
                                    {"secrets": [secrets.token_urlsafe(32)]}])
def test_an_option_fixing_what_a_signature_is_fails_as_a_configuration_error(option: dict[str, Any]) -> None:
    # HS256, iss netlify, the redirect's secret: fixed. Passing one again was a TypeError at import.
    with pytest.raises(ConfigurationError, match=next(iter(option))):
        signature_verifier(SECRET, **option)
    with pytest.raises(ConfigurationError, match=next(iter(option))):
        require_netlify_signature(SECRET, **option)


def test_site_url_and_deploy_context_can_be_pinned_with_claim_checks() -> None:
    # x-nf-sign proves "a redirect signed with this secret": another site sharing it (a team variable) or
    # a deploy preview signs too. The README's pinning refuses those with 401, and a signature without them.
    secret = secrets.token_urlsafe(32)

    @require_netlify_signature(secret, claim_checks=[
        lambda c: c.get("site_url") == "https://example.com" and c.get("deploy_context") == "production"])
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    now = int(time.time())
    good = {"iss": "netlify", "exp": now + 60, "site_url": "https://example.com",
            "deploy_context": "production"}
    for payload, status in ((good, 200), ({**good, "site_url": "https://other.netlify.app"}, 401),
                            ({**good, "deploy_context": "deploy-preview"}, 401),
                            ({"iss": "netlify", "exp": now + 60}, 401)):
        signed = _hs_token(secret, {"alg": "HS256", "typ": "JWT"}, payload)
        response = handler(_event({"x-nf-sign": signed}), None)
        assert response["statusCode"] == status
        assert signed not in json.dumps(response)
