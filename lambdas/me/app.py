"""GET /me: any valid bearer token; answers with the token's verified claims."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from serverless_jwt import Verifier, identity_of, require_auth

if TYPE_CHECKING:  # annotations only: nothing to load at the cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="me")
# Built once per container, at import: warm invocations reuse its key cache.
verifier = Verifier.from_env()
# Behind the REST API a proxy response carries its own CORS header (the HTTP API adds it itself).
ALLOW_ORIGIN = os.environ.get("CORS_ALLOW_ORIGIN", "")
CORS = {"Access-Control-Allow-Origin": ALLOW_ORIGIN} if ALLOW_ORIGIN else {}


@logger.inject_lambda_context(clear_state=True)
@require_auth(verifier, logger=logger, error_headers=CORS)  # refusals too: a page must read its 401
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    claims = dict(identity_of(context).claims)  # the caller, typed (context.identity_context)
    logger.info("claims returned")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", **CORS},
        "body": json.dumps({"claims": claims}),
    }
