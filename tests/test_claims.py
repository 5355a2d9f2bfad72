"""Claim checks: one case per rule, boundaries on both sides of the leeway, hostile JSON values."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from serverless_jwt.claims import DEFAULT_TYPES, ClaimsPolicy, access_token_types, check_claims, check_type
from serverless_jwt.errors import ConfigurationError, InvalidClaimError, TokenExpiredError

NOW = 1_700_000_000
LEEWAY = 60
ISSUER = "https://issuer.example.com"
POLICY = ClaimsPolicy(issuer=ISSUER, audiences=frozenset({"api", "admin"}), leeway_seconds=LEEWAY)
GOOD = {"iss": ISSUER, "aud": "api", "sub": "user-1", "exp": NOW + 300, "iat": NOW - 10, "nbf": NOW - 10}


def claims(**changes: Any) -> dict[str, Any]:
    """GOOD with some claims replaced; a value of ``...`` removes the claim."""
    out = dict(GOOD)
    for name, value in changes.items():
        if value is ...:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def claim_error(payload: dict[str, Any], policy: ClaimsPolicy = POLICY, now: float = NOW) -> tuple[str, str]:
    with pytest.raises(InvalidClaimError) as info:
        check_claims(payload, policy, now)
    return info.value.claim, info.value.reason


def test_good_claims_pass() -> None:
    check_claims(GOOD, POLICY, NOW)


def test_only_exp_is_needed_when_nothing_else_is_configured() -> None:
    check_claims({"exp": NOW + 1}, ClaimsPolicy(issuer=None, audiences=None), NOW)


# --- exp / nbf / iat ------------------------------------------------------------------------------------


def test_exp_is_always_required() -> None:
    assert claim_error(claims(exp=...)) == ("exp", "missing")
    assert claim_error({}, ClaimsPolicy(issuer=None, audiences=None)) == ("exp", "missing")


@pytest.mark.parametrize(
    ("exp", "expired"),
    [
        (NOW - LEEWAY + 1, False),  # inside the leeway
        (NOW - LEEWAY, True),  # now == exp + leeway: expired
        (NOW - LEEWAY - 1, True),
        (NOW - LEEWAY + 0.5, False),
    ],
)
def test_expiry_boundary_is_exp_plus_leeway(exp: float, expired: bool) -> None:
    if expired:
        with pytest.raises(TokenExpiredError):
            check_claims(claims(exp=exp), POLICY, NOW)
    else:
        check_claims(claims(exp=exp), POLICY, NOW)


def test_zero_leeway_expires_at_exp_exactly() -> None:
    policy = replace(POLICY, leeway_seconds=0)
    check_claims(claims(exp=NOW + 1), policy, NOW)
    with pytest.raises(TokenExpiredError):
        check_claims(claims(exp=NOW), policy, NOW)


@pytest.mark.parametrize("name", ["nbf", "iat"])
def test_future_nbf_and_iat_are_rejected_beyond_the_leeway_only(name: str) -> None:
    check_claims(claims(**{name: NOW + LEEWAY}), POLICY, NOW)  # exactly at the leeway: accepted
    assert claim_error(claims(**{name: NOW + LEEWAY + 1})) == (name, "check_failed")
    assert claim_error(claims(**{name: NOW + LEEWAY + 0.001})) == (name, "check_failed")


@pytest.mark.parametrize("name", ["nbf", "iat"])
def test_nbf_and_iat_are_optional(name: str) -> None:
    check_claims(claims(**{name: ...}), POLICY, NOW)


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="true"),  # bool is an int subclass
        pytest.param(False, id="false"),
        pytest.param(str(NOW + 300), id="numeric-string"),
        pytest.param(None, id="null"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(float("-inf"), id="-inf"),
        pytest.param([NOW + 300], id="list"),
        pytest.param({"t": NOW}, id="object"),
    ],
)
def test_time_claims_must_be_finite_json_numbers(name: str, value: Any) -> None:
    assert claim_error(claims(**{name: value})) == (name, "invalid")


def test_float_times_are_accepted() -> None:
    check_claims(claims(exp=NOW + 0.25, iat=NOW - 0.5, nbf=float(NOW)), POLICY, NOW)


def test_huge_numbers_compare_without_overflow() -> None:
    check_claims(claims(exp=10**400), POLICY, NOW)
    check_claims(claims(exp=1.7e308), POLICY, NOW)
    with pytest.raises(TokenExpiredError):
        check_claims(claims(exp=-(10**400)), POLICY, NOW)
    assert claim_error(claims(nbf=10**400)) == ("nbf", "check_failed")
    assert claim_error(claims(iat=10**400)) == ("iat", "check_failed")
    check_claims(claims(iat=-(10**400)), POLICY, NOW)  # no max age configured: an old iat is fine


# --- iss ------------------------------------------------------------------------------------------------


def test_issuer_missing_is_reported_as_missing() -> None:
    assert claim_error(claims(iss=...)) == ("iss", "missing")


@pytest.mark.parametrize(
    "iss",
    [
        ISSUER + "/",
        "HTTPS://ISSUER.EXAMPLE.COM",
        ISSUER.upper(),
        ISSUER + "/tenant",
        ISSUER[:-1],
        " " + ISSUER,
        "http://issuer.example.com",
        [ISSUER],
        None,
        1,
        {"iss": ISSUER},
    ],
)
def test_issuer_must_be_exactly_the_configured_string(iss: Any) -> None:
    assert claim_error(claims(iss=iss)) == ("iss", "invalid")


def test_trailing_slash_issuer_is_not_tolerated_the_other_way_either() -> None:
    policy = replace(POLICY, issuer=ISSUER + "/")
    assert claim_error(claims(iss=ISSUER), policy) == ("iss", "invalid")
    check_claims(claims(iss=ISSUER + "/"), policy, NOW)


def test_issuer_value_is_free_but_typed_when_not_configured() -> None:
    check_claims(claims(iss=...), replace(POLICY, issuer=None), NOW)
    check_claims(claims(iss="https://anyone.example"), replace(POLICY, issuer=None), NOW)
    for bad in (["anything"], 1, None, {"iss": "x"}, True):
        assert claim_error(claims(iss=bad), replace(POLICY, issuer=None)) == ("iss", "invalid")


# --- aud ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("aud", ["api", "admin", ["api"], ["other", "admin"], ["api", "admin"]])
def test_audience_matches_a_string_or_a_list_member(aud: Any) -> None:
    check_claims(claims(aud=aud), POLICY, NOW)


def test_audience_missing_is_reported_as_missing() -> None:
    assert claim_error(claims(aud=...)) == ("aud", "missing")


@pytest.mark.parametrize("aud", ["other", "API", "api ", ["other"], ["Api", "x"], ""])
def test_audience_without_a_match_fails_the_check(aud: Any) -> None:
    assert claim_error(claims(aud=aud)) == ("aud", "check_failed")


@pytest.mark.parametrize(
    "aud", [[], ["api", 1], ["api", None], [["api"]], None, 1, True, {"api": True}, ("api",)]
)
def test_audience_of_the_wrong_shape_is_invalid_even_when_a_member_matches(aud: Any) -> None:
    assert claim_error(claims(aud=aud)) == ("aud", "invalid")


def test_without_a_configured_audience_a_token_carrying_aud_is_refused() -> None:
    # RFC 7519 §4.1.3: a recipient that is not named in aud must reject the token (PyJWT does too).
    policy = replace(POLICY, audiences=None)
    check_claims(claims(aud=...), policy, NOW)
    for aud in ("api", ["api"], "authenticated"):
        with pytest.raises(InvalidClaimError) as info:
            check_claims(claims(aud=aud), policy, NOW)
        assert (info.value.claim, info.value.reason) == ("aud", "check_failed")
        assert "authenticated" not in info.value.description


def test_accept_any_audience_is_the_explicit_opt_out_and_still_types_aud() -> None:
    policy = replace(POLICY, audiences=None, accept_any_audience=True)
    for aud in ("api", ["x", "y"], ...):
        check_claims(claims(aud=aud), policy, NOW)
    for bad in (12, [], ["api", 1], None, {"a": 1}, True):
        assert claim_error(claims(aud=bad), policy) == ("aud", "invalid")
        assert claim_error(claims(aud=bad), replace(policy, accept_any_audience=False)) == ("aud", "invalid")



def test_accept_any_audience_beside_audiences_is_a_configuration_error() -> None:
    # As Verifier(audience=..., accept_any_audience=True) is: the opt-out would be ignored in silence, a
    # token for another audience still refused.
    with pytest.raises(ConfigurationError, match="accept_any_audience cannot be combined with audiences"):
        ClaimsPolicy(issuer=None, audiences=frozenset({"api"}), accept_any_audience=True)
    with pytest.raises(ConfigurationError, match="accept_any_audience cannot be combined with audiences"):
        replace(POLICY, accept_any_audience=True)

# --- registered claims are typed whenever present (RFC 7519 §4.1) -----------------------------------------

OPEN = ClaimsPolicy(issuer=None, audiences=None, accept_any_audience=True)


@pytest.mark.parametrize(("name", "bad"), [
    ("iss", 1), ("iss", ["a"]), ("sub", 1), ("sub", None), ("sub", ["a"]), ("jti", 7), ("jti", {"j": 1}),
    ("aud", 3), ("aud", []), ("exp", "2000000000"), ("nbf", True), ("iat", [1]), ("auth_time", "1"),
    ("auth_time", float("inf")), ("auth_time", None),
])
def test_registered_claims_of_the_wrong_type_are_invalid_whatever_is_configured(name: str, bad: Any) -> None:
    payload = {"exp": NOW + 60, name: bad}
    assert claim_error(payload, OPEN) == (name, "invalid")
    assert claim_error({**GOOD, name: bad}, POLICY) == (name, "invalid")


def test_registered_claims_of_the_right_type_pass_an_open_policy() -> None:
    check_claims({"exp": NOW + 60, "iss": "x", "sub": "s", "jti": "j", "aud": ["a"], "nbf": NOW,
                  "iat": NOW - 1.5, "auth_time": NOW - 3}, OPEN, NOW)


# --- sub and required claims ----------------------------------------------------------------------------


@pytest.mark.parametrize("sub", [1, None, ["user-1"], {"id": 1}, True])
def test_sub_when_present_must_be_a_string(sub: Any) -> None:
    assert claim_error(claims(sub=sub)) == ("sub", "invalid")


def test_sub_is_optional() -> None:
    check_claims(claims(sub=...), POLICY, NOW)


@pytest.mark.parametrize("cnf", [{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
                                 {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, {}, None, "x"])
def test_key_bound_tokens_are_refused_as_bearer_tokens(cnf: Any) -> None:
    # A DPoP (RFC 9449) or mTLS (RFC 8705) bound token: the binding cannot be checked here.
    with pytest.raises(InvalidClaimError) as caught:
        check_claims(claims(cnf=cnf), POLICY, NOW)
    assert (caught.value.claim, caught.value.reason) == ("cnf", "invalid")
    assert "bound to a key" in caught.value.description
    check_claims(claims(cnf=cnf), replace(POLICY, allow_sender_constrained=True), NOW)


def test_required_claims_must_be_present_and_not_null() -> None:
    policy = replace(POLICY, required=frozenset({"scope"}))
    check_claims(claims(scope="read"), policy, NOW)
    check_claims(claims(scope=""), policy, NOW)  # present, even if empty: its meaning is authz's job
    assert claim_error(claims(), policy) == ("scope", "missing")
    assert claim_error(claims(scope=None), policy) == ("scope", "missing")


# --- max age --------------------------------------------------------------------------------------------


def test_max_age_on_iat_boundary_is_max_age_plus_leeway() -> None:
    policy = replace(POLICY, max_age_seconds=300)
    check_claims(claims(iat=NOW - 300 - LEEWAY), policy, NOW)  # exactly at the limit: accepted
    with pytest.raises(InvalidClaimError) as err:
        check_claims(claims(iat=NOW - 300 - LEEWAY - 1), policy, NOW)
    assert (err.value.claim, err.value.reason) == ("iat", "check_failed")
    assert err.value.description == "The authentication is too old; sign in again"


def test_max_age_requires_its_claim() -> None:
    assert claim_error(claims(iat=...), replace(POLICY, max_age_seconds=300)) == ("iat", "missing")
    policy = replace(POLICY, max_age_seconds=300, max_age_claim="auth_time")
    assert claim_error(claims(), policy) == ("auth_time", "missing")


def test_max_age_on_auth_time() -> None:
    policy = replace(POLICY, max_age_seconds=300, max_age_claim="auth_time")
    check_claims(claims(auth_time=NOW - 360, iat=NOW - 1), policy, NOW)
    assert claim_error(claims(auth_time=NOW - 361, iat=NOW - 1), policy) == ("auth_time", "check_failed")
    # A fresh iat does not rescue an old sign-in.
    assert claim_error(claims(auth_time=NOW - 5000, iat=NOW), policy) == ("auth_time", "check_failed")


def test_a_sign_in_in_the_future_does_not_pass_the_max_age_rule() -> None:
    # As iat: beyond the leeway a future auth_time is refused, else it stays "fresh" until then.
    policy = replace(POLICY, max_age_seconds=300, max_age_claim="auth_time")
    check_claims(claims(auth_time=NOW + LEEWAY, iat=NOW), policy, NOW)
    assert claim_error(claims(auth_time=NOW + LEEWAY + 1, iat=NOW), policy) == ("auth_time", "check_failed")


@pytest.mark.parametrize("value", [True, "1700000000", float("nan"), None])
def test_auth_time_must_be_a_finite_number_when_used(value: Any) -> None:
    policy = replace(POLICY, max_age_seconds=300, max_age_claim="auth_time")
    assert claim_error(claims(auth_time=value), policy) == ("auth_time", "invalid")
    assert claim_error(claims(auth_time=value), POLICY) == ("auth_time", "invalid")  # typed even unused


# --- typ ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256"},
        {"alg": "RS256", "typ": "JWT"},
        {"alg": "RS256", "typ": "jwt"},
        {"alg": "RS256", "typ": "at+jwt"},
        {"alg": "RS256", "typ": "AT+JWT"},
        {"alg": "RS256", "typ": "application/at+jwt"},
        {"alg": "RS256", "typ": "Application/JWT"},
    ],
)
def test_default_types_accept_absent_jwt_and_access_token(header: dict[str, Any]) -> None:
    check_type(header, POLICY)


@pytest.mark.parametrize(
    "typ", ["logout+jwt", "dpop+jwt", "secevent+jwt", "application/logout+jwt", "JOSE", "text/jwt",
            "application/application/jwt", "", " JWT", 1, None, ["JWT"],
            # No subtype at all: not the absent typ ("") that the default admits.
            "application/", "Application/"],
)
def test_other_types_are_rejected_as_invalid_typ(typ: Any) -> None:
    with pytest.raises(InvalidClaimError) as info:
        check_type({"alg": "RS256", "typ": typ}, POLICY)
    assert (info.value.claim, info.value.reason) == ("typ", "invalid")
    assert info.value.description == "The access token type is not accepted"


def test_access_token_mode_requires_at_jwt() -> None:
    policy = replace(POLICY, accepted_types=access_token_types())
    check_type({"alg": "RS256", "typ": "at+jwt"}, policy)
    check_type({"alg": "RS256", "typ": "application/at+jwt"}, policy)
    for header in ({"alg": "RS256"}, {"alg": "RS256", "typ": "JWT"}):
        with pytest.raises(InvalidClaimError):
            check_type(header, policy)


def test_type_check_can_be_disabled_and_custom_types_are_normalized() -> None:
    check_type({"typ": "logout+jwt"}, replace(POLICY, accepted_types=None))
    policy = replace(POLICY, accepted_types=frozenset({"Application/Custom+JWT"}))
    assert policy.accepted_types == frozenset({"custom+jwt"})
    check_type({"typ": "custom+jwt"}, policy)
    with pytest.raises(InvalidClaimError):
        check_type({}, policy)


def test_an_empty_list_of_accepted_types_is_a_configuration_error_not_a_401_for_every_token() -> None:
    with pytest.raises(ConfigurationError, match="accepted_types must name at least one type"):
        replace(POLICY, accepted_types=frozenset())


# RFC 7515 §4.1.9: "application/" is implied only for a value without "/"; compared case-insensitively.
@pytest.mark.parametrize(("configured", "sent", "same"), [
    ("at+jwt", "application/at+jwt", True),
    ("application/at+jwt", "AT+JWT", True),
    ("text/jwt", "text/jwt", True),
    ("TEXT/JWT", "text/jwt", True),
    ("text/jwt", "application/text/jwt", False),   # the prefix is not optional when another / follows
    ("application/text/jwt", "text/jwt", False),
    ("application/text/jwt", "application/text/jwt", True),
    ("jwt", "text/jwt", False),
    ("jwt", "application/application/jwt", False),
    ("example", "application/example", True),
])
def test_typ_media_types_compare_as_rfc_7515_says(configured: str, sent: str, same: bool) -> None:
    policy = replace(POLICY, accepted_types=frozenset({configured}))
    if same:
        check_type({"alg": "RS256", "typ": sent}, policy)
    else:
        with pytest.raises(InvalidClaimError):
            check_type({"alg": "RS256", "typ": sent}, policy)


def test_default_types_constant() -> None:
    assert frozenset({"", "jwt", "at+jwt"}) == DEFAULT_TYPES
    assert POLICY.accepted_types == DEFAULT_TYPES


# --- policy validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"leeway_seconds": -1},
        {"leeway_seconds": float("nan")},
        {"leeway_seconds": float("inf")},
        {"leeway_seconds": 301},  # past 5 minutes (RFC 7519 §4.1.4's "a few"); 1e300 turned exp off
        {"leeway_seconds": 1e300},
        {"max_age_seconds": 0},
        {"max_age_seconds": float("nan")},
        {"max_age_claim": "exp"},
        {"audiences": frozenset()},
        {"audiences": frozenset({""})},
        {"audiences": "api"},
        {"required": "sub"},
        {"issuer": ""},
        {"accepted_types": "jwt"},
    ],
)
def test_unsafe_policies_are_refused_at_construction(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        replace(POLICY, **changes)


def test_policy_collections_are_frozen_copies() -> None:
    policy = ClaimsPolicy(issuer=None, audiences={"api"}, required=["sub"])  # type: ignore[arg-type]
    assert policy.audiences == frozenset({"api"})
    assert policy.required == frozenset({"sub"})


def test_errors_never_echo_token_values() -> None:
    marker = "https://attacker.example/MARKER"
    for payload in (claims(iss=marker), claims(aud=marker), claims(aud=[marker]), claims(sub=[marker])):
        with pytest.raises(InvalidClaimError) as info:
            check_claims(payload, POLICY, NOW)
        assert "MARKER" not in str(info.value)


# Ported from panva/jose test/jwt/verify.test.ts ("typ verification", panva/jose@afbc664): jose's
# normalizeTyp prefixes "application/" to a value without "/" and lower-cases, as RFC 7515 §4.1.9 says.
@pytest.mark.parametrize(("header_typ", "expected_typ", "same"), [
    ("urn:example:typ", "application/urn:example:typ", True),
    ("urn:example:typ", "urn:example:typ:2", False),
    ("urn:example:typ", "application/urn:example:typ:2", False),
    ("application/urn:example:typ", "urn:example:typ", True),
    ("application/urn:example:typ", "application/urn:example:typ:2", False),
    ("application/urn:example:typ", "urn:example:typ:2", False),
    ("text/plain", "text/plain", True),
    ("text/plain", "application/text/plain", False),
    ("JWT", "", False),
])
def test_jose_typ_verification_cases(header_typ: str, expected_typ: str, same: bool) -> None:
    policy = replace(POLICY, accepted_types=frozenset({expected_typ}))
    if same:
        check_type({"alg": "HS256", "typ": header_typ}, policy)
    else:
        with pytest.raises(InvalidClaimError):
            check_type({"alg": "HS256", "typ": header_typ}, policy)
