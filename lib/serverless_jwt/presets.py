"""Provider presets: a configured :class:`~serverless_jwt.verifier.Verifier` in one line.

Each function returns a :class:`Preset`: the verifier plus where that provider puts roles and, for
Netlify, the cookie holding the token. Use it directly as the decorator::

    auth = presets.cognito("eu-west-1", "eu-west-1_AbCdEf", client_ids=["4k2..."])

    @auth.require_auth(roles=["admins"])          # roles read from cognito:groups
    def handler(event, context): ...

or hand ``auth.verifier`` (or ``auth`` itself: it has ``verify``) to anything taking a verifier, and
``**auth.auth_options()`` to :func:`~serverless_jwt.adapters.decorators.require_auth`.

Extra keyword arguments go to ``Verifier`` (``leeway_seconds``, ``jwks_uri``, ``clock``, ...);
``claim_checks`` given there run after the preset's own checks.

This module holds the providers; :class:`Preset` and the helpers they share live in
:mod:`serverless_jwt._preset` (``Preset`` is re-exported here).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from typing import Any

from serverless_jwt import authz
from serverless_jwt._config import secret_problem
from serverless_jwt._env import any_audience_conflict, env_error, env_kwargs
from serverless_jwt._preset import (
    REGION,
    Preset,
    audience_check,
    build_verifier,
    checked_host,
    claim_equals,
    default_jwks_uri,
    secret_source,
    string_set,
)
from serverless_jwt.errors import ConfigurationError

__all__ = ["Preset", "auth0", "authgear", "cognito", "netlify", "oidc", "okta", "supabase"]

_POOL_ID = re.compile(rf"({REGION.pattern})_[0-9A-Za-z]+")
# DNS suffix per partition (botocore's partitions.json) where it is not amazonaws.com.
_SUFFIX = {"cn-": "amazonaws.com.cn", "eusc-": "amazonaws.eu"}
# The user pool's IssuerConfiguration Type -> the issuer's host name prefix.
_COGNITO_HOSTS = {"original": "cognito-idp", "updated": "issuer-cognito-idp"}
_SERVER_ID = re.compile(r"[A-Za-z0-9]+")
_SUPABASE_REF = re.compile(r"[a-z0-9]{6,40}")
_AUTHGEAR_ROLES = "https://authgear.com/claims/user/roles"


def cognito(
    region: str,
    user_pool_id: str,
    *,
    client_ids: str | Collection[str],
    token_use: str = "access",  # noqa: S107 - a claim value, not a password
    issuer_type: str = "original",
    **options: Any,
) -> Preset:
    """Amazon Cognito user pool tokens; groups (``cognito:groups``) are the roles.

    Parameters
    ----------
    region, user_pool_id:
        The pool's region and id (``eu-west-1_AbCdEf``; its prefix must be the region). The issuer is
        ``https://cognito-idp.{region}.amazonaws.com/{pool}`` (``.amazonaws.com.cn`` in China regions).
    client_ids:
        App client ids allowed. Access tokens carry no ``aud``: their ``client_id`` claim is checked.
        ID tokens carry the client id in ``aud``, which is checked instead. Access tokens requested
        with a resource indicator (RFC 8707: ``resource=``, Essentials and Plus tiers) do carry ``aud``:
        pass ``audience=<that resource>``, and then only tokens for it pass (a token naming an
        audience is refused by an API that names none, RFC 7519 §4.1.3).
    token_use:
        ``"access"`` (default, for APIs) or ``"id"``; the token's ``token_use`` claim must match, so an
        ID token is never accepted where an access token is expected, and the reverse.
    issuer_type:
        The pool's issuer configuration (``IssuerConfiguration.Type``): ``"original"`` (default,
        ``https://cognito-idp.{region}...``) or ``"updated"`` (``https://issuer-cognito-idp.{region}...``,
        which multi-Region replication needs; ``region`` is then the primary Region).

    Raises
    ------
    ConfigurationError
        Malformed region or pool id, a pool of another region, no client id, or a bad ``token_use``.

    Examples
    --------
    >>> auth = cognito("eu-west-1", "eu-west-1_AbCdEf", client_ids=["1example23456789"])
    >>> auth.verifier.issuer
    'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf'
    """
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise ConfigurationError("region must be an AWS region such as eu-west-1")
    match = _POOL_ID.fullmatch(user_pool_id) if isinstance(user_pool_id, str) else None
    if match is None or match.group(1) != region:
        raise ConfigurationError("user_pool_id must look like '<region>_<id>' for the same region")
    if token_use not in ("access", "id"):
        raise ConfigurationError("token_use must be 'access' or 'id'")
    host = _COGNITO_HOSTS.get(issuer_type.lower()) if isinstance(issuer_type, str) else None
    if host is None:
        raise ConfigurationError("issuer_type must be 'original' or 'updated' (IssuerConfiguration Type)")
    clients = string_set(client_ids, "client_ids")
    suffix = next((s for prefix, s in _SUFFIX.items() if region.startswith(prefix)), "amazonaws.com")
    issuer = f"https://{host}.{region}.{suffix}/{user_pool_id}"
    default_jwks_uri(options, issuer + "/.well-known/jwks.json")
    # token_use first, then the app client, as Cognito's own verifier (aws-jwt-verify) decides: an ID
    # token sent to an API is refused as the wrong kind of token, not for an aud the API does not expect.
    checks = [claim_equals("token_use", frozenset({token_use}))]
    if token_use == "access":  # noqa: S105
        # Access tokens name their app client in client_id and carry no aud, unless requested with a
        # resource indicator: then aud must be the audience= given.
        checks += [audience_check(options.pop("audience", None), options.pop("accept_any_audience", False)),
                   claim_equals("client_id", clients)]
    else:
        checks.append(audience_check(sorted(clients)))
    # The verifier only types aud: the checks above match it, after token_use.
    verifier = build_verifier(checks, options, issuer=issuer, audience=None, require_audience=False,
                              accept_any_audience=True)
    return Preset(verifier, roles_claim="cognito:groups")


def auth0(
    domain: str,
    audience: str | Sequence[str],
    *,
    namespace: str | None = None,
    roles_claim: authz.ClaimPath | None = None,
    **options: Any,
) -> Preset:
    """Auth0 access tokens: issuer ``https://{domain}/`` (with the trailing slash Auth0 uses).

    Scopes come from ``scope`` and, with RBAC enabled, ``permissions`` (both are read by the scope
    decorators). For namespaced custom claims give ``namespace`` (``"https://example.com"``, with or
    without the final ``/``) to strip it before the handler sees the claims; roles are then read from
    ``roles`` (the ``https://example.com/roles`` claim) unless ``roles_claim`` says otherwise. Name
    claims without the namespace then (``require_role("admin", claim="roles")``): it is gone.

    Examples
    --------
    >>> auth = auth0("example.eu.auth0.com", "https://api.example.com")
    >>> auth.verifier.issuer
    'https://example.eu.auth0.com/'
    """
    host = checked_host(domain, "domain")
    if namespace is not None and not isinstance(namespace, str):
        raise ConfigurationError("namespace must be the claims' prefix, such as https://example.com/")
    issuer = f"https://{host}/"
    default_jwks_uri(options, issuer + ".well-known/jwks.json")
    verifier = build_verifier((), options, issuer=issuer, audience=audience)
    if namespace and namespace[-1].isalnum():
        # Auth0's examples write a URL namespace bare and the claims `${namespace}/roles`; one that
        # ends in its own separator ("urn:myapp:", "https://example.com/claims#") is kept as written.
        namespace += "/"
    mapper = authz.strip_namespace(namespace) if namespace else None
    if roles_claim is None:
        roles_claim = "roles" if namespace else authz.DEFAULT_ROLES_PATH
    return Preset(verifier, roles_claim=roles_claim, claims_mapper=mapper)


def okta(
    domain: str,
    audience: str | Sequence[str],
    *,
    authorization_server: str | None = "default",
    client_ids: str | Collection[str] | None = None,
    roles_claim: authz.ClaimPath = "groups",
    **options: Any,
) -> Preset:
    """Okta tokens from a custom authorization server (``default`` unless named) or the org server.

    Scopes are the ``scp`` array; ``client_ids`` optionally restricts the ``cid`` claim (the OAuth
    client that obtained the token); groups are read from ``groups`` when you add that claim.
    ``authorization_server=None`` selects the org authorization server (issuer ``https://{domain}``),
    whose access tokens are meant for Okta's own APIs and typed ``application/okta-internal-at+jwt``
    (refused here: only Okta can validate them); that mode verifies the org server's ID tokens
    (``audience=<client id>``). For your API use a custom authorization server.

    Examples
    --------
    >>> okta("dev-1.okta.com", "api://default").verifier.issuer
    'https://dev-1.okta.com/oauth2/default'
    """
    host = checked_host(domain, "domain")
    if authorization_server is None:
        issuer, jwks_uri = f"https://{host}", f"https://{host}/oauth2/v1/keys"
    else:
        if not isinstance(authorization_server, str) or not _SERVER_ID.fullmatch(authorization_server):
            raise ConfigurationError("authorization_server must be an Okta server id such as 'default'")
        issuer = f"https://{host}/oauth2/{authorization_server}"
        jwks_uri = issuer + "/v1/keys"
    default_jwks_uri(options, jwks_uri)
    checks = [] if client_ids is None else [claim_equals("cid", string_set(client_ids, "client_ids"))]
    return Preset(build_verifier(checks, options, issuer=issuer, audience=audience), roles_claim=roles_claim)


def netlify(secret: str | bytes | Sequence[str | bytes] | None = None, **options: Any) -> Preset:
    """Netlify Identity (GoTrue) tokens: HS256 with the site's JWT secret, no ``iss``.

    Roles are at ``app_metadata.roles`` (where Identity stores them) or ``app_metadata.authorization.roles``
    (both are read); the token may come from the ``nf_jwt``
    cookie as well as the ``Authorization`` header. GoTrue writes the user's ``aud`` into the token
    and leaves it out when empty, as Netlify's hosted Identity does; a self-hosted GoTrue with
    ``GOTRUE_JWT_AUD`` set needs ``audience=`` (or ``JWT_AUDIENCE``) with that value.

    Parameters
    ----------
    secret:
        The secret (or several, during rotation). ``None``: ``JWT_SECRET`` (and
        ``JWT_SECRET_PREVIOUS``) from the environment, which may also name an AWS secret store entry;
        ``JWT_AUDIENCE``, ``JWT_LEEWAY_SECONDS``, ``JWT_MAX_AGE_SECONDS``, ``JWT_REQUIRED_CLAIMS`` and
        the other check settings are read then too, as ``Verifier.from_env()`` reads them.

    Raises
    ------
    ConfigurationError
        No secret, or a secret under 32 bytes without ``allow_short_secret=True``.

    Examples
    --------
    >>> auth = netlify("a-long-random-site-secret-0123456789")
    >>> auth.cookie_name
    'nf_jwt'
    """
    if secret is None:
        # The secret, the audience and the checks' settings, as Verifier.from_env() reads them (a
        # JWT_LEEWAY_SECONDS=0 the preset ignored let tokens 30 s past exp through).
        # JWT_ISSUER, JWT_ALGORITHMS and the typ settings too: ignored, a GoTrue issuer went unchecked
        # and HS512 tokens were all refused. Only the public-key sources' settings are left out.
        names = ("JWT_SECRET", "JWT_SECRET_PREVIOUS", "JWT_ALLOW_SHORT_SECRET", "JWT_AUDIENCE",
                 "JWT_ACCEPT_ANY_AUDIENCE", "JWT_LEEWAY_SECONDS", "JWT_MAX_AGE_SECONDS", "JWT_MAX_AGE_CLAIM",
                 "JWT_REQUIRED_CLAIMS", "JWT_MAX_TOKEN_BYTES", "JWT_VERIFIED_CACHE_SIZE",
                 "JWT_MAX_STALE_SECONDS", "JWT_ISSUER", "JWT_ALGORITHMS", "JWT_ACCEPTED_TYPES",
                 "JWT_REQUIRE_ACCESS_TOKEN_TYPE", "JWT_ALLOW_SENDER_CONSTRAINED", "JWT_PREFETCH")
        found = env_kwargs({n: os.environ[n] for n in names if n in os.environ})
        if "secrets" not in found and "secret_from" not in found:
            raise ConfigurationError("netlify() needs secret= or the JWT_SECRET environment variable")
        settings = {**found, **options}
        conflict = any_audience_conflict(settings, [n for n, arg in (
            ("JWT_AUDIENCE", "audience"), ("JWT_ACCEPT_ANY_AUDIENCE", "accept_any_audience"))
            if n in os.environ and arg not in options])
        if conflict is not None:
            raise ConfigurationError(conflict)
        for value in found.get("secrets", ()):  # an error names the variable the user set
            problem = secret_problem(value, settings.get("algorithms", ["HS256"]), env=True,
                                     allow_short_secret=bool(settings.get("allow_short_secret")))
            if problem is not None:
                raise ConfigurationError(problem)
    else:
        settings = {**secret_source(secret), **options}
    settings.setdefault("algorithms", ["HS256"])
    try:
        verifier = build_verifier((), settings)
    except ConfigurationError as err:
        if secret is not None:
            raise
        raise env_error(err, options) from None  # name the JWT_* variable that was set
    return Preset(verifier, roles_claim=authz.DEFAULT_ROLES_PATH, cookie_name="nf_jwt")


def supabase(project: str, secret: str | bytes | Sequence[str | bytes] | None = None, *,
             audience: str | Sequence[str] = "authenticated", **options: Any) -> Preset:
    """Supabase Auth (GoTrue) tokens: issuer ``https://{ref}.supabase.co/auth/v1``, ``aud`` ``authenticated``.

    With ``secret`` (the project's legacy JWT secret) tokens are HS256; without, the project's
    signing keys come from its JWKS (``/auth/v1/.well-known/jwks.json``). ``project`` is the project
    ref or its ``https://{ref}.supabase.co`` URL.

    Examples
    --------
    >>> supabase("abcdefghijklmnopqrst").verifier.issuer
    'https://abcdefghijklmnopqrst.supabase.co/auth/v1'
    """
    ref = project.removeprefix("https://").removesuffix("/").removesuffix(".supabase.co") if isinstance(
        project, str) else ""
    if not _SUPABASE_REF.fullmatch(ref):
        raise ConfigurationError("project must be a Supabase project ref or https://<ref>.supabase.co")
    issuer = f"https://{ref}.supabase.co/auth/v1"
    if secret is None:
        default_jwks_uri(options, issuer + "/.well-known/jwks.json")
    else:
        options.update(secret_source(secret))
    return Preset(build_verifier((), options, issuer=issuer, audience=audience))


def oidc(
    issuer: str,
    audience: str | Sequence[str],
    *,
    roles_claim: authz.ClaimPath = "roles",
    max_age_seconds: float | None = None,
    **options: Any,
) -> Preset:
    """Any OpenID Connect provider: keys found by discovery at ``{issuer}/.well-known/openid-configuration``.

    Roles are read from the top-level ``roles`` claim (RFC 9068 §2.2.3.1); pass ``roles_claim`` for
    another place (``"realm_access.roles"`` for Keycloak). ``max_age_seconds`` rejects tokens whose
    ``auth_time`` is older (the user must sign in again).

    Examples
    --------
    >>> oidc("https://login.example.com", "my-api").verifier.issuer
    'https://login.example.com'
    """
    if max_age_seconds is not None:
        options.setdefault("max_age_claim", "auth_time")
    verifier = build_verifier((), options, issuer=issuer, audience=audience, max_age_seconds=max_age_seconds)
    return Preset(verifier, roles_claim=roles_claim)


def authgear(
    endpoint: str,
    *,
    audience: str | Sequence[str] | None = None,
    max_age_seconds: float | None = None,
    **options: Any,
) -> Preset:
    """Authgear access tokens: the project endpoint is the issuer and, by default, the audience.

    Examples
    --------
    >>> authgear("https://myapp.authgear.cloud", max_age_seconds=900).verifier.issuer
    'https://myapp.authgear.cloud'
    """
    if not isinstance(endpoint, str) or not endpoint.lower().startswith(("https://", "http://")):
        raise ConfigurationError("endpoint must be the project URL, e.g. https://myapp.authgear.cloud")
    # Scheme and host are case-insensitive, the issuer comparison is exact: Authgear names them in
    # lower case (as auth0() and okta() lower-case their domain).
    scheme, _, rest = endpoint.rstrip("/").partition("://")
    host, slash, path = rest.partition("/")
    issuer = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    return oidc(issuer, audience if audience is not None else issuer, roles_claim=_AUTHGEAR_ROLES,
                max_age_seconds=max_age_seconds, **options)
