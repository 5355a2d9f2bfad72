"""The sample API on FastAPI: GET /me (any valid token), GET /shows and /shows/{id} (read:shows).

Same configuration (JWT_ISSUER, JWT_AUDIENCE or JWT_SECRET), behaviour and error answers as the Lambda
samples in lambdas/me and lambdas/shows. Run: ``uvicorn examples.fastapi_app:app``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security
from fastapi.responses import JSONResponse

from serverless_jwt import IdentityContext, Verifier
from serverless_jwt.adapters.fastapi import JwtBearer, install_error_handlers

SHOWS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "lambdas" / "shows" / "shows.json").read_text("utf-8"))
BY_ID = {show["id"]: show for show in SHOWS}
SHOW_ID = re.compile(r"[1-9][0-9]{0,8}")  # ASCII digits only: anything else is simply not found

app = FastAPI(title="serverless-jwt sample API")
install_error_handlers(app)  # RFC 6750 status, WWW-Authenticate and body, as the Lambda samples answer
auth = JwtBearer(Verifier.from_env())  # built once: every request reuses its key cache
Caller = Annotated[IdentityContext, Depends(auth)]  # any valid token
Reader = Annotated[IdentityContext, Security(auth, scopes=["read:shows"])]  # and the read:shows scope


@app.get("/me")
def me(identity: Caller) -> dict[str, Any]:
    return {"claims": dict(identity.claims)}


@app.get("/shows")
def shows(identity: Reader) -> list[dict[str, Any]]:
    return SHOWS


@app.get("/shows/{show_id}", response_model=None)
def show(show_id: str, identity: Reader) -> dict[str, Any] | JSONResponse:
    found = BY_ID.get(int(show_id)) if SHOW_ID.fullmatch(show_id) else None
    if found is None:
        return JSONResponse({"error": "not_found", "error_description": "No show with this id"}, 404)
    return found
