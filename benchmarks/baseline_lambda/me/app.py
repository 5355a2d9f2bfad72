"""GET /me written by hand with PyJWT: the cold-start baseline for the sample ``lambdas/me``.

The same job as the sample: Powertools Logger, a key client built at import (PyJWT's ``PyJWKClient``
with cryptography), the bearer token checked for signature, issuer, audience and expiry, the claims
returned; ``JWT_SECRET`` switches to HS256 as the sample does.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jwt
from aws_lambda_powertools import Logger

logger = Logger(service="me")
ISSUER = os.environ.get("JWT_ISSUER") or None
AUDIENCE = os.environ.get("JWT_AUDIENCE") or None
SECRET = os.environ.get("JWT_SECRET") or None
# Built once per container, at import: warm invocations reuse its key cache.
JWKS_URI = os.environ.get("JWT_JWKS_URI") or f"{(ISSUER or '').rstrip('/')}/.well-known/jwks.json"
jwks_client = jwt.PyJWKClient(JWKS_URI)


def respond(status: int, body: Any, **headers: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **headers},
            "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheme, _, token = ((event.get("headers") or {}).get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return respond(401, {"error": "invalid_request"}, **{"WWW-Authenticate": "Bearer"})
    try:
        key: Any = SECRET or jwks_client.get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, algorithms=["HS256"] if SECRET else ["RS256", "ES256"],
                            audience=AUDIENCE, issuer=ISSUER, options={"require": ["exp"]})
    except jwt.PyJWTError:
        challenge = 'Bearer error="invalid_token"'
        return respond(401, {"error": "invalid_token"}, **{"WWW-Authenticate": challenge})
    logger.info("claims returned")
    return respond(200, {"claims": claims})
