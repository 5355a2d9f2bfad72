"""serverless-jwt: Bearer-token (JWT) authentication for AWS Lambda handlers and any Python backend.

Examples
--------
>>> from serverless_jwt import Verifier, require_auth, require_scope
>>> verifier = Verifier.from_env()                       # doctest: +SKIP
>>> @require_auth(verifier)                              # doctest: +SKIP
... @require_scope("read:shows")
... def handler(event, context):
...     return {"statusCode": 200, "body": context.identity_context.subject}
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    MissingExtraError,
    MissingSignatureError,
    MissingTokenError,
    TokenExpiredError,
    UnknownKeyError,
)

if TYPE_CHECKING:
    from serverless_jwt.adapters.decorators import (
        require_auth,
        require_claims,
        require_role,
        require_scope,
    )
    from serverless_jwt.adapters.identity import IdentityContext, current_identity, identity_of
    from serverless_jwt.adapters.powertools import JwtAuthMiddleware as JwtAuthMiddleware
    from serverless_jwt.async_verifier import AsyncVerifier
    from serverless_jwt.bearer import token_from_headers
    from serverless_jwt.issuers import MultiIssuerVerifier
    from serverless_jwt.verifier import Verifier

    __version__: str  # read on first access (serverless_jwt._version)

# Loaded on first attribute access so `import serverless_jwt` stays cheap (cold start).
_LAZY = {
    "AsyncVerifier": "serverless_jwt.async_verifier",
    "Verifier": "serverless_jwt.verifier",
    "IdentityContext": "serverless_jwt.adapters.identity",
    "JwtAuthMiddleware": "serverless_jwt.adapters.powertools",
    "MultiIssuerVerifier": "serverless_jwt.issuers",
    "current_identity": "serverless_jwt.adapters.identity",
    "identity_of": "serverless_jwt.adapters.identity",
    "token_from_headers": "serverless_jwt.bearer",
    "require_auth": "serverless_jwt.adapters.decorators",
    "require_claims": "serverless_jwt.adapters.decorators",
    "require_role": "serverless_jwt.adapters.decorators",
    "require_scope": "serverless_jwt.adapters.decorators",
}

# `from serverless_jwt import *` must work on the core install (PyJWT + cryptography): names that need
# an extra are importable by name, and listed by dir(), but not in __all__.
_NEEDS_EXTRA = ("JwtAuthMiddleware",)

__all__ = [
    "AlgorithmNotAllowedError",
    "AsyncVerifier",
    "AuthError",
    "ConfigurationError",
    "ForbiddenError",
    "IdentityContext",
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
    "MultiIssuerVerifier",
    "TokenExpiredError",
    "UnknownKeyError",
    "Verifier",
    "__version__",
    "current_identity",
    "identity_of",
    "require_auth",
    "require_claims",
    "require_role",
    "require_scope",
    "token_from_headers",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from serverless_jwt._version import version

        value: Any = version()
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'serverless_jwt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted((*__all__, *_NEEDS_EXTRA))
