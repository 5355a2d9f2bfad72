"""Second reading of the adapter hot-path commits (acba7ad, 29db1f5, 0657fec, 22e6ecf, 32b4b73, 98bc00c).

Compared with 8934e8c through real decorated handlers, a real ``Verifier`` and ``DevIssuer`` tokens.

Guards (pass): a context object reused across invocations never shows an earlier caller after a
failure or a preflight; every stacking order of require_scope / require_role / require_claims (with
and without a user's decorator in between) still enforces each check; odd event shapes answer with
the same statuses as before and never crash.

Findings, now fixed and pinned here: callable handler objects that are unhashable or not weakly
referenceable crashed require_auth at decoration; an exception after ``_current.set`` (a validating
context object, a claims_mapper returning no mapping) left the caller on ``current_identity()``; scopes
read from ``identity.claims`` at first check followed later edits of the claims.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import itertools
import types
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from serverless_jwt.adapters.decorators import (
    current_identity,
    require_auth,
    require_claims,
    require_role,
    require_scope,
)
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.verifier import Verifier


@pytest.fixture
def verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)


def http(token: str | None = None, method: str = "GET", **headers: str) -> dict[str, Any]:
    hdrs = dict(headers)
    if token is not None:
        hdrs["authorization"] = f"Bearer {token}"
    return {"version": "2.0", "headers": hdrs, "requestContext": {"http": {"method": method}}}


PREFLIGHT = http(None, "OPTIONS", origin="https://app", **{"access-control-request-method": "GET"})


def isolated(run: Callable[[], Any]) -> Any:
    # A leaked current_identity() must not reach the other tests of this session.
    return contextvars.copy_context().run(run)


def ok(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "protected"}


# ---- guards: a reused context never shows an earlier caller -----------------------------------------


@pytest.mark.parametrize("second", ["no_token", "basic", "two_headers", "bad_token", "missing_scope",
                                    "preflight", "preflight_handler"])
def test_a_reused_context_is_cleared_after_any_failure_or_preflight(issuer: DevIssuer, verifier: Verifier,
                                                                    second: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append((context.identity_context, context.client_context, current_identity()))
        return {"statusCode": 200}

    mode: Any = "handler" if second == "preflight_handler" else True
    protected = require_auth(verifier, allow_preflight=mode, netlify_client_context=True,
                             scopes=["read"])(handler)
    context = types.SimpleNamespace()
    assert protected(http(issuer.mint(sub="alice", scopes=["read"])), context)["statusCode"] == 200
    assert context.identity_context.subject == "alice"
    assert context.client_context["user"]["sub"] == "alice"
    event = {
        "no_token": http(),
        "basic": http(None, Authorization="Basic dXNlcjpwYXNz"),
        "two_headers": {**http(issuer.mint()), "headers": {"authorization": f"Bearer {issuer.mint()}",
                                                           "Authorization": f"Bearer {issuer.mint()}"}},
        "bad_token": http("a.b.c"),
        "missing_scope": http(issuer.mint(sub="bob")),
        "preflight": PREFLIGHT,
        "preflight_handler": PREFLIGHT,
    }[second]
    status = protected(event, context)["statusCode"]
    assert status == {"no_token": 401, "basic": 401, "two_headers": 400, "bad_token": 401,
                      "missing_scope": 403, "preflight": 204, "preflight_handler": 200}[second]
    assert context.identity_context is None
    assert context.client_context is None
    assert current_identity() is None
    if second == "preflight_handler":
        assert seen[-1] == (None, None, None)
    else:
        assert len(seen) == 1


def test_each_request_on_a_reused_context_sees_its_own_caller(issuer: DevIssuer, verifier: Verifier) -> None:
    seen: list[tuple[Any, Any]] = []

    @require_auth(verifier)
    @require_scope("read")
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        identity = current_identity()
        assert identity is not None
        seen.append((context.identity_context.subject, identity.subject))
        return {"statusCode": 200}

    context = types.SimpleNamespace()
    for name in ("alice", "bob", "carol"):
        assert handler(http(issuer.mint(sub=name, scopes=["read"])), context)["statusCode"] == 200
    assert seen == [("alice", "alice"), ("bob", "bob"), ("carol", "carol")]


# ---- guards: every stacking order still enforces every check -----------------------------------------


def _user_decorator(calls: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # copies the wrapped require_* wrapper's __dict__
        def inner(*args: Any, **kwargs: Any) -> Any:
            calls.append("user")
            return fn(*args, **kwargs)

        return inner

    return decorate


def _raising_check(claims: Mapping[str, Any]) -> bool:
    return bool(claims["org"] == "acme")  # KeyError for tokens without org: a 403, never a 500


LAYERS = ("scope", "role", "claims", "user")


@pytest.mark.parametrize("order", list(itertools.permutations(LAYERS)))
def test_every_stacking_order_enforces_every_check(issuer: DevIssuer, verifier: Verifier,
                                                   order: tuple[str, ...]) -> None:
    calls: list[str] = []
    handler: Callable[..., Any] = ok
    for layer in reversed(order):
        if layer == "scope":
            handler = require_scope("write", "read", any_of=True)(handler)
        elif layer == "role":
            handler = require_role("admins", claim="cognito:groups")(handler)
        elif layer == "claims":
            handler = require_claims(_raising_check)(handler)
        else:
            handler = _user_decorator(calls)(handler)
    protected = require_auth(verifier)(handler)

    def token(**drop: bool) -> str:
        claims: dict[str, Any] = {"org": None if drop.get("org") else "acme",
                                  "cognito:groups": None if drop.get("role") else ["admins"]}
        return issuer.mint(sub="alice", scopes=[] if drop.get("scope") else ["read"], claims=claims)

    assert protected(http(token()), None)["statusCode"] == 200
    no_scope = protected(http(token(scope=True)), None)
    assert no_scope["statusCode"] == 403
    assert 'scope="write read"' in no_scope["headers"]["WWW-Authenticate"]
    assert protected(http(token(role=True)), None)["statusCode"] == 403
    assert protected(http(token(org=True)), None)["statusCode"] == 403
    assert protected(http(None), None)["statusCode"] == 401
    assert calls.count("user") >= 1
    assert current_identity() is None


def test_trust_authorizer_claims_still_go_through_the_stacked_checks(verifier: Verifier) -> None:
    protected = require_auth(verifier, trust_authorizer=True)(require_scope("read")(ok))
    granted = {**http(), "requestContext": {"http": {"method": "GET"},
                                            "authorizer": {"jwt": {"claims": {"sub": "a", "scope": "read"}}}}}
    refused = {**http(), "requestContext": {"http": {"method": "GET"},
                                            "authorizer": {"jwt": {"claims": {"sub": "a", "scope": "x"}}}}}
    assert protected(granted, None)["statusCode"] == 200
    assert protected(refused, None)["statusCode"] == 403


# ---- guards: odd events answer as before and never crash -----------------------------------------------


def _odd_events(token: str) -> list[tuple[dict[str, Any], int]]:
    bearer = f"Bearer {token}"
    return [
        ({"headers": None}, 401),
        ({"headers": "authorization"}, 401),
        ({"headers": [["authorization", bearer]]}, 401),
        ({"headers": {"authorization": None}}, 401),
        ({"headers": {b"authorization": bearer}}, 401),
        ({"headers": {b"authorization": "Basic x", "authorization": bearer}}, 200),
        ({"headers": {13: "x", None: "y", ("a",): "z", "authorization": bearer}}, 200),
        ({"headers": {**{f"x-h-{i}": "v" for i in range(5000)}, "Authorization": bearer}}, 200),
        ({"headers": {"authorization": bearer, "AUTHORIZATION": bearer}}, 400),
        ({"headers": {"Authorization": bearer, "authorizatioN": "Basic x"}}, 400),
        ({"headers": {"authorization": f"{bearer},{bearer}"}}, 400),
        ({"headers": {"authorization": f"Bearer\t{token}"}}, 200),
        ({"headers": {"authorization": f"Bearer   {token}  "}}, 200),
        ({"headers": {"authorization": f"BEARER {token}"}}, 200),
        ({"headers": {"authorization": f"bearer {token}"}}, 200),
        ({"headers": {"authorization": "Bearer "}}, 400),
        ({"headers": {"authorization": "Bearer"}}, 400),
        ({"headers": {"authorization": "Bearer abc=="}}, 401),  # token68 with padding: read, then refused
        ({"headers": {"authorization": "Bearer a=b"}}, 400),
        ({"headers": {"authorization": f"Bearer {token}\u00e9"}}, 400),
        # As 8934e8c: str.split() also splits at NO-BREAK SPACE (lenient, harmless: the token still verifies).
        ({"headers": {"authorization": f"Bearer\u00a0{token}"}}, 200),
        ({"multiValueHeaders": {"Authorization": [bearer]}, "headers": {"Authorization": "Basic x"}}, 200),
        ({"multiValueHeaders": {"Authorization": ["Basic x"]}, "headers": {"Authorization": bearer}}, 401),
        ({"multiValueHeaders": {"Authorization": [bearer, bearer]}}, 400),
        ({"multiValueHeaders": {"Authorization": [bearer], "authorization": [bearer]}}, 400),
        ({"multiValueHeaders": {"Authorization": [None]}, "headers": {"authorization": bearer}}, 200),
        ({"multiValueHeaders": {"Authorization": bearer}}, 401),
        ({"multiValueHeaders": "x", "headers": {"authorization": bearer}}, 200),
    ]


def test_odd_events_answer_with_the_earlier_statuses(issuer: DevIssuer, verifier: Verifier) -> None:
    protected = require_auth(verifier, allow_preflight=False)(ok)
    for event, status in _odd_events(issuer.mint()):
        full = {"httpMethod": "GET", **event}
        assert protected(full, types.SimpleNamespace())["statusCode"] == status, event


# ---- finding 1: handler objects that cannot key a WeakKeyDictionary -----------------------------------


@dataclasses.dataclass
class DataclassHandler:
    """A handler object holding its settings: eq=True makes it unhashable."""

    greeting: str = "hello"

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": self.greeting}


class SlottedHandler:
    """A slotted callable: no __weakref__."""

    __slots__ = ()

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "hello"}


@pytest.mark.parametrize("make", [DataclassHandler, SlottedHandler])
def test_callable_handler_objects_can_be_protected(issuer: DevIssuer, verifier: Verifier,
                                                   make: Callable[[], Any]) -> None:
    protected = require_auth(verifier)(make())
    assert protected(http(issuer.mint()), None)["statusCode"] == 200
    stacked = require_auth(verifier)(require_scope("read")(make()))
    assert stacked(http(issuer.mint(scopes=["read"])), None)["statusCode"] == 200


# ---- finding 2: current_identity() outlives a request that raised after it was set ---------------------


class StrictContext:
    """A context object like a pydantic model: unknown attributes raise ValueError."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise ValueError(f"no field {name}")


def test_a_context_that_refuses_attributes_does_not_leak_the_caller(issuer: DevIssuer,
                                                                    verifier: Verifier) -> None:
    reached: list[Any] = []

    def protected_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        reached.append(current_identity())
        return {"statusCode": 200, "body": "protected"}

    def run() -> tuple[Any, int]:
        first = require_auth(verifier)(ok)
        # The context may refuse the attribute (8934e8c crashed here): the request is still answered.
        assert first(http(issuer.mint(sub="alice", scopes=["admin"])), StrictContext())["statusCode"] == 200
        leaked = current_identity()
        # Another invocation in the same container: a preflight the handler answers itself.
        other = require_auth(verifier, allow_preflight="handler")(require_scope("admin")(protected_handler))
        return leaked, other(PREFLIGHT, types.SimpleNamespace())["statusCode"]

    leaked, status = isolated(run)
    assert leaked is None
    assert status == 204  # require_scope answers the preflight; the protected handler is not reached
    assert reached == []


def test_a_mapper_returning_no_mapping_does_not_leak_the_caller(issuer: DevIssuer,
                                                                verifier: Verifier) -> None:
    def run() -> Any:
        broken = require_auth(verifier, claims_mapper=lambda claims: None,  # type: ignore[arg-type,return-value]
                              netlify_client_context=True)(ok)
        with pytest.raises(Exception):  # noqa: B017,PT011 - 8934e8c: AttributeError, now TypeError
            broken(http(issuer.mint(sub="alice")), types.SimpleNamespace())
        return current_identity()

    assert isolated(run) is None


def test_a_mapper_returning_no_mapping_never_reaches_the_handler(issuer: DevIssuer,
                                                                 verifier: Verifier) -> None:
    reached: list[str] = []

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        reached.append("handler")
        return {"statusCode": 200}

    broken = require_auth(verifier, claims_mapper=lambda claims: None)(handler)  # type: ignore[arg-type,return-value]
    with pytest.raises(Exception):  # noqa: B017,PT011
        broken(http(issuer.mint()), None)
    assert reached == []


# ---- finding 3: lazily derived scopes follow later edits of identity.claims ----------------------------


def test_editing_claims_before_the_scope_check_grants_nothing(issuer: DevIssuer,
                                                              verifier: Verifier) -> None:
    def tenant_defaults(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(event: Mapping[str, Any], context: Any) -> Any:
            context.identity_context.claims["scope"] += " admin"  # app code merging defaults
            return fn(event, context)

        return inner

    protected = require_auth(verifier)(tenant_defaults(require_scope("admin")(ok)))
    # 8934e8c: the token's own scopes were fixed when the identity was made, so this was a 403.
    assert protected(http(issuer.mint(scopes=["read"])), types.SimpleNamespace())["statusCode"] == 403


def test_identity_scopes_agree_with_the_check_that_passed(issuer: DevIssuer, verifier: Verifier) -> None:
    seen: list[frozenset[str]] = []

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        identity = context.identity_context
        identity.claims["scope"] = "admin"  # a handler rewriting its copy of the claims
        seen.append(identity.scopes)
        return {"statusCode": 200}

    protected = require_auth(verifier)(require_scope("read")(handler))
    assert protected(http(issuer.mint(scopes=["read"])), types.SimpleNamespace())["statusCode"] == 200
    assert seen == [frozenset({"read"})]
