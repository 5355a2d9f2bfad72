"""Event fixtures from tests/fixtures/events (SAM-generated; Function URL hand-written), loaded fresh."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parent.parent / "fixtures" / "events"
KINDS = ("rest_v1", "http_v2", "alb", "function_url")


@cache
def _load(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{kind}.json").read_text())
    return data


def load_event(kind: str, *, method: str = "GET", headers: dict[str, str] | None = None,
               multi: bool = False) -> dict[str, Any]:
    """A fresh copy of one fixture with its method set and its headers replaced by ``headers``.

    ``multi``: for REST v1 and ALB, send headers as ``multiValueHeaders`` (REST: both forms, as
    API Gateway does; ALB: only multiValueHeaders, as a multi-value target group does).
    """
    event = copy.deepcopy(_load(kind))
    hdrs = dict(headers or {})
    if kind in ("rest_v1", "alb"):
        event["httpMethod"] = method
        if kind == "rest_v1":
            event["requestContext"]["httpMethod"] = method
        if multi:
            event["multiValueHeaders"] = {k: [v] for k, v in hdrs.items()}
            if kind == "alb":
                event.pop("headers", None)
            else:
                event["headers"] = hdrs
        else:
            event["headers"] = hdrs
            event.pop("multiValueHeaders", None)
    else:
        event["requestContext"]["http"]["method"] = method
        event["headers"] = {k.lower(): v for k, v in hdrs.items()}
        event.pop("cookies", None)
    return event


@pytest.fixture
def make_event() -> Any:
    """The :func:`load_event` factory (fixtures cannot be imported from conftest reliably)."""
    return load_event


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value
