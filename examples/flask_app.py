"""The sample API on Flask: GET /me (any valid token), GET /shows and /shows/<id> (read:shows).

Same configuration (JWT_ISSUER, JWT_AUDIENCE or JWT_SECRET), behaviour and error answers as the Lambda
samples in lambdas/me and lambdas/shows. Run: ``flask --app examples.flask_app run``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from serverless_jwt import Verifier, identity_of
from serverless_jwt.adapters.flask import JwtAuth

SHOWS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "lambdas" / "shows" / "shows.json").read_text("utf-8"))
BY_ID = {show["id"]: show for show in SHOWS}
SHOW_ID = re.compile(r"[1-9][0-9]{0,8}")  # ASCII digits only: anything else is simply not found

app = Flask(__name__)
auth = JwtAuth(Verifier.from_env(), app)  # built once: every request reuses its key cache


@app.get("/me")
@auth.required()
def me() -> Any:
    return {"claims": dict(identity_of().claims)}  # identity_of(): the caller, typed (also g.identity)


@app.get("/shows")
@auth.required("read:shows")
def shows() -> Any:
    return jsonify(SHOWS)


@app.get("/shows/<show_id>")
@auth.required("read:shows")
def show(show_id: str) -> Any:
    found = BY_ID.get(int(show_id)) if SHOW_ID.fullmatch(show_id) else None
    if found is None:
        return {"error": "not_found", "error_description": "No show with this id"}, 404
    return found
