"""claim_checks and token_checks (``_custom_checks.py``), through a real Verifier and real tokens."""

from __future__ import annotations

import secrets as _secrets
import time
from typing import Any

import jwt
import pytest

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import ConfigurationError, InvalidClaimError
from serverless_jwt.verifier import Verifier

SECRET = _secrets.token_bytes(32)


def _hs(**claims: Any) -> str:
    return jwt.encode({"exp": time.time() + 60, **claims}, SECRET, "HS256")


def test_claim_checks_refuse_on_a_false_value_or_any_exception_and_name_the_check() -> None:
    def tenant_is_acme(claims: Any) -> Any:
        return claims["tenant"] == "acme" and "yes"  # any true value admits

    verifier = Verifier(secrets=SECRET, claim_checks=[tenant_is_acme], verified_cache_size=0)
    assert verifier.verify(_hs(tenant="acme"))["tenant"] == "acme"
    for claims in ({"tenant": "evil"}, {}):  # False, then a KeyError inside the check
        with pytest.raises(InvalidClaimError) as refused:
            verifier.verify(_hs(**claims))
        assert (refused.value.claim, refused.value.reason) == ("claims", "check_failed")
        assert "'tenant_is_acme'" in refused.value.description
        assert "evil" not in refused.value.description


def test_an_auth_error_raised_by_a_check_is_the_answer_as_it_is() -> None:
    def own_words(claims: Any) -> bool:
        raise InvalidClaimError("tenant", "invalid", "Unknown tenant")

    for options in ({"claim_checks": [own_words]}, {"token_checks": [lambda h, c, k: own_words(c)]}):
        with pytest.raises(InvalidClaimError) as refused:
            Verifier(secrets=SECRET, **options).verify(_hs(tenant="x"))  # type: ignore[arg-type]
        assert (refused.value.claim, refused.value.description) == ("tenant", "Unknown tenant")


def test_token_checks_admit_only_on_true() -> None:
    verifier = Verifier(secrets=SECRET, token_checks=[lambda h, c, k: 1])
    with pytest.raises(InvalidClaimError) as refused:
        verifier.verify(_hs())
    assert refused.value.reason == "check_failed"
    assert "'<lambda>'" in refused.value.description


def test_token_checks_see_the_header_the_claims_and_the_verifying_key() -> None:
    seen: list[tuple[dict[str, Any], dict[str, Any], Any]] = []

    def record(header: Any, claims: Any, key: Any) -> bool:
        seen.append((dict(header), dict(claims), key))
        header["alg"] = "none"  # a copy: the cached header stays as parsed
        return claims.get("tenant") == "acme"

    with DevIssuer() as issuer:
        verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience, token_checks=[record])
        token = issuer.mint(claims={"tenant": "acme"})
        assert verifier.verify(token)["tenant"] == "acme"
        assert verifier.verify(token)["tenant"] == "acme"  # no cache hit skips the check
        assert len(seen) == 2
        header, claims, key = seen[1]
        assert (header["alg"], header["kid"], claims["tenant"]) == ("RS256", issuer.kid(), "acme")
        assert (key.kid, key.kty) == (issuer.kid(), "RSA")
        with pytest.raises(InvalidClaimError) as refused:
            verifier.verify(issuer.mint(claims={"tenant": "other"}))
        assert refused.value.reason == "check_failed"
        assert "other" not in refused.value.description


def test_token_checks_name_the_secret_that_verified_among_rotating_ones() -> None:
    old, new = _secrets.token_bytes(32), _secrets.token_bytes(32)
    keys: list[Any] = []
    verifier = Verifier(secrets=[old, new], token_checks=[lambda h, c, k: keys.append(k) is None])
    verifier.verify(jwt.encode({"exp": time.time() + 60}, new, "HS256"))
    verifier.verify(jwt.encode({"exp": time.time() + 60}, old, "HS256"))
    assert keys[0] is not keys[1]
    with pytest.raises(ConfigurationError):
        Verifier(secrets=[old], token_checks=["not callable"])  # type: ignore[list-item]


def test_token_checks_get_the_key_that_verified_without_a_second_key_look_up() -> None:
    # A rotation between the signature check and the token checks must not change (or lose) the key
    # the checks see: it comes from the plan the signature was checked with.
    old, new = _secrets.token_bytes(32), _secrets.token_bytes(32)
    seen: list[Any] = []
    verifier = Verifier(secrets=[old, new], token_checks=[lambda h, c, k: seen.append(k) is None])
    verifier.verify(jwt.encode({"exp": time.time() + 60}, new, "HS256"))  # the header's plan is made

    def rotated(header: Any) -> Any:
        raise AssertionError("token checks looked the keys up again")

    verifier._keys.keys_for = rotated  # type: ignore[method-assign]
    token = jwt.encode({"exp": time.time() + 60, "n": 1}, old, "HS256")
    assert verifier.verify(token)["n"] == 1
    assert seen[1] is not seen[0]
    signing_input, _, signature = token.rpartition(".")
    assert seen[1].verify("HS256", signing_input.encode(), jwt.utils.base64url_decode(signature))


def test_a_token_check_mutating_a_nested_header_member_leaves_the_next_tokens_header_alone() -> None:
    # The parsed header is cached per header segment and shared: a shallow copy let a check's change to
    # a list or object inside it reach every later token with the same header.
    seen: list[Any] = []

    def meddle(header: Any, claims: Any, key: Any) -> bool:
        seen.append((list(header["x5c"]), dict(header["ctx"])))
        header["x5c"].append("injected")
        header["ctx"]["tenant"] = "evil"
        return True

    verifier = Verifier(secrets=SECRET, token_checks=[meddle])
    headers = {"x5c": ["cert"], "ctx": {"tenant": "acme"}}
    for n in range(2):  # one header segment: the second token's header comes from the cache
        verifier.verify(jwt.encode({"exp": time.time() + 60, "n": n}, SECRET, "HS256", headers=headers))
    assert seen == [(["cert"], {"tenant": "acme"})] * 2


def test_a_check_that_cannot_take_its_arguments_is_refused_at_construction() -> None:
    # A claim check among token_checks (or the reverse) raised TypeError on every call, which reads as a
    # refusal: every valid token got a 401, and nothing said the configuration was wrong.
    def tenant_is_acme(claims: Any) -> bool:
        return True

    def with_key(header: Any, claims: Any, key: Any) -> bool:
        return True

    with pytest.raises(ConfigurationError, match=r"check\(header, claims, key\)"):
        Verifier(secrets=SECRET, token_checks=[tenant_is_acme])
    with pytest.raises(ConfigurationError, match=r"check\(claims\)"):
        Verifier(secrets=SECRET, claim_checks=[with_key])
    # What can take the arguments is accepted: defaults, *args, bound methods, callables without a
    # signature (builtins).
    accepted = Verifier(secrets=SECRET, claim_checks=[bool, lambda c, strict=True: True],
                        token_checks=[lambda *args: True, lambda h, c, k=None, **kw: True])
    assert accepted.verify(_hs(sub="alice"))["sub"] == "alice"
