"""GET /me: any valid bearer token; answers with the token's verified claims."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from serverless_jwt import Verifier, require_auth

logger = Logger(service="me")
# Built once per container, at import: warm invocations reuse its key cache.
verifier = Verifier.from_env()


@logger.inject_lambda_context(clear_state=True)
@require_auth(verifier, logger=logger)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    claims = dict(context.identity_context.claims)
    logger.info("claims returned")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"claims": claims}),
    }
