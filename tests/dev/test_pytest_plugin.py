"""The pytest plugin: its fixtures verify for real, and tests using them stay isolated (also under xdist).

The fixtures are used directly here (the plugin is loaded through its entry point, as for a user), and
user-style test files are run with ``pytester`` to prove what happens between tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.metadata import entry_points
from typing import Any

import pytest

from serverless_jwt.adapters.decorators import require_auth, require_role, require_scope
from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer
from serverless_jwt.dev.pytest_plugin import Tokens
from serverless_jwt.errors import (
    AuthError,
    InvalidClaimError,
    InvalidSignatureError,
    MalformedTokenError,
    TokenExpiredError,
)
from serverless_jwt.verifier import Verifier

pytest_plugins = ["pytester"]


def _verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, algorithms=["RS256", "ES256"])


def test_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("serverless_jwt") == "serverless_jwt.dev.pytest_plugin"


def test_loading_the_plugin_imports_no_crypto_and_no_issuer() -> None:
    # Every pytest run in an environment with the package loads the plugin; it must cost nothing.
    heavy = "('cryptography', 'jwt', 'serverless_jwt.dev.issuer')"
    code = ("import sys, serverless_jwt.dev.pytest_plugin; "
            f"print(sorted(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_jwt_issuer_serves_rsa_and_ec_keys_on_loopback(jwt_issuer: DevIssuer) -> None:
    assert jwt_issuer.issuer.startswith("http://127.0.0.1:")
    assert {key["kty"] for key in jwt_issuer.jwks()["keys"]} == {"RSA", "EC"}


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_valid_tokens_verify_with_the_given_claims(
    jwt_tokens: Tokens, jwt_issuer: DevIssuer, alg: str
) -> None:
    claims = _verifier(jwt_issuer).verify(jwt_tokens.valid(alg=alg, sub="alice", email="a@example.com"))
    assert (claims["sub"], claims["email"], claims["iss"]) == ("alice", "a@example.com", jwt_issuer.issuer)
    assert claims["aud"] == jwt_issuer.audience


def test_valid_token_claim_set_to_none_is_left_out(jwt_tokens: Tokens, jwt_issuer: DevIssuer) -> None:
    claims = _verifier(jwt_issuer).verify(jwt_tokens.valid(sub=None))
    assert "sub" not in claims


@pytest.mark.parametrize(("make", "error", "claim"), [
    ("expired", TokenExpiredError, None),
    ("not_yet_valid", InvalidClaimError, "nbf"),
    ("wrong_audience", InvalidClaimError, "aud"),
    ("wrong_issuer", InvalidClaimError, "iss"),
    ("tampered", InvalidSignatureError, None),
    ("foreign_key", InvalidSignatureError, None),
    ("unsigned", MalformedTokenError, None),
])
@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_each_bad_token_is_rejected_for_its_own_reason(
    jwt_tokens: Tokens, jwt_issuer: DevIssuer, make: str, error: type[AuthError], claim: str | None, alg: str
) -> None:
    token = getattr(jwt_tokens, make)() if make == "unsigned" else getattr(jwt_tokens, make)(alg=alg)
    with pytest.raises(error) as info:
        _verifier(jwt_issuer).verify(token)
    assert type(info.value) is error
    assert getattr(info.value, "claim", None) == claim


def test_scopes_and_roles_reach_the_authorization_checks(
    jwt_tokens: Tokens, jwt_env: DevIssuer, jwt_lambda_event: Any, jwt_lambda_context: Any
) -> None:
    @require_auth(Verifier.from_env())
    @require_scope("shows:write")
    @require_role("editor")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    def status(token: str) -> int:
        result: int = handler(jwt_lambda_event("http_v2", token=token), jwt_lambda_context)["statusCode"]
        return result

    assert status(jwt_tokens.with_scopes("shows:write", sub="x")) == 403  # no role
    assert status(jwt_tokens.with_roles("editor")) == 403  # no scope
    assert status(jwt_tokens.with_roles("editor", scope="shows:read shows:write")) == 200


def test_scopes_and_roles_given_as_one_list_are_its_members(
        jwt_tokens: Tokens, jwt_issuer: DevIssuer) -> None:
    claims = _verifier(jwt_issuer).verify(jwt_tokens.with_scopes(["read", "write"], "admin"))
    assert claims["scope"] == "read write admin"
    claims = _verifier(jwt_issuer).verify(jwt_tokens.with_roles(["editor", "viewer"]))
    assert claims["app_metadata"]["authorization"]["roles"] == ["editor", "viewer"]


def test_valid_tokens_take_their_lifetime_instead_of_signing_it_as_a_claim(
        jwt_tokens: Tokens, jwt_issuer: DevIssuer) -> None:
    for token in (jwt_tokens.valid(lifetime_seconds=90), jwt_tokens.with_scopes("a", lifetime_seconds=90),
                  jwt_tokens.with_roles("r", lifetime_seconds=90)):
        claims = _verifier(jwt_issuer).verify(token)
        assert claims["exp"] - claims["iat"] == 90
        assert "lifetime_seconds" not in claims


def test_with_roles_also_writes_the_configured_claim(jwt_issuer: DevIssuer) -> None:
    claims = _verifier(jwt_issuer).verify(Tokens(jwt_issuer, roles_claim="cognito:groups").with_roles("a"))
    assert claims["cognito:groups"] == ["a"]
    assert claims["app_metadata"]["authorization"]["roles"] == ["a"]


def test_mint_token_is_the_issuers_mint(jwt_mint_token: Any, jwt_issuer: DevIssuer) -> None:
    claims = _verifier(jwt_issuer).verify(jwt_mint_token(sub="bob", scopes=["read"], lifetime_seconds=120))
    assert claims["scope"] == "read"
    assert claims["exp"] - claims["iat"] == 120


def test_sign_in_gives_the_browsers_tokens_with_the_same_defaults_as_minting(
        jwt_sign_in: Any, jwt_issuer: DevIssuer, jwt_tokens: Tokens) -> None:
    tokens = jwt_sign_in(scopes=["openid", "read:shows"], roles=["admin"], claims={"tier": 2})
    signed_in = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience,
                         require_access_token_type=True).verify(tokens["access_token"])
    minted = _verifier(jwt_issuer).verify(jwt_tokens.valid())
    assert signed_in["sub"] == minted["sub"] == "dev-user"
    assert signed_in["aud"] == minted["aud"] == jwt_issuer.audience
    assert signed_in["scope"] == "openid read:shows"
    assert signed_in["roles"] == ["admin"]
    assert signed_in["tier"] == 2
    assert "id_token" in tokens


def test_jwt_env_points_from_env_at_the_issuer_and_hides_other_settings(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    monkeypatch.setenv("JWT_LEEWAY_SECONDS", "0")
    issuer: DevIssuer = request.getfixturevalue("jwt_env")
    assert os.environ["JWT_ISSUER"] == issuer.issuer
    assert os.environ["JWT_AUDIENCE"] == issuer.audience
    assert "JWT_SECRET" not in os.environ
    assert "JWT_LEEWAY_SECONDS" not in os.environ
    assert Verifier.from_env().verify(Tokens(issuer).valid(alg="ES256"))["sub"] == "dev-user"


@pytest.mark.parametrize("alg", ["PS256", "RS512", "ES384", "EdDSA"])
def test_jwt_env_accepts_an_algorithm_the_issuer_rotated_to(
    jwt_env: DevIssuer, jwt_tokens: Tokens, alg: str
) -> None:
    # Tokens tells users to sign with other algorithms after jwt_issuer.rotate(alg=...); jwt_env's
    # JWT_ALGORITHMS once named only RS256 and ES256, so from_env() refused those tokens.
    jwt_env.rotate(alg=alg)
    assert Verifier.from_env().verify(jwt_tokens.valid(alg=alg, sub="rotated"))["sub"] == "rotated"


def test_lambda_context_stand_in(jwt_lambda_context: Any) -> None:
    assert jwt_lambda_context.function_name == "test-function"
    assert jwt_lambda_context.invoked_function_arn.endswith(":function:test-function")
    assert jwt_lambda_context.memory_limit_in_mb == "128"  # text, as in Lambda
    assert jwt_lambda_context.aws_request_id
    assert 0 < jwt_lambda_context.get_remaining_time_in_millis() <= 3000
    assert jwt_lambda_context.identity_context is None


@pytest.mark.parametrize("kind", ["rest_v1", "http_v2", "alb", "function_url"])
def test_decorated_handler_through_each_event_kind(
    kind: str, jwt_tokens: Tokens, jwt_env: DevIssuer, jwt_lambda_event: Any, jwt_lambda_context: Any
) -> None:
    @require_auth(Verifier.from_env(), cookie_name="nf_jwt")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    ok = handler(jwt_lambda_event(kind, path="/me", token=jwt_tokens.valid(sub="alice")), jwt_lambda_context)
    assert (ok["statusCode"], ok["body"]) == (200, "alice")
    assert jwt_lambda_context.identity_context.subject == "alice"
    cookie = {"nf_jwt": jwt_tokens.valid(sub="carol")}
    by_cookie = handler(jwt_lambda_event(kind, cookie=cookie), jwt_lambda_context)
    assert by_cookie["body"] == "carol"
    expired = jwt_lambda_event(kind, token=jwt_tokens.expired())
    assert handler(expired, jwt_lambda_context)["statusCode"] == 401
    assert jwt_lambda_context.identity_context is None


# -- isolation between tests, proved by running user-style test files ------------------------------

ISOLATION = '''
import os
from serverless_jwt.dev.issuer import JWKS_PATH
from serverless_jwt.verifier import Verifier

seen = {}

def test_a_changes_everything(jwt_env, jwt_tokens):
    seen["url"], seen["kid"] = jwt_env.issuer, jwt_env.kid()
    assert Verifier.from_env().verify(jwt_tokens.valid())
    assert jwt_env.requests[JWKS_PATH] == 1
    jwt_env.rotate()
    jwt_env.fault = "503"
    jwt_env.retry_after = None
    jwt_env.audience = "changed"
    jwt_env.extra_jwks_keys.append({"kty": "oct", "kid": "junk"})
    jwt_env.discovery_overrides["issuer"] = "https://elsewhere.example"

def test_b_starts_clean(jwt_issuer, jwt_tokens):
    assert "JWT_ISSUER" not in os.environ
    assert jwt_issuer.issuer == seen["url"]  # one server per session
    assert jwt_issuer.kid() == seen["kid"]
    assert jwt_issuer.fault is None
    assert jwt_issuer.retry_after == "120"
    assert jwt_issuer.audience == "serverless-jwt-dev"
    assert not jwt_issuer.extra_jwks_keys and not jwt_issuer.discovery_overrides
    assert jwt_issuer.requests[JWKS_PATH] == 0
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    assert verifier.verify(jwt_tokens.valid())["sub"] == "dev-user"
    # The JWKS cache of test_a was cleared: this verifier fetched again.
    assert jwt_issuer.requests[JWKS_PATH] == 1

def test_c_stops_the_server(jwt_issuer):
    seen["url"] = jwt_issuer.issuer
    jwt_issuer.stop()

def test_d_gets_a_running_server(jwt_issuer, jwt_tokens):
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    assert verifier.verify(jwt_tokens.valid())["sub"] == "dev-user"
'''


def test_state_changed_by_one_test_never_reaches_the_next(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=ISOLATION)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=4)


AT_IMPORT = '''
import importlib
import os

import pytest

@pytest.fixture
def handler(jwt_env):
    return importlib.import_module("handler_built_at_import").handler

def call(handler, jwt_lambda_event, jwt_lambda_context, token):
    return handler(jwt_lambda_event("http_v2", token=token), jwt_lambda_context)["statusCode"]

def test_a_rotates_and_sets_variables(handler, jwt_issuer, jwt_tokens, jwt_lambda_event,
                                      jwt_lambda_context):
    assert call(handler, jwt_lambda_event, jwt_lambda_context, jwt_tokens.valid()) == 200
    jwt_issuer.rotate()
    assert call(handler, jwt_lambda_event, jwt_lambda_context, jwt_tokens.valid()) == 200
    os.environ["JWT_LEEWAY_SECONDS"] = "0"
    del os.environ["JWT_ALGORITHMS"]

def test_b_after_a_rotation(handler, jwt_tokens, jwt_lambda_event, jwt_lambda_context):
    assert call(handler, jwt_lambda_event, jwt_lambda_context, jwt_tokens.valid()) == 200

def test_b2_stop_and_start_keep_the_address(handler, jwt_issuer, jwt_tokens, jwt_lambda_event,
                                            jwt_lambda_context):
    url = jwt_issuer.issuer
    jwt_issuer.stop()
    assert jwt_issuer.start().issuer == url
    assert call(handler, jwt_lambda_event, jwt_lambda_context, jwt_tokens.valid()) == 200

def test_c_outage(handler, jwt_issuer, jwt_tokens, jwt_lambda_event, jwt_lambda_context):
    jwt_issuer.fault = "429"
    assert call(handler, jwt_lambda_event, jwt_lambda_context, jwt_tokens.valid()) == 503
    jwt_issuer.stop()

def test_d_after_an_outage_and_a_stop(handler, jwt_tokens, jwt_lambda_event, jwt_lambda_context):
    assert call(handler, jwt_lambda_event, jwt_lambda_context, jwt_tokens.valid()) == 200

def test_e_environment_as_before():
    assert not [name for name in os.environ if name.startswith("JWT_")]
'''


def test_a_handler_verifier_built_at_import_starts_every_test_afresh(pytester: pytest.Pytester) -> None:
    # `verifier = Verifier.from_env()` in the user's module outlives each test: a rotation, an outage
    # (Retry-After), a stopped (or restarted) server or a JWT_* set through os.environ in one test must not
    # reach the next.
    pytester.makepyfile(handler_built_at_import='''
from serverless_jwt import Verifier, require_auth

verifier = Verifier.from_env()

@require_auth(verifier)
def handler(event, context):
    return {"statusCode": 200, "body": context.identity_context.subject}
''', test_user=AT_IMPORT)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=6)


def test_tests_using_only_the_event_and_context_fixtures_start_with_empty_key_caches(
        pytester: pytest.Pytester) -> None:
    # The docstring promised it for every jwt_* fixture; the event and context ones cleared nothing.
    pytester.makeconftest('''
import pytest
from serverless_jwt.dev.issuer import DevIssuer

@pytest.fixture(scope="session")
def own_issuer():
    with DevIssuer() as issuer:
        yield issuer
''')
    pytester.makepyfile(test_user='''
from serverless_jwt import Verifier, require_auth

verifiers = {}

def handler(own_issuer):
    if "v" not in verifiers:
        verifiers["v"] = Verifier(issuer=own_issuer.issuer, audience=own_issuer.audience,
                                  unknown_kid_cooldown_seconds=300)
    return require_auth(verifiers["v"])(lambda event, context: {"statusCode": 200})

def test_a_rotates(own_issuer, jwt_lambda_event, jwt_lambda_context):
    assert handler(own_issuer)(jwt_lambda_event("alb", token=own_issuer.mint()), jwt_lambda_context)[
        "statusCode"] == 200
    own_issuer.rotate()
    assert handler(own_issuer)(jwt_lambda_event("alb", token=own_issuer.mint()), jwt_lambda_context)[
        "statusCode"] == 200  # the unknown kid's refetch: no other for 300 s
    own_issuer.rotate()

def test_b_sees_the_new_key(own_issuer, jwt_lambda_event, jwt_lambda_context):
    assert handler(own_issuer)(jwt_lambda_event("alb", token=own_issuer.mint()), jwt_lambda_context)[
        "statusCode"] == 200
''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


USER_SUITE = '''
import pytest
from serverless_jwt import require_auth, Verifier

@pytest.fixture
def handler(jwt_env):
    @require_auth(Verifier.from_env())
    def handle(event, context):
        return {"statusCode": 200, "body": context.identity_context.subject}
    return handle

@pytest.mark.parametrize("n", range(6))
@pytest.mark.parametrize("kind", ["rest_v1", "http_v2", "alb", "function_url"])
def test_me(handler, jwt_tokens, jwt_lambda_event, jwt_lambda_context, kind, n):
    event = jwt_lambda_event(kind, path="/me", token=jwt_tokens.valid(sub=f"user{n}"))
    ok = handler(event, jwt_lambda_context)
    assert ok == {"statusCode": 200, "body": f"user{n}"}
    t = jwt_tokens
    for bad in (t.expired(), t.wrong_audience(), t.tampered(), t.foreign_key()):
        assert handler(jwt_lambda_event(kind, token=bad), jwt_lambda_context)["statusCode"] == 401
'''


def test_user_suite_passes_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=24)


def test_a_user_test_sees_a_rejection_as_a_failure(pytester: pytest.Pytester) -> None:
    # The plugin must not make broken handlers look fine: a handler accepting everything fails.
    pytester.makepyfile(test_user='''
def handler(event, context):
    return {"statusCode": 200}

def test_expired_is_rejected(jwt_tokens, jwt_lambda_event, jwt_lambda_context):
    event = jwt_lambda_event("http_v2", token=jwt_tokens.expired())
    assert handler(event, jwt_lambda_context)["statusCode"] == 401
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)


def test_session_issuer_is_stopped_at_session_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user='''
def test_one(jwt_issuer):
    print("JWKS_URI=" + jwt_issuer.jwks_uri)
''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    url = next(line.split("=", 1)[1] for line in result.outlines if "JWKS_URI=" in line).rstrip(".")
    assert url.endswith(JWKS_PATH)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback


def test_a_projects_own_fixtures_of_common_names_are_untouched(pytester: pytest.Pytester) -> None:
    # A user's conftest with tokens / lambda_event / lambda_context must keep its own meaning, and tests
    # that use none of ours run no fixture of the plugin (no autouse).
    pytester.makeconftest('''
import pytest

@pytest.fixture
def tokens():
    return ["a", "b"]

@pytest.fixture
def lambda_event():
    return {"mine": True}

@pytest.fixture
def lambda_context():
    return "ctx"
''')
    pytester.makepyfile(test_user='''
def test_own(request, tokens, lambda_event, lambda_context):
    assert (tokens, lambda_event, lambda_context) == (["a", "b"], {"mine": True}, "ctx")
    assert not any(name.startswith("_serverless_jwt") for name in request.fixturenames)

def test_ours_alongside(jwt_tokens, jwt_lambda_event, tokens):
    assert tokens == ["a", "b"]
    event = jwt_lambda_event("http_v2", token=jwt_tokens.valid())
    assert event["headers"]["authorization"].startswith("Bearer ")
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_an_hs_token_from_jwt_tokens_says_how_to_mint_one(jwt_tokens: Tokens) -> None:
    with pytest.raises(ValueError, match="jwt_mint_token"):
        jwt_tokens.valid(alg="HS256")
    with pytest.raises(ValueError, match="JWT_SECRET"):
        jwt_tokens.foreign_key(alg="hs384")


FROM_ENV_SUITE = '''
from serverless_jwt import Verifier

def test_from_env_verifies(jwt_env, jwt_tokens):
    assert Verifier.from_env().verify(jwt_tokens.valid(sub="alice"))["sub"] == "alice"
'''


@pytest.mark.parametrize(("options", "autoload"),
                         [((), True), (("-p", "no:serverless_jwt"), True), ((), False)],
                         ids=["autoloaded-too", "entry-point-disabled", "autoloading-off"])
def test_a_conftest_naming_the_plugin_in_pytest_plugins_loads_it_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...], autoload: bool
) -> None:
    # Projects list their plugins in conftest.py; with autoloading on, that line once stopped pytest
    # with "Plugin already registered under a different name" (and a dump of every plugin).
    if not autoload:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest('pytest_plugins = ["serverless_jwt.dev.pytest_plugin"]\n')
    pytester.makepyfile(test_user=FROM_ENV_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *options)
    result.assert_outcomes(passed=1)
    assert "already registered" not in result.stdout.str() + result.stderr.str()


def test_loading_the_plugin_module_with_dash_p_besides_autoloading_loads_it_once(
    pytester: pytest.Pytester,
) -> None:
    # `-p serverless_jwt.dev.pytest_plugin` (on the command line or in addopts) registers the module
    # before the entry points load; loading the entry point then stopped pytest the same way.
    pytester.makeini("[pytest]\naddopts = -p serverless_jwt.dev.pytest_plugin\n")
    pytester.makepyfile(test_user=FROM_ENV_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "already registered" not in result.stdout.str() + result.stderr.str()
