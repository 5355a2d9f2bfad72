"""serverless-jwt: Bearer-token (JWT) authentication for AWS Lambda handlers and any Python backend."""

from __future__ import annotations

from serverless_jwt.errors import (
    AlgorithmNotAllowedError,
    AuthError,
    ConfigurationError,
    ForbiddenError,
    InsufficientScopeError,
    InvalidClaimError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    KeysUnavailableError,
    MalformedTokenError,
    MissingTokenError,
    TokenExpiredError,
    UnknownKeyError,
)

__version__ = "0.1.0"

__all__ = [
    "AlgorithmNotAllowedError",
    "AuthError",
    "ConfigurationError",
    "ForbiddenError",
    "InsufficientScopeError",
    "InvalidClaimError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "KeysUnavailableError",
    "MalformedTokenError",
    "MissingTokenError",
    "TokenExpiredError",
    "UnknownKeyError",
    "__version__",
]
