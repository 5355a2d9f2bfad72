"""Who is calling: the :class:`IdentityContext` a handler finds on ``context.identity_context``."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from serverless_jwt import authz

__all__ = ["IdentityContext", "TokenVerifier", "current_identity", "identity_from_claims", "identity_of"]


class TokenVerifier(Protocol):
    """Anything that turns a token into verified claims or raises an AuthError (e.g. ``Verifier``)."""

    def verify(self, token: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, init=False)
class IdentityContext:
    """Who is calling: what the handler finds on ``context.identity_context``.

    Immutable: assigning an attribute raises ``dataclasses.FrozenInstanceError``. ``scopes`` are read
    when the identity is made; ``subject``, ``issuer``, ``client_id`` and ``roles`` are read from
    ``claims`` on first access and then kept, so a request pays only for what it uses. ``claims`` are
    read-only by contract: rewrite them with ``claims_mapper``, never in place.

    Attributes
    ----------
    claims:
        Verified claims (after the ``claims_mapper``, if any). Treat them as read-only.
    token:
        The raw bearer token (``None`` when claims came from a trusted authorizer); never in ``repr``.
    subject, issuer, client_id:
        ``sub``, ``iss`` and ``azp``/``client_id``/``cid`` (Okta) when they are strings, else ``None``.
    scopes, roles:
        Granted scopes (``scope``/``scp``/``permissions``) and roles (at the configured path).
    source:
        ``"token"`` (verified here) or ``"authorizer"`` (taken from API Gateway's authorizer).

    Examples
    --------
    >>> identity = identity_from_claims({"sub": "alice", "scope": "read:shows"}, "a.b.c",
    ...                                 authz.DEFAULT_ROLES_PATH)
    >>> identity.subject, sorted(identity.scopes), identity.source
    ('alice', ['read:shows'], 'token')
    """

    claims: Mapping[str, Any]
    token: str | None = field(repr=False)
    subject: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    issuer: str | None
    client_id: str | None = None
    source: Literal["token", "authorizer"] = "token"

    def __init__(self, claims: Mapping[str, Any], token: str | None, subject: str | None,
                 scopes: frozenset[str], roles: frozenset[str], issuer: str | None,
                 client_id: str | None = None, source: Literal["token", "authorizer"] = "token") -> None:
        # Every field given, nothing left to derive (replace() and copies come this way too).
        object.__setattr__(self, "__dict__", {
            "claims": claims, "token": token, "subject": subject, "scopes": scopes, "roles": roles,
            "issuer": issuer, "client_id": client_id, "source": source,
        })

    def __reduce__(self) -> tuple[Any, ...]:
        # copy and pickle through __init__ with every field (derived ones computed now).
        return (type(self), (self.claims, self.token, self.subject, self.scopes, self.roles, self.issuer,
                             self.client_id, self.source))


class _Derived:
    # A field computed from the claims on first access. A non-data descriptor: the value is then kept
    # in the instance __dict__, which wins over the descriptor, so later reads are plain attribute reads.
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, identity: IdentityContext | None, owner: type | None = None) -> Any:
        if identity is None:
            return self
        fields = identity.__dict__
        value = fields[self.name] = self.compute(fields["claims"], fields)
        return value

    def compute(self, claims: Mapping[str, Any], fields: dict[str, Any]) -> Any:
        raise NotImplementedError


class _Text(_Derived):
    __slots__ = ("claim_names",)

    def __init__(self, name: str, *claim_names: str) -> None:
        super().__init__(name)
        self.claim_names = claim_names

    def compute(self, claims: Mapping[str, Any], fields: dict[str, Any]) -> str | None:
        for name in self.claim_names:
            value = claims.get(name)
            if isinstance(value, str):
                return value
        return None


class _Roles(_Derived):
    __slots__ = ()

    def compute(self, claims: Mapping[str, Any], fields: dict[str, Any]) -> frozenset[str]:
        return authz.roles_of(claims, fields["_roles_claim"])


for _field in (_Text("subject", "sub"), _Text("issuer", "iss"), _Text("client_id", "azp", "client_id", "cid"),
               _Roles("roles")):
    type.__setattr__(IdentityContext, _field.name, _field)
del _field
_new = object.__new__


_current: contextvars.ContextVar[IdentityContext | None] = contextvars.ContextVar(
    "serverless_jwt_identity", default=None
)
# Where a framework keeps the caller for the whole request (Flask: the environ), read when _current is None:
# a decorated before_request hook must reset _current when it returns (it cannot know when the request
# ends), so the view after it would otherwise find nobody. Each lookup is cheap and never raises.
_request_lookups: list[Callable[[], IdentityContext | None]] = []


def current_identity() -> IdentityContext | None:
    """The identity of the request being handled under :func:`require_auth`, else ``None``.

    Useful when a handler passes no ``context`` down to the code that needs the caller. In a Flask
    request it is also the caller ``JwtAuth.required`` let in, on the view or on a ``before_request``
    hook.
    """
    identity = _current.get()
    if identity is None and _request_lookups:
        for lookup in _request_lookups:
            identity = lookup()
            if identity is not None:
                break
    return identity


def identity_of(context: object = None) -> IdentityContext:
    """The caller, typed: ``context.identity_context`` when set, else :func:`current_identity`.

    ``context.identity_context`` is an attribute ``require_auth`` adds at runtime, so a handler typed
    with Powertools' ``LambdaContext`` cannot read it under ``mypy --strict``; this accessor can.

    Raises
    ------
    MissingTokenError
        No identity (an anonymous caller under ``optional=True``, or no ``require_auth`` at all);
        raised inside ``require_auth`` it is answered 401.

    Examples
    --------
    >>> @require_auth(verifier)                                    # doctest: +SKIP
    ... def handler(event: dict, context: LambdaContext) -> dict:
    ...     return {"statusCode": 200, "body": identity_of(context).subject}
    """
    identity = getattr(context, "identity_context", None)
    if isinstance(identity, IdentityContext):
        return identity
    identity = current_identity()
    if identity is None:
        from serverless_jwt.errors import MissingTokenError

        raise MissingTokenError()
    return identity


def identity_from_claims(claims: Mapping[str, Any], token: str | None,
                         roles_claim: authz.ClaimPath) -> IdentityContext:
    """The identity for verified ``claims`` (``token`` is ``None`` for authorizer-supplied claims).

    The scopes are read now, so every scope decision rests on the claims as verified (and mapped);
    the other derived fields are computed when first used.
    """
    identity: IdentityContext = _new(IdentityContext)
    fields = identity.__dict__
    fields["claims"] = claims
    fields["scopes"] = authz.scopes_of(claims)
    fields["token"] = token
    fields["source"] = "token" if token is not None else "authorizer"
    fields["_roles_claim"] = roles_claim  # not a field: where the roles are read, on first access
    return identity
