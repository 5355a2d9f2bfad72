"""Who is calling: the :class:`IdentityContext` a handler finds on ``context.identity_context``."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from serverless_jwt import authz

__all__ = ["IdentityContext", "TokenVerifier", "current_identity", "identity_from_claims"]


class TokenVerifier(Protocol):
    """Anything that turns a token into verified claims or raises an AuthError (e.g. ``Verifier``)."""

    def verify(self, token: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class IdentityContext:
    """Who is calling: what the handler finds on ``context.identity_context``.

    Attributes
    ----------
    claims:
        Verified claims (after the ``claims_mapper``, if any).
    token:
        The raw bearer token (``None`` when claims came from a trusted authorizer); never in ``repr``.
    subject, issuer, client_id:
        ``sub``, ``iss`` and ``azp``/``client_id`` when they are strings, else ``None``.
    scopes, roles:
        Granted scopes (``scope``/``scp``/``permissions``) and roles (at the configured path).
    source:
        ``"token"`` (verified here) or ``"authorizer"`` (taken from API Gateway's authorizer).
    """

    claims: Mapping[str, Any]
    token: str | None = field(repr=False)
    subject: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    issuer: str | None
    client_id: str | None = None
    source: Literal["token", "authorizer"] = "token"


_current: contextvars.ContextVar[IdentityContext | None] = contextvars.ContextVar(
    "serverless_jwt_identity", default=None
)


def current_identity() -> IdentityContext | None:
    """The identity of the request being handled under :func:`require_auth`, else ``None``.

    Useful when a handler passes no ``context`` down to the code that needs the caller.
    """
    return _current.get()


def _string(claims: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            return value
    return None


def identity_from_claims(claims: Mapping[str, Any], token: str | None,
                         roles_claim: authz.ClaimPath) -> IdentityContext:
    """The identity for verified ``claims`` (``token`` is ``None`` for authorizer-supplied claims)."""
    return IdentityContext(
        claims=claims,
        token=token,
        subject=_string(claims, "sub"),
        scopes=authz.scopes_of(claims),
        roles=authz.roles_of(claims, roles_claim),
        issuer=_string(claims, "iss"),
        client_id=_string(claims, "azp", "client_id"),
        source="token" if token is not None else "authorizer",
    )
