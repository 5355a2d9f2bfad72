"""GET /shows and GET /shows/{id}: the TV-show catalogue, for tokens granted the read:shows scope."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from serverless_jwt import Verifier, require_auth, require_scope

if TYPE_CHECKING:  # annotations only: nothing to load at the cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="shows")
# Built once per container, at import: warm invocations reuse its key cache.
verifier = Verifier.from_env()
# Behind the REST API a proxy response carries its own CORS header (the HTTP API adds it itself).
ALLOW_ORIGIN = os.environ.get("CORS_ALLOW_ORIGIN", "")
CORS = {"Access-Control-Allow-Origin": ALLOW_ORIGIN} if ALLOW_ORIGIN else {}
# The catalogue ships with the function: answering needs no network.
SHOWS: list[dict[str, Any]] = json.loads(Path(__file__).with_name("shows.json").read_text("utf-8"))
BY_ID = {show["id"]: show for show in SHOWS}
SHOW_ID = re.compile(r"[1-9][0-9]{0,8}")  # ASCII digits only: anything else is simply not found


def respond(status: int, body: Any) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **CORS}
    return {"statusCode": status, "headers": headers, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
@require_auth(verifier, logger=logger, error_headers=CORS)  # refusals too: a page must read its 401
@require_scope("read:shows")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    params = event.get("pathParameters")
    if not isinstance(params, dict) or "id" not in params:
        logger.info("catalogue listed")
        return respond(200, SHOWS)
    show_id = params["id"]
    show = BY_ID.get(int(show_id)) if isinstance(show_id, str) and SHOW_ID.fullmatch(show_id) else None
    if show is None:
        logger.info("show not found")
        return respond(404, {"error": "not_found", "error_description": "No show with this id"})
    logger.info("show returned")
    return respond(200, show)
