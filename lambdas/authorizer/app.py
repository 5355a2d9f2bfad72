"""A REST API TOKEN authorizer: verifies the bearer token once, at the edge of the API.

API Gateway calls it with ``{"type": "TOKEN", "authorizationToken": "Bearer ...", "methodArn": ...}``
and caches the answer per token; the policy therefore allows the whole stage (``resource="stage"``),
and the backend functions read the claims with ``require_auth(trust_authorizer=True)``.
Configured like every sample: ``JWT_ISSUER`` / ``JWT_AUDIENCE`` (or any ``JWT_*`` variable).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

from serverless_jwt import Verifier
from serverless_jwt.adapters.authorizer import authorizer

logger = Logger(service="authorizer")  # each refusal's reason, at POWERTOOLS_LOG_LEVEL (INFO here)
# Built once per container, at import: warm invocations reuse its key cache.
verifier = Verifier.from_env()

handler = authorizer(
    verifier,
    kind="rest_token",
    resource="stage",
    # Scopes every caller needs, comma- or space-separated (a scope never holds whitespace).
    scopes=os.environ.get("AUTHORIZER_SCOPES", "").replace(",", " ").split(),
    logger=logger,
)
