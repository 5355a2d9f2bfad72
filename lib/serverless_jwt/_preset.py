"""What every provider preset is made of: the :class:`Preset` record and the helpers that build one.

``presets.py`` holds the providers (``cognito()``, ``auth0()``, ...) and re-exports ``Preset``: import it
from there. The helpers check the arguments the providers share (host names, lists of ids), write the
claim checks they add, and build the :class:`~serverless_jwt.verifier.Verifier`, refusing an option
the preset sets itself.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from serverless_jwt import _verifier_setup, authz
from serverless_jwt import claims as _claims
from serverless_jwt._config import is_secret_reference
from serverless_jwt._custom_checks import claim_rule
from serverless_jwt.errors import ConfigurationError, InvalidClaimError
from serverless_jwt.verifier import ClaimCheck, Verifier

if TYPE_CHECKING:
    from serverless_jwt.adapters.decorators import Decorator

__all__ = ["REGION", "Preset", "audience_check", "build_verifier", "checked_host", "claim_equals",
           "cognito_env_settings", "default_jwks_uri", "secret_source", "string_set"]

# An AWS region of any partition (eu-west-1, cn-north-1, us-gov-west-1, eusc-de-east-1).
REGION = re.compile(r"(?:[a-z]{2}|eusc)(?:-[a-z]+)+-\d+")
# A user pool's issuer, every partition and issuer type (presets.cognito() writes the same URLs).
_COGNITO_ISSUER = re.compile(rf"https://(?:issuer-)?cognito-idp\.({REGION.pattern})"
                             r"\.amazonaws\.(?:com|com\.cn|eu)/\1_[0-9A-Za-z]+")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?")


@dataclass(frozen=True, slots=True)
class Preset:
    """A provider's verifier and the decorator options that go with it.

    Attributes
    ----------
    verifier:
        The configured :class:`Verifier`.
    roles_claim:
        Where the provider puts roles or groups (``require_auth(roles_claim=...)``).
    cookie_name:
        Cookie that may carry the token (Netlify's ``nf_jwt``), else ``None``.
    claims_mapper:
        Claims rewriting the provider needs (Auth0 namespace stripping), else ``None``.
    """

    verifier: Verifier
    roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH
    cookie_name: str | None = None
    claims_mapper: authz.ClaimsMapper | None = None

    def verify(self, token: str) -> dict[str, Any]:
        """Same as ``self.verifier.verify(token)``, so a preset is itself a token verifier."""
        return self.verifier.verify(token)

    def auth_options(self) -> dict[str, Any]:
        """Keyword arguments for ``require_auth`` matching this provider."""
        options: dict[str, Any] = {"roles_claim": self.roles_claim}
        if self.cookie_name is not None:
            options["cookie_name"] = self.cookie_name
        if self.claims_mapper is not None:
            options["claims_mapper"] = self.claims_mapper
        return options

    def require_auth(self, **overrides: Any) -> Decorator:
        """``require_auth(self.verifier, **self.auth_options(), **overrides)``.

        Examples
        --------
        >>> @auth.require_auth(scopes=["read:shows"])  # doctest: +SKIP
        ... def handler(event, context): ...
        """
        from serverless_jwt.adapters.decorators import require_auth  # adapters load only when used

        decorator: Decorator = require_auth(self.verifier, **{**self.auth_options(), **overrides})
        return decorator


def string_set(values: str | Collection[str] | None, name: str) -> frozenset[str]:
    if values is not None and not isinstance(values, Iterable):  # client_ids=5: not a TypeError from list()
        raise ConfigurationError(f"{name} must be a non-empty string or list of strings")
    items = [values] if isinstance(values, str) else list(values or ())
    if not items or any(not isinstance(v, str) or not v for v in items):
        raise ConfigurationError(f"{name} must be a non-empty string or list of strings")
    return frozenset(items)


def checked_host(domain: str, name: str) -> str:
    if not isinstance(domain, str):
        raise ConfigurationError(f"{name} must be a host name such as tenant.example.com")
    # Host names are case-insensitive, the issuer comparison is exact: tokens name it in lower case.
    host = domain.strip().removeprefix("https://").rstrip("/").lower()
    if not _HOST.fullmatch(host):
        raise ConfigurationError(f"{name} must be a host name such as tenant.example.com")
    return host


def claim_equals(claim: str, accepted: frozenset[str]) -> ClaimCheck:
    def check(claims: Mapping[str, Any]) -> bool:
        value = claims.get(claim)
        if value is None:
            raise InvalidClaimError(claim, "missing")
        if not isinstance(value, str) or value not in accepted:
            raise InvalidClaimError(claim, "check_failed")
        return True

    check.__name__ = claim
    return claim_rule(check)


def audience_check(audience: str | Sequence[str] | None, accept_any: bool = False) -> ClaimCheck:
    """The verifier's own aud rule as a claim check, for a preset that must run another check first."""
    audiences = _verifier_setup.audiences(audience, required=False)
    if type(accept_any) is not bool:
        raise ConfigurationError("accept_any_audience must be True or False")
    if accept_any and audiences is not None:
        raise ConfigurationError(_verifier_setup.ANY_AUDIENCE_CONFLICT)

    def aud(claims: Mapping[str, Any]) -> bool:
        if audiences is not None:
            _claims._check_audience(claims, audiences)
        elif "aud" in claims:
            _claims._check_unexpected_audience(claims["aud"], accept_any)
        return True

    return claim_rule(aud, audiences=audiences)


def build_verifier(checks: Sequence[ClaimCheck], options: dict[str, Any], **settings: Any) -> Verifier:
    extra = options.pop("claim_checks", ())
    if not isinstance(extra, Iterable):  # claim_checks=f: the Verifier's ConfigurationError, not a TypeError
        raise ConfigurationError("claim_checks and token_checks must be lists of callables")
    clash = sorted(set(options) & set(settings))
    if clash:
        raise ConfigurationError(f"this preset sets {', '.join(map(repr, clash))} itself")
    return Verifier(**settings, **options, claim_checks=(*checks, *extra))


def default_jwks_uri(options: dict[str, Any], uri: str) -> None:
    # The provider's well-known JWKS (no discovery round trip), unless the caller brings other keys.
    sources = ("jwks_uri", "jwks", "public_key", "secrets", "secret_from")
    if not any(options.get(k) is not None for k in sources):
        options["jwks_uri"] = uri


def secret_source(secret: str | bytes | Sequence[str | bytes]) -> dict[str, Any]:
    # A Secrets Manager ARN or ssm: name, as JWT_SECRET may hold: fetched, never used as the key.
    if isinstance(secret, str) and is_secret_reference(secret.strip()):
        return {"secret_from": secret.strip()}
    return {"secrets": secret}


def cognito_env_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``Verifier.from_env()`` settings for a Cognito user pool issuer with ``JWT_AUDIENCE`` (app client ids).

    Checked as API Gateway's JWT authorizer checks them: a token with ``aud`` (an ID token) must name
    one of them; a token without (an access token: ``token_use`` ``access``) must carry one of them in
    ``client_id``. Other settings are returned unchanged.
    """
    issuer, audience = settings.get("issuer"), settings.get("audience")
    if not (isinstance(issuer, str) and _COGNITO_ISSUER.fullmatch(issuer)) or not audience or (
            settings.get("accept_any_audience") or "require_audience" in settings) or not isinstance(
            settings.get("claim_checks", ()), Iterable):  # claim_checks=f: the Verifier's ConfigurationError
        return settings
    clients = string_set(audience, "audience")

    def aud_or_client_id(claims: Mapping[str, Any]) -> bool:
        if "aud" in claims:
            _claims._check_audience(claims, clients)  # the verifier's own aud rule
        elif claims.get("token_use") != "access":
            raise InvalidClaimError("aud", "missing")
        elif not isinstance(client := claims.get("client_id"), str) or client not in clients:
            raise InvalidClaimError("client_id", "missing" if client is None else "check_failed")
        return True

    aud_or_client_id.__name__ = "aud"
    claim_rule(aud_or_client_id, audiences=clients)
    # The aud rule moves into the check above; an aud is still type-checked by the verifier itself.
    return {**settings, "audience": None, "require_audience": False, "accept_any_audience": True,
            "claim_checks": (aud_or_client_id, *settings.get("claim_checks", ()))}
