"""HTTP API JWT authorizers (``JwtConfiguration``), checked with our :class:`~serverless_jwt.Verifier`.

As API Gateway does it: the token comes from the identity source, a header or a query string parameter
(``Bearer`` prefix removed), keys
from the issuer's OIDC discovery, RS256/384/512 only; ``aud`` must hold one of the configured
audiences, or, with no ``aud``, ``client_id`` must be one of them (Cognito access tokens); a route
with ``AuthorizationScopes`` needs at least one of them in ``scope``/``scp``. Failures answer
``401 {"message":"Unauthorized"}`` with a ``www-authenticate`` header carrying a fixed description, a
missing scope ``403 {"message":"Forbidden"}``. Claims reach the backend as
``requestContext.authorizer.jwt.claims`` with every value a string, as API Gateway sends them: numbers
and booleans as text, arrays ``[a b]``, objects ``map[k:v]`` (keys sorted; this last form follows
API Gateway's array form and is not confirmed against AWS). ``scopes`` is the token's scope list for a
route with authorization scopes, else ``null``. Unreachable keys answer 503, never the token's content.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from serverless_jwt.dev.apigw.events import Request
from serverless_jwt.dev.apigw.responses import Answer, gateway
from serverless_jwt.dev.apigw.routes import Authorizer, Match
from serverless_jwt.errors import AuthError, ConfigurationError, KeysUnavailableError, TokenExpiredError
from serverless_jwt.verifier import Verifier

__all__ = ["JwtAuthorizers", "flatten"]

_ALGORITHMS = ("RS256", "RS384", "RS512")


def flatten(value: Any) -> str:
    """A claim value as API Gateway puts it in ``jwt.claims``.

    Examples
    --------
    >>> flatten(["read", "write"]), flatten(1700000000), flatten(True), flatten({"b": 1, "a": ["x"]})
    ('[read write]', '1700000000', 'true', 'map[a:[x] b:1]')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(flatten(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{flatten(value[k])}" for k in sorted(value)) + "]"
    return "" if value is None else str(value)


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [s for s in raw if isinstance(s, str)]
    return []


def _www_authenticate(error: str, description: str, scope: str = "") -> tuple[str, str]:
    return ("www-authenticate", f'Bearer scope="{scope}" error="{error}" error_description="{description}"')


class JwtAuthorizers:
    """Checks requests against HTTP API JWT authorizers; one verifier per authorizer, built once.

    Parameters
    ----------
    override:
        ``(issuer, audience)`` that replaces every authorizer's configuration (``start-api`` passes its
        dev issuer, as it does for the functions' ``JWT_*`` variables); ``None`` keeps the template's.
    verifier_factory:
        Builds a verifier from keyword arguments (tests may pass a clock through it).
    """

    def __init__(self, *, override: tuple[str, str] | None = None,
                 verifier_factory: Callable[..., Verifier] = Verifier,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.override = override
        self.factory = verifier_factory
        self.log = log
        self._verifiers: dict[str, Verifier | None] = {}
        self._audiences: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def _verifier(self, api: str, auth: Authorizer) -> Verifier | None:
        key = f"{api}/{auth.name}"
        with self._lock:
            if key not in self._verifiers:
                issuer, audiences = auth.issuer, auth.audiences
                if self.override is not None:
                    issuer, audiences = self.override[0], (self.override[1],)
                try:
                    # aud / client_id are checked below, as API Gateway checks them (either may match).
                    self._verifiers[key] = self.factory(issuer=issuer or None, algorithms=_ALGORITHMS,
                                                        require_audience=False, accept_any_audience=True)
                except ConfigurationError as exc:
                    self.log(f"JWT authorizer {auth.name}: unusable configuration ({exc}); answering 500")
                    self._verifiers[key] = None
                self._audiences[key] = frozenset(audiences)
            return self._verifiers[key]

    def authorize(self, found: Match, request: Request) -> Answer | dict[str, Any]:
        """The error answer, or ``{"jwt": {"claims": ..., "scopes": ...}}`` for the backend's event.

        A payload 1.0 route gets ``{"claims": ..., "scopes": ...}`` (no ``jwt`` level), as on AWS.
        """
        auth = found.route.authorizer
        assert auth is not None
        rid = request.request_id
        kind, name = auth.identity_sources[0] if auth.identity_sources else ("header", "Authorization")
        # API Gateway takes the token from a header or a query string parameter (CreateAuthorizer).
        raw = (request.header(name) if kind == "header" else next(
            (v for k, v in reversed(request.query()) if k == name), None) if kind == "query" else None)
        if not raw:
            return gateway("unauthorized", False, rid)
        token = raw[7:].strip() if raw[:7].lower() == "bearer " else raw.strip()
        verifier = self._verifier(found.route.api.name, auth)
        if verifier is None:
            return gateway("authorizer_failure", False, rid)
        try:
            claims = verifier.verify(token)
        except KeysUnavailableError:
            self.log(f"JWT authorizer {auth.name}: the issuer's keys cannot be fetched")
            return gateway("unavailable", False, rid)
        except AuthError as exc:
            description = "the token has expired" if isinstance(exc, TokenExpiredError) else exc.description
            challenge = _www_authenticate("invalid_token", description)
            return gateway("unauthorized", False, rid, extra=[challenge])
        audiences = self._audiences[f"{found.route.api.name}/{auth.name}"]
        aud = claims.get("aud", claims.get("client_id") if "aud" not in claims else None)
        offered = {aud} if isinstance(aud, str) else set(aud) if isinstance(aud, list) else set()
        if audiences and not (offered & audiences):
            return gateway("unauthorized", False, rid, extra=[
                _www_authenticate("invalid_token", "the token does not have a valid audience")])
        scopes = _scopes(claims)
        wanted = found.route.scopes
        if wanted and not set(wanted) & set(scopes):
            return gateway("explicit_deny", False, rid, extra=[_www_authenticate(
                "insufficient_scope", "the token does not have the required scopes", " ".join(wanted))])
        flat = {str(k): flatten(v) for k, v in claims.items()}
        placed = {"claims": flat, "scopes": scopes if wanted else None}
        # Payload 2.0 nests them under "jwt"; a payload 1.0 route gets them at the top of "authorizer".
        return {"jwt": placed} if found.route.payload_version == "2.0" else placed
