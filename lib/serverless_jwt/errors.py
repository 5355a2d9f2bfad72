"""Every error serverless-jwt raises, and their one mapping to HTTP (RFC 6750).

::

    ConfigurationError (ValueError)     bad settings, raised at construction, never per request
    └─ MissingExtraError (+ImportError) a feature whose extra is not installed (names the pip command)
    AuthError                           code, status, error, description (fixed text, safe to send)
    ├─ MissingTokenError                401  WWW-Authenticate: Bearer realm="..."   (no error code)
    ├─ InvalidRequestError              400  error="invalid_request"
    ├─ InvalidTokenError                401  error="invalid_token"
    │  ├─ MalformedTokenError           token_malformed: not a strict compact JWS
    │  ├─ AlgorithmNotAllowedError      algorithm_not_allowed: alg outside the allow-list or unfit for the key
    │  ├─ InvalidSignatureError         signature_invalid
    │  ├─ UnknownKeyError               key_unknown: no usable key for the token's kid
    │  ├─ TokenExpiredError             token_expired
    │  └─ InvalidClaimError             claims_invalid, + claim, reason (missing | invalid | check_failed)
    ├─ InsufficientScopeError           403  error="insufficient_scope", scope="..."
    ├─ ForbiddenError                   403  roles and custom authorization checks
    └─ KeysUnavailableError             503  Retry-After; retryable = True

Adapters never decide a status or a header: they call :meth:`AuthError.response` and reshape the
``(status, headers, body)`` triple into their event's response format.

Descriptions are fixed strings written here or by the application's configuration (for example the
scope names a route requires). They never contain the token, any value taken from the token, or the
text of a foreign exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

__all__ = [
    "AlgorithmNotAllowedError",
    "AuthError",
    "ConfigurationError",
    "ErrorResponse",
    "ForbiddenError",
    "InsufficientScopeError",
    "InvalidClaimError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "KeysUnavailableError",
    "MalformedTokenError",
    "MissingExtraError",
    "MissingSignatureError",
    "MissingTokenError",
    "TokenExpiredError",
    "UnknownKeyError",
]

ClaimReason = Literal["missing", "invalid", "check_failed"]

# RFC 6750 §3: error, error_description and scope values use only these characters.
_UNSAFE_HEADER_CHARS = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')


class ErrorResponse:
    """The HTTP shape of an :class:`AuthError`: status, headers and a JSON-ready body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"ErrorResponse(status={self.status}, headers={self.headers!r}, body={self.body!r})"

    def with_headers(self, extra: Mapping[str, str] | None) -> ErrorResponse:
        """The same answer with ``extra`` headers (CORS, say) added; they never replace its own."""
        if not extra:
            return self
        # Names compare case-insensitively: "cache-control" beside our "Cache-Control" would be a
        # second header, and which one a gateway keeps is not ours to leave to chance.
        own = {name.lower() for name in self.headers}
        added = {name: value for name, value in extra.items() if name.lower() not in own}
        return ErrorResponse(self.status, {**added, **self.headers}, self.body)


def _quoted(value: str) -> str:
    """An RFC 6750 auth-param value: disallowed characters (quotes, backslashes, controls) dropped."""
    return '"' + _UNSAFE_HEADER_CHARS.sub("", value) + '"'


class ConfigurationError(ValueError):
    """The verifier or a decorator was configured in a way that is unsafe or cannot work."""


class MissingExtraError(ConfigurationError, ImportError):
    """A feature needs an optional dependency (an extra) that is not installed.

    Raised when the feature is imported or configured, never per request. Also an ``ImportError``, so
    ``from serverless_jwt import JwtAuthMiddleware`` fails the way a missing import does.

    Attributes
    ----------
    extra:
        The extra to install, e.g. ``"powertools"`` (several are joined by commas: ``"powertools,aws"``).
    name:
        The module that could not be imported, when known.
    """

    def __init__(self, extra: str, feature: str, module: str | None = None) -> None:
        noun = "extras" if "," in extra else "extra"
        super().__init__(f"{feature} needs the '{extra}' {noun}: pip install 'serverless-jwt[{extra}]'")
        self.extra = extra
        self.name = module


class AuthError(Exception):
    """Root of every request-time error: carries a stable ``code`` and its HTTP meaning."""

    code: ClassVar[str] = "auth_error"
    status: ClassVar[int] = 401
    error: ClassVar[str | None] = "invalid_token"
    default_description: ClassVar[str] = "Authentication failed"

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, description={self.description!r})"

    def www_authenticate(self, realm: str | None = None) -> str | None:
        """The ``WWW-Authenticate`` value for this error, or ``None`` when none is sent."""
        params = []
        if realm:
            params.append(f"realm={_quoted(realm)}")
        if self.error:
            params.append(f"error={_quoted(self.error)}")
            params.append(f"error_description={_quoted(self.description)}")
        params.extend(self._extra_auth_params())
        return "Bearer " + ", ".join(params) if params else "Bearer"

    def _extra_auth_params(self) -> list[str]:
        return []

    def response(self, realm: str | None = None) -> ErrorResponse:
        """Status, headers and body to send for this error.

        Parameters
        ----------
        realm:
            Optional protection-space name for ``WWW-Authenticate`` (RFC 6750 §3).

        Examples
        --------
        >>> r = TokenExpiredError().response(realm="api")
        >>> r.status, r.body["error"]
        (401, 'invalid_token')
        """
        headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        challenge = self.www_authenticate(realm)
        if challenge is not None:
            headers["WWW-Authenticate"] = challenge
        body = {"error": self.error or self.code, "error_description": self.description}
        return ErrorResponse(self.status, headers, body)


class MissingTokenError(AuthError):
    """The request carries no bearer credentials at all (RFC 6750 §3.1: no error code)."""

    code = "token_missing"
    status = 401
    error = None
    default_description = "Authentication required"


class MissingSignatureError(MissingTokenError):
    """No ``x-nf-sign``: the request did not come through Netlify's signed proxy.

    A :class:`MissingTokenError` (401, bare ``Bearer`` challenge) with its own code, so a client that did
    send its bearer token is not told it sent none, and the log names the check that failed.
    """

    code = "signature_missing"
    default_description = "The request did not come through the signed proxy (no x-nf-sign)"


class InvalidRequestError(AuthError):
    """The request is malformed: several Authorization values, or a scheme with no usable token."""

    code = "request_invalid"
    status = 400
    error = "invalid_request"
    default_description = "The request carries malformed credentials"


class InvalidTokenError(AuthError):
    """The token is malformed, expired, badly signed or fails a claim check."""

    code = "token_invalid"
    status = 401
    error = "invalid_token"
    default_description = "The access token is invalid"


class MalformedTokenError(InvalidTokenError):
    """The token is not a strict compact JWS with a JSON object header and payload."""

    code = "token_malformed"
    default_description = "The access token is malformed"


class AlgorithmNotAllowedError(InvalidTokenError):
    """The token's ``alg`` is not allowed, or does not fit the key that would verify it."""

    code = "algorithm_not_allowed"
    default_description = "The access token is signed with an algorithm that is not allowed"


class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify."""

    code = "signature_invalid"
    default_description = "The access token signature is invalid"


class UnknownKeyError(InvalidTokenError):
    """No usable key matches the token's header (unknown or missing ``kid``)."""

    code = "key_unknown"
    default_description = "The access token is signed with an unknown key"


class TokenExpiredError(InvalidTokenError):
    """The token's ``exp`` is in the past (beyond the leeway)."""

    code = "token_expired"
    default_description = "The access token expired"


class InvalidClaimError(InvalidTokenError):
    """A registered or required claim is missing, has the wrong type or value, or fails a custom check."""

    code = "claims_invalid"

    def __init__(self, claim: str, reason: ClaimReason, description: str | None = None) -> None:
        self.claim = claim
        self.reason = reason
        if description is None:
            description = {
                "missing": f"The access token is missing the required '{claim}' claim",
                "invalid": f"The access token has an invalid '{claim}' claim",
                "check_failed": f"The access token's '{claim}' claim was not accepted",
            }[reason]
        super().__init__(description)

    def __repr__(self) -> str:
        return f"InvalidClaimError(claim={self.claim!r}, reason={self.reason!r})"


class InsufficientScopeError(AuthError):
    """The token is valid but lacks a required scope (RFC 6750 §3.1).

    ``scopes`` are the missing scopes (every accepted one when any of them would do), named in the
    description; ``required`` is every scope the resource needs, sent as the challenge's ``scope``
    attribute (RFC 6750 §3: "the required scope of the access token"). A client that asks for exactly
    what the challenge names then gets a token that passes, instead of trading one missing scope for
    another.
    """

    code = "scope_insufficient"
    status = 403
    error = "insufficient_scope"

    def __init__(self, scopes: tuple[str, ...] | list[str], *, any_of: bool = False,
                 required: tuple[str, ...] | list[str] | None = None) -> None:
        self.scopes = tuple(scopes)
        self.required = self.scopes if required is None else tuple(required)
        self.any_of = any_of
        names = ", ".join(f"'{s}'" for s in self.scopes)
        if len(self.scopes) == 1:
            text = f"Token does not contain the required {names} scope"
        elif any_of:
            text = f"Token does not contain any of the required scopes {names}"
        else:
            text = f"Token does not contain the required scopes {names}"
        super().__init__(text)

    def _extra_auth_params(self) -> list[str]:
        return [f"scope={_quoted(' '.join(self.required))}"]


class ForbiddenError(AuthError):
    """The token is valid but the caller may not do this (roles, custom authorization checks)."""

    code = "forbidden"
    status = 403
    error = None
    default_description = "The caller is not allowed to perform this request"

    def www_authenticate(self, realm: str | None = None) -> str | None:
        # Not a bearer-token problem: the credentials were fine, so no challenge is sent.
        return None

    def response(self, realm: str | None = None) -> ErrorResponse:
        out = super().response(realm)
        out.body["error"] = "forbidden"
        return out


class KeysUnavailableError(AuthError):
    """No usable signing keys could be had (issuer down, bad JWKS); the caller may retry."""

    code = "keys_unavailable"
    status = 503
    error = None
    retryable: ClassVar[bool] = True
    default_description = "Signing keys are temporarily unavailable"

    def __init__(self, description: str | None = None, *, retry_after_seconds: int = 30) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(description)

    @staticmethod
    def retry_after_for(wait: float) -> int:
        """A ``Retry-After`` for a wait: whole seconds, 1 to 60."""
        return min(60, max(1, math.ceil(wait))) if wait > 0 else 1

    def www_authenticate(self, realm: str | None = None) -> str | None:
        return None

    def response(self, realm: str | None = None) -> ErrorResponse:
        out = super().response(realm)
        out.headers["Retry-After"] = str(self.retry_after_seconds)
        out.body["error"] = "temporarily_unavailable"
        return out


def as_dict(err: AuthError) -> dict[str, Any]:
    """Structured, log-safe detail of an error (no token, no token-supplied values)."""
    out: dict[str, Any] = {"code": err.code, "status": err.status}
    if isinstance(err, InvalidClaimError):
        out["claim"], out["reason"] = err.claim, err.reason
    if isinstance(err, InsufficientScopeError):
        out["scopes"] = list(err.scopes)
    return out
