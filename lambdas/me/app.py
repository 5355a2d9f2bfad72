"""GET /me: any valid bearer token; answers with the token's verified claims."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from serverless_jwt import Verifier, identity_of, require_auth

logger = Logger(service="me")
# Built once per container, at import: warm invocations reuse its key cache.
verifier = Verifier.from_env()


@logger.inject_lambda_context(clear_state=True)
@require_auth(verifier, logger=logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    claims = dict(identity_of(context).claims)  # the caller, typed (context.identity_context)
    logger.info("claims returned")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"claims": claims}),
    }
