"""One structured log line per rejected request, shared by every adapter (Lambda, ASGI/WSGI, Netlify).

Codes, statuses, the failed check and the configured issuer only: nothing taken from the token.
"""

from __future__ import annotations

import logging
from typing import Any

from serverless_jwt.errors import AuthError

__all__ = ["configured_issuer", "log_rejection"]

_log = logging.getLogger("serverless_jwt")


# The check that failed, by error code (InvalidClaimError adds its claim and reason).
_CHECKS = {
    "token_missing": "token_present", "signature_missing": "x-nf-sign", "request_invalid": "request_format",
    "token_malformed": "token_format",
    "algorithm_not_allowed": "algorithm", "signature_invalid": "signature", "key_unknown": "key_id",
    "token_expired": "exp", "scope_insufficient": "scope", "forbidden": "authorization",
    "keys_unavailable": "signing_keys",
}


def configured_issuer(verifier: Any) -> str | None:
    """The issuer a verifier (or preset, or multi-issuer verifier) is configured with, for logs."""
    for candidate in (verifier, getattr(verifier, "verifier", None)):
        issuer = getattr(candidate, "issuer", None)
        if isinstance(issuer, str):
            return issuer
    issuers = getattr(verifier, "issuers", None)
    return ",".join(sorted(issuers)) if isinstance(issuers, frozenset) else None


def log_rejection(err: AuthError, *, issuer: str | None, logger: Any = None,
                  level: int = logging.INFO) -> None:
    """One structured line per rejected request: code, status, failed check, configured issuer.

    Through ``logger`` (a Powertools ``Logger``, whose JSON lines carry the ``extra`` keys) or this
    package's ``logging`` logger. Nothing here comes from the token: codes and claim names are fixed or
    configured, never a token value (nor the token).
    """
    check = _CHECKS.get(err.code, err.code)
    claim = getattr(err, "claim", None)
    if isinstance(claim, str):
        check = f"{claim}:{getattr(err, 'reason', 'invalid')}"
    fields = {"auth_code": err.code, "auth_status": err.status, "auth_check": check, "auth_issuer": issuer}
    target = logger if logger is not None else _log
    # By method name: Powertools' Logger has info/error but not every logging.Logger method.
    emit = getattr(target, "error" if level >= logging.ERROR else "info")
    emit("request rejected: code=%s status=%s check=%s issuer=%s", err.code, err.status, check, issuer,
         extra=fields)
