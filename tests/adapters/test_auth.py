"""The shared wrapper of require_auth and the authorization decorators (adapters/_auth.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from serverless_jwt.adapters.decorators import require_auth, require_scope
from serverless_jwt.adapters.identity import identity_of
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.verifier import Verifier

EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)


def test_a_decorated_method_reads_its_event_after_self(kind: str, make_event: EventFactory,
                                                       issuer: DevIssuer, verifier: Verifier) -> None:
    # Class-based handlers (handler = Service().handle) are called (self, event, context): the event
    # is not args[0] there, and reading self as the event answered every caller 401.
    class Service:
        @require_auth(verifier)
        def handle(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "body": identity_of(context).subject}

        @require_scope("read", verifier=verifier)
        def scoped(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "body": identity_of(context).subject}

    event = make_event(kind, headers={"Authorization": f"Bearer {issuer.mint(sub='alice', scopes=['read'])}"})
    service = Service()
    assert service.handle(event, None) == {"statusCode": 200, "body": "alice"}
    assert service.scoped(event, None) == {"statusCode": 200, "body": "alice"}
    assert service.handle(event=event, context=None)["statusCode"] == 200
    assert service.handle(make_event(kind), None)["statusCode"] == 401
