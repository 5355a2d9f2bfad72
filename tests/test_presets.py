"""Provider presets with tokens shaped like each provider's, signed by the loopback issuer."""

from __future__ import annotations

import base64
import json
import secrets
import time
import types
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import HMACAlgorithm

from serverless_jwt import presets
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidClaimError,
    InvalidSignatureError,
    InvalidTokenError,
    KeysUnavailableError,
    MalformedTokenError,
    TokenExpiredError,
)

POOL = "eu-west-1_AbCdEf123"
COGNITO_ISS = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"


def _call(handler: Any, headers: Mapping[str, str] | None = None,
          cookies: list[str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"version": "2.0", "headers": dict(headers or {}),
                             "requestContext": {"http": {"method": "GET"}}}
    if cookies:
        event["cookies"] = cookies
    result: dict[str, Any] = handler(event, types.SimpleNamespace())
    return result


def _roles_handler(preset: presets.Preset, **options: Any) -> Any:
    @preset.require_auth(**options)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        identity = context.identity_context
        return {"statusCode": 200, "sub": identity.subject, "roles": sorted(identity.roles),
                "scopes": sorted(identity.scopes), "claims": dict(identity.claims),
                "client_id": identity.client_id}

    return handler


# -- Cognito -------------------------------------------------------------------------------------

def _cognito(issuer: DevIssuer, **kw: Any) -> presets.Preset:
    return presets.cognito("eu-west-1", POOL, client_ids=["app-client-1"], jwks_uri=issuer.jwks_uri, **kw)


def _cognito_access(issuer: DevIssuer, **claims: Any) -> str:
    shaped = {"token_use": "access", "client_id": "app-client-1", "cognito:groups": ["admins"],
              "username": "alice", **claims}
    return issuer.mint(sub="uuid-1", issuer=COGNITO_ISS, audience=None, scopes=["shows/read"], claims=shaped)


def test_cognito_access_token_with_groups_as_roles(issuer: DevIssuer) -> None:
    handler = _roles_handler(_cognito(issuer), roles=["admins"], scopes=["shows/read"])
    response = _call(handler, {"authorization": f"Bearer {_cognito_access(issuer)}"})
    assert response["statusCode"] == 200
    assert response["roles"] == ["admins"]
    assert response["sub"] == "uuid-1"


def test_cognito_rejects_id_token_where_access_token_expected(issuer: DevIssuer) -> None:
    token = _cognito_access(issuer, token_use="id", client_id=None)
    with pytest.raises(InvalidClaimError) as err:
        _cognito(issuer).verify(token)
    assert (err.value.claim, err.value.reason) == ("token_use", "check_failed")


def test_cognito_rejects_missing_token_use(issuer: DevIssuer) -> None:
    with pytest.raises(InvalidClaimError) as err:
        _cognito(issuer).verify(_cognito_access(issuer, token_use=None))
    assert (err.value.claim, err.value.reason) == ("token_use", "missing")


def test_cognito_rejects_access_token_of_another_client(issuer: DevIssuer) -> None:
    with pytest.raises(InvalidClaimError) as err:
        _cognito(issuer).verify(_cognito_access(issuer, client_id="other-client"))
    assert err.value.claim == "client_id"
    assert "other-client" not in str(err.value)


def test_cognito_id_token_checks_aud_not_client_id(issuer: DevIssuer) -> None:
    preset = _cognito(issuer, token_use="id")
    id_token = issuer.mint(issuer=COGNITO_ISS, audience="app-client-1",
                           claims={"token_use": "id", "email": "a@example.com"})
    assert preset.verify(id_token)["email"] == "a@example.com"
    with pytest.raises(InvalidClaimError) as err:
        preset.verify(issuer.mint(issuer=COGNITO_ISS, audience="other-client", claims={"token_use": "id"}))
    assert err.value.claim == "aud"
    with pytest.raises(InvalidClaimError) as err:
        preset.verify(_cognito_access(issuer))  # an access token has no aud
    assert err.value.claim in ("aud", "token_use")


def test_cognito_rejects_other_pool(issuer: DevIssuer) -> None:
    token = _cognito_access(issuer)
    other = presets.cognito("eu-west-1", "eu-west-1_Other", client_ids=["app-client-1"],
                            jwks_uri=issuer.jwks_uri)
    with pytest.raises(InvalidClaimError) as err:
        other.verify(token)
    assert err.value.claim == "iss"


@pytest.mark.parametrize(("region", "issuer"), [
    ("cn-north-1", "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_X1"),
    ("us-gov-west-1", "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_X1"),
    ("eusc-de-east-1", "https://cognito-idp.eusc-de-east-1.amazonaws.eu/eusc-de-east-1_X1"),  # was refused
])
def test_cognito_issuer_per_partition(region: str, issuer: str) -> None:
    preset = presets.cognito(region, f"{region}_X1", client_ids="c")
    assert preset.verifier.issuer == issuer


def test_cognito_pool_with_the_updated_issuer_accepts_its_tokens_and_not_the_original_hosts(
        issuer: DevIssuer) -> None:
    # IssuerConfiguration Type UPDATED (multi-Region replication): tokens say issuer-cognito-idp.
    updated = f"https://issuer-cognito-idp.eu-west-1.amazonaws.com/{POOL}"
    preset = _cognito(issuer, issuer_type="updated")
    assert preset.verifier.issuer == updated
    assert preset.verify(_cognito_access(issuer, iss=updated))["sub"] == "uuid-1"
    with pytest.raises(InvalidClaimError) as info:
        preset.verify(_cognito_access(issuer))  # the original host: another issuer
    assert info.value.claim == "iss"
    assert _cognito(issuer).verify(_cognito_access(issuer))["sub"] == "uuid-1"  # the default is unchanged
    with pytest.raises(ConfigurationError, match="issuer_type"):
        _cognito(issuer, issuer_type="multi-region")


@pytest.mark.parametrize("kwargs", [
    {"region": "eu-west-1", "user_pool_id": "us-east-1_X1", "client_ids": ["c"]},
    {"region": "EU", "user_pool_id": "EU_X1", "client_ids": ["c"]},
    {"region": "eu-west-1", "user_pool_id": "eu-west-1_X1", "client_ids": []},
    {"region": "eu-west-1", "user_pool_id": "eu-west-1_X1", "client_ids": ["c"], "token_use": "refresh"},
])
def test_cognito_configuration_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        presets.cognito(**kwargs)


def test_cognito_access_audience_with_accept_any_audience_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="accept_any_audience=True cannot be combined with audience"):
        presets.cognito(region="eu-west-1", user_pool_id="eu-west-1_X1", client_ids=["c"],
                        audience="https://api.example.com", accept_any_audience=True)


# -- Auth0 ---------------------------------------------------------------------------------------

def test_auth0_permissions_and_namespaced_roles(issuer: DevIssuer) -> None:
    ns = "https://shows.example.com/"
    preset = presets.auth0("tenant.eu.auth0.com", "https://api.example.com", namespace=ns,
                           jwks_uri=issuer.jwks_uri)
    token = issuer.mint(sub="auth0|42", issuer="https://tenant.eu.auth0.com/",
                        audience=["https://api.example.com", "https://tenant.eu.auth0.com/userinfo"],
                        claims={"permissions": ["read:shows"], "azp": "spa", f"{ns}roles": ["editor"],
                                f"{ns}sub": "shadow"})
    response = _call(_roles_handler(preset, roles=["editor"], scopes=["read:shows"]),
                     {"authorization": f"Bearer {token}"})
    assert response["statusCode"] == 200
    assert response["roles"] == ["editor"]
    assert response["sub"] == "auth0|42"  # a namespaced claim never shadows the issuer's own


def test_auth0_namespace_as_auth0s_examples_write_it(issuer: DevIssuer) -> None:
    # `const namespace = 'https://shows.example.com'` and `${namespace}/roles`: no final slash given.
    preset = presets.auth0("tenant.eu.auth0.com", "https://api.example.com",
                           namespace="https://shows.example.com", jwks_uri=issuer.jwks_uri)
    token = issuer.mint(issuer="https://tenant.eu.auth0.com/", audience="https://api.example.com",
                        claims={"https://shows.example.com/roles": ["editor"]})
    response = _call(_roles_handler(preset, roles=["editor"]), {"authorization": f"Bearer {token}"})
    assert response["statusCode"] == 200
    assert response["roles"] == ["editor"]


@pytest.mark.parametrize("namespace", ["urn:shows:", "https://shows.example.com/claims#", "shows_"])
def test_auth0_namespace_ending_in_its_own_separator_is_kept(issuer: DevIssuer, namespace: str) -> None:
    preset = presets.auth0("tenant.eu.auth0.com", "https://api.example.com", namespace=namespace,
                           jwks_uri=issuer.jwks_uri)
    token = issuer.mint(issuer="https://tenant.eu.auth0.com/", audience="https://api.example.com",
                        claims={f"{namespace}roles": ["editor"]})
    assert _call(_roles_handler(preset, roles=["editor"]), {"authorization": f"Bearer {token}"})["roles"] == [
        "editor"]


@pytest.mark.parametrize("namespace", [5, b"https://ex.com/", ["https://ex.com/"]])
def test_auth0_namespace_that_is_not_text_is_a_configuration_error(namespace: object) -> None:
    with pytest.raises(ConfigurationError, match="namespace must be"):
        presets.auth0("tenant.eu.auth0.com", "https://api.example.com", namespace=namespace)  # type: ignore[arg-type]


def test_auth0_issuer_needs_trailing_slash(issuer: DevIssuer) -> None:
    preset = presets.auth0("https://tenant.eu.auth0.com", "https://api.example.com", jwks_uri=issuer.jwks_uri)
    assert preset.verifier.issuer == "https://tenant.eu.auth0.com/"
    token = issuer.mint(issuer="https://tenant.eu.auth0.com", audience="https://api.example.com")
    with pytest.raises(InvalidClaimError):
        preset.verify(token)


def test_auth0_domain_case_and_an_hs256_api_secret(issuer: DevIssuer) -> None:
    # Host names are case-insensitive; the issuer Auth0 writes into tokens is the lower-case one.
    assert presets.auth0("Tenant.EU.Auth0.com", "api").verifier.issuer == "https://tenant.eu.auth0.com/"
    # An Auth0 API set to HS256: the secret is the key source, no JWKS is added beside it.
    secret = secrets.token_urlsafe(32)
    preset = presets.auth0("tenant.eu.auth0.com", "https://api.example.com", secrets=[secret],
                           algorithms=["HS256"])
    token = issuer.mint(alg="HS256", secret=secret, issuer="https://tenant.eu.auth0.com/",
                        audience="https://api.example.com", sub="hs")
    assert preset.verify(token)["sub"] == "hs"


# -- Okta ----------------------------------------------------------------------------------------

def test_okta_scp_and_cid(issuer: DevIssuer) -> None:
    preset = presets.okta("dev-1.okta.com", "api://default", client_ids=["0oa1"], jwks_uri=issuer.jwks_uri)
    claims = {"scp": ["shows.read", "openid"], "cid": "0oa1", "uid": "00u1",
              "groups": ["Everyone", "Sales Team"]}
    token = issuer.mint(issuer="https://dev-1.okta.com/oauth2/default", audience="api://default",
                        claims=claims)
    # Okta group names hold spaces; the client is named in `cid`.
    response = _call(_roles_handler(preset, scopes=["shows.read"], roles=["Everyone", "Sales Team"]),
                     {"authorization": f"Bearer {token}"})
    assert response["statusCode"] == 200
    assert response["client_id"] == "0oa1"
    bad = issuer.mint(issuer="https://dev-1.okta.com/oauth2/default", audience="api://default",
                      claims={**claims, "cid": "0oa-other"})
    with pytest.raises(InvalidClaimError) as err:
        preset.verify(bad)
    assert err.value.claim == "cid"


def test_okta_custom_and_org_servers() -> None:
    assert presets.okta("acme.okta.com", "api://x", authorization_server="aus1").verifier.issuer == (
        "https://acme.okta.com/oauth2/aus1")
    assert presets.okta("acme.okta.com", "api://x", authorization_server=None).verifier.issuer == (
        "https://acme.okta.com")
    with pytest.raises(ConfigurationError):
        presets.okta("acme.okta.com", "api://x", authorization_server="../evil")


# -- Netlify -------------------------------------------------------------------------------------

def test_netlify_cookie_and_roles(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    preset = presets.netlify(secret)
    token = issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None, sub="nf-user",
                        roles=["member"])
    handler = _roles_handler(preset, roles=["member"])
    assert _call(handler, cookies=[f"nf_jwt={token}"])["statusCode"] == 200
    assert _call(handler, {"authorization": f"Bearer {token}"})["statusCode"] == 200
    forged = issuer.mint(alg="HS256", secret=secrets.token_urlsafe(32), issuer=None, roles=["member"])
    with pytest.raises(InvalidSignatureError):
        preset.verify(forged)


def test_netlify_reads_secret_from_environment(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    monkeypatch.setenv("JWT_SECRET", new)
    monkeypatch.setenv("JWT_SECRET_PREVIOUS", old)
    preset = presets.netlify()
    for secret in (old, new):
        assert preset.verify(issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None))[
            "sub"] == "dev-user"
    monkeypatch.delenv("JWT_SECRET")
    with pytest.raises(ConfigurationError):
        presets.netlify()


# -- Authgear / generic OIDC ---------------------------------------------------------------------

def test_authgear_discovery_and_auth_time_max_age(issuer: DevIssuer) -> None:
    now = time.time()
    preset = presets.authgear(issuer.issuer, max_age_seconds=300, leeway_seconds=0, clock=lambda: now)
    fresh = issuer.mint(audience=issuer.issuer, claims={"auth_time": int(now) - 10}, now=now)
    assert preset.verify(fresh)["auth_time"] == int(now) - 10
    stale = issuer.mint(audience=issuer.issuer, claims={"auth_time": int(now) - 3600}, now=now)
    with pytest.raises(InvalidClaimError) as err:
        preset.verify(stale)
    assert err.value.claim == "auth_time"
    assert issuer.requests["/.well-known/openid-configuration"] == 1


def test_authgear_endpoint_typed_in_mixed_case_is_the_issuer_authgear_writes() -> None:
    preset = presets.authgear("HTTPS://MyApp.Authgear.Cloud/")
    assert preset.verifier.issuer == "https://myapp.authgear.cloud"


def test_oidc_preset_expiry_and_roles_claim(issuer: DevIssuer) -> None:
    preset = presets.oidc(issuer.issuer, issuer.audience, roles_claim="realm_access.roles", leeway_seconds=0)
    token = issuer.mint(claims={"realm_access": {"roles": ["ops"]}})
    assert _call(_roles_handler(preset, roles=["ops"]),
                 {"authorization": f"Bearer {token}"})["statusCode"] == 200
    expired = issuer.mint(now=time.time() - 7200, lifetime_seconds=60)
    with pytest.raises(TokenExpiredError):
        preset.verify(expired)
    response = _call(_roles_handler(preset), {"authorization": f"Bearer {expired}"})
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "invalid_token"


def test_oidc_preset_reads_rfc9068_roles_by_default(issuer: DevIssuer) -> None:
    preset = presets.oidc(issuer.issuer, issuer.audience)
    admin = issuer.mint(claims={"roles": ["admin"]})
    netlify_style = issuer.mint(claims={"app_metadata": {"authorization": {"roles": ["admin"]}}})
    assert _call(_roles_handler(preset, roles=["admin"]), {"authorization": f"Bearer {admin}"})[
        "statusCode"] == 200
    assert _call(_roles_handler(preset, roles=["admin"]), {"authorization": f"Bearer {netlify_style}"})[
        "statusCode"] == 403


# -- GoTrue audiences: Netlify Identity (no aud) and Supabase ("authenticated") ------------------------
# netlify/gotrue api/token.go: generateAccessToken puts user.Aud in the standard claims, which
# dgrijalva/jwt-go omits when empty (Netlify's hosted Identity); Supabase Auth sets GOTRUE_JWT_AUD to
# "authenticated" and iss to https://<ref>.supabase.co/auth/v1.


def test_netlify_accepts_its_aud_less_tokens_and_refuses_a_token_meant_for_someone(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    preset = presets.netlify(secret)
    assert preset.verify(issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None))["sub"]
    with pytest.raises(InvalidClaimError) as info:
        preset.verify(issuer.mint(alg="HS256", secret=secret, issuer=None, audience="another-api"))
    assert (info.value.claim, info.value.reason) == ("aud", "check_failed")
    gotrue = presets.netlify(secret, audience="my-gotrue")  # self-hosted GoTrue with GOTRUE_JWT_AUD
    assert gotrue.verify(issuer.mint(alg="HS256", secret=secret, issuer=None, audience="my-gotrue"))["sub"]


def test_netlify_from_the_environment_reads_jwt_audience(issuer: DevIssuer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    secret = secrets.token_urlsafe(32)
    monkeypatch.setenv("JWT_SECRET", secret)
    monkeypatch.setenv("JWT_AUDIENCE", "authenticated")
    token = issuer.mint(alg="HS256", secret=secret, issuer=None, audience="authenticated")
    assert presets.netlify().verify(token)["sub"] == "dev-user"


def test_netlify_from_the_environment_names_the_variables_of_an_any_audience_conflict(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As Verifier.from_env() names them; before, the message named Python arguments the user never wrote.
    monkeypatch.setenv("JWT_SECRET", secrets.token_urlsafe(32))
    monkeypatch.setenv("JWT_AUDIENCE", "api")
    monkeypatch.setenv("JWT_ACCEPT_ANY_AUDIENCE", "true")
    with pytest.raises(ConfigurationError, match=r"^JWT_ACCEPT_ANY_AUDIENCE=true cannot be combined with "
                       r"JWT_AUDIENCE \(template parameter JwtAudience\)"):
        presets.netlify()
    with pytest.raises(ConfigurationError, match=r"^JWT_ACCEPT_ANY_AUDIENCE=true cannot be combined with "
                       r"audience,"):
        presets.netlify(audience="other")
    assert presets.netlify(accept_any_audience=False).verifier is not None  # the opt-out off: no conflict


def test_netlify_from_the_environment_reads_the_check_settings_too(issuer: DevIssuer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # JWT_LEEWAY_SECONDS=0 was ignored: a token 30 s past exp passed the default leeway.
    secret = secrets.token_urlsafe(32)
    monkeypatch.setenv("JWT_SECRET", secret)
    just_expired = issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None,
                               now=time.time() - 90, lifetime_seconds=60)
    assert presets.netlify().verify(just_expired)["sub"] == "dev-user"  # within the default 60 s
    monkeypatch.setenv("JWT_LEEWAY_SECONDS", "0")
    with pytest.raises(TokenExpiredError):
        presets.netlify().verify(just_expired)
    monkeypatch.setenv("JWT_REQUIRED_CLAIMS", "email")
    fresh = issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None)
    with pytest.raises(InvalidClaimError):
        presets.netlify().verify(fresh)
    monkeypatch.setenv("JWT_LEEWAY_SECONDS", "-5")  # an error names the variable that was set
    with pytest.raises(ConfigurationError, match=r"^JWT_LEEWAY_SECONDS must be"):
        presets.netlify()
    assert presets.netlify(leeway_seconds=5).verifier  # an argument wins over the variable
    monkeypatch.setenv("JWT_LEEWAY_SECONDS", "1e300")  # accepted, it let every expired token through
    with pytest.raises(ConfigurationError, match=r"^JWT_LEEWAY_SECONDS must be at most 300 \(5 minutes\)"):
        presets.netlify()
    with pytest.raises(ConfigurationError, match=r"^leeway_seconds must be at most 300"):
        presets.auth0("tenant.eu.auth0.com", "https://api.example.com", leeway_seconds=1e300)


def test_supabase_preset_checks_issuer_and_the_authenticated_audience(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    iss = "https://abcdefghijklmnopqrst.supabase.co/auth/v1"
    for project in ("abcdefghijklmnopqrst", "https://abcdefghijklmnopqrst.supabase.co/"):
        preset = presets.supabase(project, secret)
        token = issuer.mint(alg="HS256", secret=secret, issuer=iss, audience="authenticated")
        assert preset.verify(token)["sub"] == "dev-user"
    for bad in ({"audience": "anon"}, {"audience": None}, {"issuer": "https://other.supabase.co/auth/v1"}):
        with pytest.raises(InvalidClaimError):
            preset.verify(issuer.mint(alg="HS256", secret=secret,
                                      **{"issuer": iss, "audience": "authenticated", **bad}))
    assert presets.supabase("abcdefghijklmnopqrst").verifier.algorithms >= {"RS256", "ES256"}
    for project in ("", "UPPER", "https://evil.example/", "ab"):
        with pytest.raises(ConfigurationError):
            presets.supabase(project, secret)


REGION = "eu-west-1"


POOL_R = "eu-west-1_AbCdEf"


COGNITO_ISS_R = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_R}"


def _b64(data: dict[str, Any] | bytes, *, padded: bool = False) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")


def _hs_token(secret: str, header: dict[str, Any], payload: dict[str, Any], *, alg: str = "HS256") -> str:
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    digest = {"HS256": HMACAlgorithm.SHA256, "HS512": HMACAlgorithm.SHA512}[alg]
    return f"{signing_input}.{_b64(HMACAlgorithm(digest).sign(signing_input.encode(), secret.encode()))}"


def _cognito_token(issuer: DevIssuer, *, token_use: str, client: str = "client-a",
                   iss: str = COGNITO_ISS_R, extra: dict[str, Any] | None = None) -> str:
    # Shaped like Cognito's: access tokens name the app client in client_id (no aud), id tokens in aud.
    if token_use == "access":
        body = {"token_use": "access", "client_id": client, "scope": "aws.cognito.signin.user.admin",
                "cognito:groups": ["admins"], **(extra or {})}
        return issuer.mint(issuer=iss, audience=None, claims=body)
    body = {"token_use": "id", "email": "a@example.com", **(extra or {})}
    return issuer.mint(issuer=iss, audience=client, claims=body)


def test_cognito_access_preset_refuses_id_tokens_wrong_clients_and_other_pools(issuer: DevIssuer) -> None:
    auth = presets.cognito(REGION, POOL_R, client_ids=["client-a"], jwks_uri=issuer.jwks_uri)
    assert auth.verify(_cognito_token(issuer, token_use="access"))["client_id"] == "client-a"
    refused = [
        _cognito_token(issuer, token_use="id"),                                     # id token as access
        _cognito_token(issuer, token_use="access", client="client-b"),              # another app client
        _cognito_token(issuer, token_use="access", extra={"client_id": None}),      # no client_id at all
        _cognito_token(issuer, token_use="access", extra={"client_id": ["client-a"]}),  # not a string
        _cognito_token(issuer, token_use="access", extra={"token_use": None}),      # no token_use
        _cognito_token(issuer, token_use="access", extra={"token_use": "ACCESS"}),  # case variant
        _cognito_token(issuer, token_use="access",
                       iss=f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Other"),  # another pool
    ]
    for token in refused:
        with pytest.raises(InvalidClaimError):
            auth.verify(token)


def test_cognito_id_preset_refuses_access_tokens_and_foreign_audiences(issuer: DevIssuer) -> None:
    auth = presets.cognito(REGION, POOL_R, client_ids=["client-a"], token_use="id", jwks_uri=issuer.jwks_uri)
    assert auth.verify(_cognito_token(issuer, token_use="id"))["email"] == "a@example.com"
    for token in (_cognito_token(issuer, token_use="access"),
                  _cognito_token(issuer, token_use="id", client="client-b"),
                  _cognito_token(issuer, token_use="id", extra={"token_use": "access"}),
                  _cognito_token(issuer, token_use="id", extra={"token_use": None})):
        with pytest.raises(InvalidClaimError):
            auth.verify(token)


def _cognito_shaped(issuer: DevIssuer, token_use: str, **claims: Any) -> str:
    # The claim sets Cognito documents: an ID token names its app client in aud, an access token in
    # client_id (no aud); neither has a typ header.
    now = int(time.time())
    common = {"sub": "aaaa-bbbb", "iss": COGNITO_ISS, "cognito:groups": ["admins"], "origin_jti": "o-1",
              "event_id": "e-1", "auth_time": now, "iat": now, "exp": now + 3600, "jti": "j-1", "nbf": None}
    if token_use == "id":
        body = {**common, "aud": "app-client-1", "token_use": "id", "cognito:username": "alice",
                "email_verified": True, "email": "a@example.com", "at_hash": "h-1"}
    else:
        body = {**common, "aud": None, "token_use": "access", "client_id": "app-client-1", "version": 2,
                "scope": "aws.cognito.signin.user.admin", "username": "alice"}
    return issuer.mint(claims={**body, **claims}, headers={"typ": None})


@pytest.mark.parametrize(("expected", "sent"), [("access", "id"), ("id", "access")])
def test_cognito_token_of_the_other_use_is_refused_for_its_token_use(
        issuer: DevIssuer, expected: str, sent: str) -> None:
    # As Cognito's own verifier (aws-jwt-verify) decides: token_use first, then the app client, so a
    # real ID token at an API is told it is the wrong kind of token, not that its aud is unexpected.
    preset = _cognito(issuer, token_use=expected)
    assert preset.verify(_cognito_shaped(issuer, expected))["token_use"] == expected
    with pytest.raises(InvalidClaimError) as err:
        preset.verify(_cognito_shaped(issuer, sent))
    assert (err.value.claim, err.value.reason) == ("token_use", "check_failed")


def test_cognito_access_tokens_with_a_resource_indicator_need_the_configured_audience(
        issuer: DevIssuer) -> None:
    preset = _cognito(issuer, audience="https://api.example.com")
    assert preset.verify(_cognito_shaped(issuer, "access", aud="https://api.example.com"))["sub"]
    for aud, reason in (("https://other.example.com", "check_failed"), (None, "missing"), (5, "invalid")):
        with pytest.raises(InvalidClaimError) as err:
            preset.verify(_cognito_shaped(issuer, "access", aud=aud))
        assert (err.value.claim, err.value.reason) == ("aud", reason)
    with pytest.raises(InvalidClaimError) as err:  # without audience=, a token naming one is refused
        _cognito(issuer).verify(_cognito_shaped(issuer, "access", aud="https://api.example.com"))
    assert (err.value.claim, err.value.reason) == ("aud", "check_failed")
    with pytest.raises(ConfigurationError):  # an ID token's audience is its app client: not settable
        _cognito(issuer, token_use="id", audience="https://api.example.com")


def test_cognito_issuer_per_partition_and_pool_region_mismatch() -> None:
    assert presets.cognito("cn-north-1", "cn-north-1_Ab", client_ids=["c"]).verifier.issuer == (
        "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_Ab")
    assert presets.cognito("us-gov-west-1", "us-gov-west-1_Ab", client_ids=["c"]).verifier.issuer == (
        "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_Ab")
    for region, pool in (("eu-west-1", "us-east-1_Ab"), ("eu-west-1", "eu-west-1_Ab/../x"),
                         ("eu-west-1", "eu-west-1_Ab/.well-known")):
        with pytest.raises(ConfigurationError):
            presets.cognito(region, pool, client_ids=["c"])


def test_cognito_preset_accepts_static_keys_and_reports_conflicts_as_configuration_errors(
        issuer: DevIssuer) -> None:
    auth = presets.cognito(REGION, POOL_R, client_ids=["client-a"], jwks=issuer.jwks())
    assert auth.verify(_cognito_token(issuer, token_use="access"))["sub"] == "dev-user"
    with pytest.raises(ConfigurationError):
        presets.cognito(REGION, POOL_R, client_ids=["c"], require_audience=True)


def test_okta_cid_allow_list(issuer: DevIssuer) -> None:
    auth = presets.okta("dev-1.okta.com", "api://default", client_ids=["0oa-good"], jwks_uri=issuer.jwks_uri)
    iss = "https://dev-1.okta.com/oauth2/default"
    ok = issuer.mint(issuer=iss, audience="api://default", claims={"cid": "0oa-good", "scp": ["a", "b"]})
    assert auth.verify(ok)["scp"] == ["a", "b"]
    for cid in ("0oa-evil", None, ["0oa-good"], "0OA-GOOD"):
        token = issuer.mint(issuer=iss, audience="api://default", claims={"cid": cid} if cid else {})
        with pytest.raises(InvalidClaimError):
            auth.verify(token)
    # A token of the org authorization server (another iss) is not one of the custom server's.
    with pytest.raises(InvalidClaimError):
        auth.verify(issuer.mint(issuer="https://dev-1.okta.com", audience="api://default",
                                claims={"cid": "0oa-good"}))


def test_auth0_namespaced_claim_cannot_shadow_sub(issuer: DevIssuer) -> None:
    auth = presets.auth0("tenant.eu.auth0.com", "https://api.example.com", namespace="https://ex.com/",
                         jwks_uri=issuer.jwks_uri)
    token = issuer.mint(issuer="https://tenant.eu.auth0.com/", audience="https://api.example.com",
                        sub="auth0|real", claims={"https://ex.com/sub": "auth0|admin",
                                                  "https://ex.com/roles": ["editor"]})

    @auth.require_auth(roles=["editor"])
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    event = {"version": "2.0", "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET"}}}
    assert handler(event, types.SimpleNamespace())["body"] == "auth0|real"


def test_oidc_max_age_refuses_missing_or_old_auth_time(issuer: DevIssuer) -> None:
    auth = presets.oidc(issuer.issuer, issuer.audience, max_age_seconds=300, leeway_seconds=0)
    now = int(time.time())
    assert auth.verify(issuer.mint(claims={"auth_time": now - 10}))
    for extra in ({}, {"auth_time": now - 3600}, {"auth_time": "recent"}):
        with pytest.raises(InvalidTokenError):
            auth.verify(issuer.mint(claims=extra))


def test_netlify_preset_refuses_public_key_algorithms(issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    auth = presets.netlify(secret)
    assert auth.verify(issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None))
    for token in (issuer.mint(issuer=None, audience=None),
                  issuer.mint(alg="none", issuer=None, audience=None),
                  _hs_token(secret, {"alg": "HS512"}, {"sub": "x", "exp": int(time.time()) + 60},
                            alg="HS512")):
        with pytest.raises((AlgorithmNotAllowedError, MalformedTokenError)):
            auth.verify(token)


def test_a_public_key_in_jwt_secret_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    monkeypatch.setenv("JWT_SECRET", pem)
    monkeypatch.setenv("JWT_ALLOW_SHORT_SECRET", "true")
    with pytest.raises(ConfigurationError, match=r"^JWT_SECRET looks like a PEM key") as err:
        presets.netlify()
    assert "MII" not in str(err.value)  # never echoed


def test_netlify_from_the_environment_names_the_variable_of_a_short_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "short-site-secret")
    with pytest.raises(ConfigurationError, match=r"JWT_SECRET \(template parameter JwtSecret\)"):
        presets.netlify()
    monkeypatch.setenv("JWT_ALLOW_SHORT_SECRET", "true")
    assert presets.netlify().cookie_name == "nf_jwt"


def test_netlify_from_the_environment_reads_jwt_issuer_and_jwt_algorithms(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both were ignored: a self-hosted GoTrue's issuer went unchecked, its HS512 tokens were all refused.
    secret = secrets.token_urlsafe(48)
    monkeypatch.setenv("JWT_SECRET", secret)
    monkeypatch.setenv("JWT_ISSUER", "https://auth.example.com")
    monkeypatch.setenv("JWT_ALGORITHMS", "HS512")
    preset = presets.netlify()
    token = issuer.mint(alg="HS512", secret=secret, issuer="https://auth.example.com", audience=None)
    assert preset.verify(token)["sub"] == "dev-user"
    with pytest.raises(InvalidClaimError) as info:
        preset.verify(issuer.mint(alg="HS512", secret=secret, issuer="https://evil.example", audience=None))
    assert info.value.claim == "iss"
    with pytest.raises(AlgorithmNotAllowedError):
        preset.verify(issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None))
    monkeypatch.setenv("JWT_ALGORITHMS", "RS256")
    with pytest.raises(ConfigurationError, match="JWT_ALGORITHMS"):
        presets.netlify()


@pytest.mark.parametrize(("token_use", "sent", "claims", "claim"), [
    ("id", "id", {"aud": "another-app-client"}, "aud"),
    ("id", "id", {"aud": None}, "aud"),
    ("access", "access", {"aud": "https://another-api.example"}, "aud"),
    ("access", "access", {"client_id": "another-app-client"}, "client_id"),
    ("access", "id", {}, "token_use"),
])
def test_cognito_with_no_key_to_be_had_a_token_failing_the_presets_own_rules_is_a_401_not_503(
        issuer: DevIssuer, token_use: str, sent: str, claims: dict[str, Any], claim: str) -> None:
    # As for the verifier's own claim rules: a client holding a token for another app client must get
    # the 401 that makes it fetch the right one, not a 503 it retries until the issuer is back.
    issuer.fault = "503"
    preset = _cognito(issuer, token_use=token_use)
    with pytest.raises(InvalidClaimError) as err:
        preset.verify(_cognito_shaped(issuer, sent, **claims))
    assert err.value.claim == claim
    with pytest.raises(KeysUnavailableError):  # rules that pass: the signature decides, and cannot
        preset.verify(_cognito_shaped(issuer, token_use))


def test_cognito_verifier_repr_names_the_audiences_its_checks_accept() -> None:
    # The aud rule runs among the preset's claim checks: the repr still names what it accepts.
    kw: dict[str, Any] = {"client_ids": ["app-client-1"], "jwks_uri": "https://keys.example.com/jwks.json"}
    assert "audience=['app-client-1']" in repr(presets.cognito("eu-west-1", POOL, token_use="id", **kw))
    assert "audience=[]" in repr(presets.cognito("eu-west-1", POOL, **kw))
    resource = presets.cognito("eu-west-1", POOL, audience="https://api.example.com", **kw)
    assert "audience=['https://api.example.com']" in repr(resource.verifier)
