"""The Preset record and the building blocks every provider preset shares (_preset.py)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from serverless_jwt import authz, presets
from serverless_jwt._preset import (
    Preset,
    build_verifier,
    checked_host,
    claim_equals,
    default_jwks_uri,
    secret_source,
    string_set,
)
from serverless_jwt.adapters.decorators import require_auth
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import ConfigurationError, InvalidClaimError


def _call(handler: Any, token: str) -> dict[str, Any]:
    event = {"version": "2.0", "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET"}}}
    result: dict[str, Any] = handler(event, types.SimpleNamespace())
    return result


def test_preset_is_importable_from_presets_as_before() -> None:
    assert presets.Preset is Preset
    assert "Preset" in presets.__all__


def test_preset_is_a_token_verifier_for_plain_require_auth(issuer: DevIssuer) -> None:

    preset = presets.oidc(issuer.issuer, issuer.audience)
    handler = require_auth(preset, **preset.auth_options())(lambda event, context: {"statusCode": 204})
    assert _call(handler, issuer.mint())["statusCode"] == 204


def test_preset_refuses_overriding_its_issuer() -> None:
    with pytest.raises(ConfigurationError):
        presets.auth0("t.auth0.com", "api", issuer="https://evil.example/")


def test_auth_options_name_a_cookie_and_a_mapper_only_when_the_provider_has_them(issuer: DevIssuer) -> None:
    verifier = presets.oidc(issuer.issuer, issuer.audience).verifier
    assert Preset(verifier).auth_options() == {"roles_claim": authz.DEFAULT_ROLES_PATH}
    mapper = authz.strip_namespace("https://example.com/")
    full = Preset(verifier, roles_claim="groups", cookie_name="nf_jwt", claims_mapper=mapper)
    assert full.auth_options() == {"roles_claim": "groups", "cookie_name": "nf_jwt", "claims_mapper": mapper}


def test_preset_require_auth_overrides_win_over_the_provider_options(issuer: DevIssuer) -> None:
    preset = presets.oidc(issuer.issuer, issuer.audience)  # roles read from "roles"
    token = issuer.mint(claims={"roles": ["admin"], "groups": ["staff"]})
    by_default = preset.require_auth(roles=["admin"])(lambda event, context: {"statusCode": 204})
    assert _call(by_default, token)["statusCode"] == 204
    overridden = preset.require_auth(roles=["admin"], roles_claim="groups")(
        lambda event, context: {"statusCode": 204})
    assert _call(overridden, token)["statusCode"] == 403


def test_a_host_is_lower_cased_without_scheme_or_trailing_slash() -> None:
    assert checked_host(" https://Tenant.EU.auth0.com/ ", "domain") == "tenant.eu.auth0.com"
    assert checked_host("localhost:8443", "domain") == "localhost:8443"
    for bad in ("", "tenant.example.com/path", "http://tenant.example.com", "-x.example.com", 5):
        with pytest.raises(ConfigurationError, match="domain must be a host name"):
            checked_host(bad, "domain")  # type: ignore[arg-type]


def test_a_list_of_ids_is_one_string_or_non_empty_strings() -> None:
    assert string_set("a", "client_ids") == frozenset({"a"})
    assert string_set(["a", "b", "a"], "client_ids") == frozenset({"a", "b"})
    for bad in (None, [], "", ["a", ""], ["a", 5], 5):  # 5: cognito(client_ids=5) was a TypeError
        with pytest.raises(ConfigurationError, match="client_ids must be"):
            string_set(bad, "client_ids")  # type: ignore[arg-type]


def test_a_claim_check_tells_a_missing_claim_from_a_wrong_one() -> None:
    check = claim_equals("token_use", frozenset({"access"}))
    assert check.__name__ == "token_use"
    assert check({"token_use": "access"}) is True
    with pytest.raises(InvalidClaimError) as missing:
        check({})
    assert (missing.value.claim, missing.value.reason) == ("token_use", "missing")
    for wrong in ("id", ["access"], 1):
        with pytest.raises(InvalidClaimError) as failed:
            check({"token_use": wrong})
        assert (failed.value.claim, failed.value.reason) == ("token_use", "check_failed")


def test_the_default_jwks_uri_never_replaces_keys_the_caller_brings() -> None:
    options: dict[str, Any] = {}
    default_jwks_uri(options, "https://idp.example.com/jwks")
    assert options == {"jwks_uri": "https://idp.example.com/jwks"}
    for key in ("jwks_uri", "jwks", "public_key", "secrets", "secret_from"):
        brought: dict[str, Any] = {key: "theirs"}
        default_jwks_uri(brought, "https://idp.example.com/jwks")
        assert brought == {key: "theirs"}


def test_a_secret_naming_a_store_entry_is_fetched_never_used_as_the_key() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf"
    assert secret_source(f" {arn} ") == {"secret_from": arn}
    assert secret_source("a-long-random-site-secret-0123456789") == {
        "secrets": "a-long-random-site-secret-0123456789"}
    assert secret_source([b"one", "two"]) == {"secrets": [b"one", "two"]}


def test_the_callers_claim_checks_run_after_the_presets_own(issuer: DevIssuer) -> None:
    order: list[str] = []

    def preset_check(claims: Any) -> bool:
        order.append("preset")
        return True

    def caller_check(claims: Any) -> bool:
        order.append("caller")
        return True

    options: dict[str, Any] = {"claim_checks": [caller_check]}
    verifier = build_verifier([preset_check], options, issuer=issuer.issuer, audience=issuer.audience)
    verifier.verify(issuer.mint())
    assert order == ["preset", "caller"]
    with pytest.raises(ConfigurationError, match="this preset sets 'audience', 'issuer' itself"):
        build_verifier((), {"issuer": "x", "audience": "y"}, issuer=issuer.issuer, audience="api")


def test_from_env_with_a_cognito_issuer_refuses_claim_checks_of_the_wrong_type_as_any_issuer() -> None:
    # The Cognito aud-or-client_id rule is joined to the caller's claim_checks: one callable (not a
    # list) or None was a TypeError there, where any other issuer gets the Verifier's ConfigurationError.
    from serverless_jwt.verifier import Verifier

    env = {"JWT_ISSUER": "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_aaaaaaaaa",
           "JWT_AUDIENCE": "client-1", "JWT_JWKS_URI": "https://keys.example.com/jwks.json"}
    for checks in (lambda claims: True, None):
        with pytest.raises(ConfigurationError, match="claim_checks"):
            Verifier.from_env(env, claim_checks=checks)
    assert Verifier.from_env(env, claim_checks=[lambda claims: True]).issuer == env["JWT_ISSUER"]


def test_with_no_key_to_be_had_the_cognito_env_rule_refuses_another_app_client_but_no_caller_check_runs(
        issuer: DevIssuer) -> None:
    # With no key, a token for another app client gets the 401 the verifier's aud rule gives (the rule
    # lives among the claim checks for Cognito); the caller's own checks never see unverified claims.
    from serverless_jwt.errors import KeysUnavailableError
    from serverless_jwt.verifier import Verifier

    pool = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_aaaaaaaaa"
    seen: list[Any] = []
    issuer.fault = "503"
    verifier = Verifier.from_env({"JWT_ISSUER": pool, "JWT_AUDIENCE": "client-1",
                                  "JWT_JWKS_URI": issuer.jwks_uri}, claim_checks=[seen.append])
    for claims, claim in (({"aud": "client-2"}, "aud"), ({"client_id": "client-2"}, "client_id")):
        token = issuer.mint(issuer=pool, audience=None, claims={"token_use": "access", **claims})
        with pytest.raises(InvalidClaimError) as err:
            verifier.verify(token)
        assert err.value.claim == claim
    with pytest.raises(KeysUnavailableError):
        verifier.verify(issuer.mint(issuer=pool, audience="client-1"))
    assert seen == []


def test_an_unhashable_caller_check_is_no_trouble_when_no_key_can_be_had(issuer: DevIssuer) -> None:
    # The preset's own rules are picked out of the claim checks; a caller's check that cannot be hashed
    # (a dataclass with __call__) is simply not one of them: never a TypeError (a 500), nor in repr.
    import dataclasses

    from serverless_jwt.errors import KeysUnavailableError

    @dataclasses.dataclass
    class Check:
        seen: int = 0

        def __call__(self, claims: Any) -> bool:
            self.seen += 1
            return True

    check = Check()
    pool = "eu-west-1_AbCdEf123"
    issuer.fault = "503"
    preset = presets.cognito("eu-west-1", pool, client_ids=["c"], token_use="id", jwks_uri=issuer.jwks_uri,
                             claim_checks=[check])
    assert "audience=['c']" in repr(preset.verifier)
    token = issuer.mint(issuer=f"https://cognito-idp.eu-west-1.amazonaws.com/{pool}", audience="c",
                        claims={"token_use": "id"})
    with pytest.raises(KeysUnavailableError):
        preset.verify(token)
    assert check.seen == 0


@pytest.mark.parametrize("checks", [lambda claims: True, None, 5])
def test_a_preset_refuses_claim_checks_of_the_wrong_type_as_the_verifier_does(checks: Any) -> None:
    # One callable (not a list), None or a number was a TypeError from joining them to the preset's own.
    with pytest.raises(ConfigurationError, match="claim_checks"):
        presets.cognito("eu-west-1", "eu-west-1_Ab", client_ids=["c"], claim_checks=checks)
