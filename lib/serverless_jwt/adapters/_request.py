"""The request path of the framework glue (ASGI, FastAPI, WSGI, Flask): headers in, identity out.

headers -> bearer.token_from_headers -> verify (sync, or AsyncVerifier on an event loop) -> claims
mapper -> IdentityContext -> scope / role checks. Errors are AuthErrors; each framework module only
shapes :meth:`AuthError.response` into its own response type.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from serverless_jwt import authz
from serverless_jwt._rejections import configured_issuer, log_rejection
from serverless_jwt.adapters._auth import _role_check, _scope_check
from serverless_jwt.adapters._headers import error_header_map, realm_text
from serverless_jwt.adapters.identity import IdentityContext, TokenVerifier, identity_from_claims
from serverless_jwt.async_verifier import AsyncVerifier
from serverless_jwt.bearer import Headers, token_from_headers, validate_cookie_name
from serverless_jwt.errors import AuthError, ConfigurationError, ErrorResponse, MissingTokenError

Check = Callable[[IdentityContext], None]

_ROUTE_CHECKS: dict[tuple[str, ...], tuple[Check, ...]] = {}


def route_checks(scopes: Sequence[str]) -> tuple[Check, ...]:
    """The scope check for a route's scopes (FastAPI ``SecurityScopes``), validated once per set."""
    key = tuple(scopes)
    checks = _ROUTE_CHECKS.get(key)
    if checks is None:
        checks = _ROUTE_CHECKS[key] = checks_for(key, ())
    return checks


def checks_for(scopes: Collection[str], roles: Collection[str]) -> tuple[Check, ...]:
    """Scope and role checks (all required), validated now; empty collections add nothing."""
    checks: list[Check] = []
    if scopes:
        checks.append(_scope_check(authz.validate_names(scopes, "scope"), any_of=False))
    if roles:
        checks.append(_role_check(authz.validate_names(roles, "role"), None, any_of=False))
    return tuple(checks)


class RequestAuthenticator:
    """Settings shared by one framework integration, checked once at construction."""

    __slots__ = ("async_verifier", "checks", "cookie_name", "error_headers", "issuer", "mapper", "realm",
                 "roles_claim", "scopes", "verifier")

    def __init__(self, verifier: TokenVerifier | AsyncVerifier | None, *, realm: str | None = None,
                 cookie_name: str | None = None,
                 claims_mapper: authz.ClaimsMapper | None = None,
                 roles_claim: authz.ClaimPath = authz.DEFAULT_ROLES_PATH,
                 scopes: Collection[str] = (), roles: Collection[str] = (),
                 error_headers: Mapping[str, str] | None = None) -> None:
        if verifier is None:
            from serverless_jwt.verifier import Verifier

            verifier = Verifier.from_env()  # once, at app construction: every request reuses its keys
        self.async_verifier = AsyncVerifier(verifier)  # ConfigurationError without verify()
        self.verifier: TokenVerifier = self.async_verifier.verifier
        self.issuer = configured_issuer(self.verifier)  # for the rejection log line
        if claims_mapper is not None and not callable(claims_mapper):  # else every request would fail
            raise ConfigurationError("claims_mapper must be callable")
        self.realm = realm_text(realm)
        self.cookie_name = None if cookie_name is None else validate_cookie_name(cookie_name)
        self.mapper = claims_mapper
        self.roles_claim = authz.validate_claim_path(roles_claim, "roles_claim")
        self.checks = checks_for(scopes, roles)
        self.scopes = tuple(scopes)
        self.error_headers = error_header_map(error_headers, server=True)

    def route_checks(self, scopes: Sequence[str]) -> tuple[Check, ...]:
        """The check for a route's own scopes, joined with this integration's: one check for the union,
        so a 403's challenge names every scope the route needs (RFC 6750 §3), not one set at a time."""
        return route_checks(tuple(dict.fromkeys((*self.scopes, *scopes))))

    def token(self, headers: Headers, *, optional: bool, extra: Sequence[Check]) -> str | None:
        """The request's token; ``None`` for an anonymous caller let through.

        Anonymous callers pass only where ``optional`` and nothing (scopes, roles) demands an identity.
        """
        try:
            return token_from_headers(headers, cookie_name=self.cookie_name)
        except MissingTokenError:
            if optional and not extra and not self.checks:
                return None
            raise

    def identity(self, headers: Headers, extra: Sequence[Check] = (), *,
                 optional: bool = False) -> IdentityContext | None:
        """Authenticate synchronously (WSGI, Flask, sync code)."""
        token = self.token(headers, optional=optional, extra=extra)
        if token is None:
            return None
        return self.finish(self.verifier.verify(token), token, extra)

    async def identity_async(self, headers: Headers, extra: Sequence[Check] = (), *,
                             optional: bool = False) -> IdentityContext | None:
        """Authenticate on an event loop: a cold key fetch runs in a worker thread (see AsyncVerifier)."""
        token = self.token(headers, optional=optional, extra=extra)
        if token is None:
            return None
        return self.finish(await self.async_verifier.verify(token), token, extra)

    def finish(self, claims: Mapping[str, Any], token: str, extra: Sequence[Check]) -> IdentityContext:
        if self.mapper is not None:
            claims = self.mapper(claims)
            if not isinstance(claims, Mapping):
                # A programming error (a mapper without `return`): fail loudly, before any identity is set.
                raise TypeError("claims_mapper must return a mapping of claims")
        identity = identity_from_claims(claims, token, self.roles_claim)
        for check in extra:  # first: a route's scope check covers this integration's scopes too
            check(identity)
        for check in self.checks:
            check(identity)
        return identity

    def response(self, err: AuthError) -> ErrorResponse:
        """Status, headers and RFC 6750 body for ``err``, with this integration's realm and
        ``error_headers``."""
        return err.response(self.realm).with_headers(self.error_headers)

    def rejected(self, err: AuthError) -> None:
        """Log a refused request once, as the Lambda adapters do (code, status, check; never the token)."""
        log_rejection(err, issuer=self.issuer)
