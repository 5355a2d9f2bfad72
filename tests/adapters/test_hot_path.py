"""The request hot path's shortcuts agree with the general code they skip.

* ``bearer_token`` reads plain-``dict`` events through a fast path; a read-only mapping view of the same
  event (not a ``dict``) always takes the general path, so the two can be compared on every shape.
* ``IdentityContext`` derives subject, issuer, client id, scopes and roles on first access.
* ``require_auth`` runs the checks of ``require_scope`` / ``require_role`` / ``require_claims`` wrappers
  directly below it itself.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import types
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serverless_jwt import authz
from serverless_jwt.adapters._auth import parses_strictly
from serverless_jwt.adapters.decorators import (
    current_identity,
    require_auth,
    require_claims,
    require_role,
    require_scope,
)
from serverless_jwt.adapters.events import bearer_token, is_preflight
from serverless_jwt.adapters.identity import IdentityContext, identity_from_claims
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import AuthError
from serverless_jwt.verifier import Verifier

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


def general(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The same event as read-only views: no plain dict anywhere, so no fast path applies."""
    view = dict(event)
    for name in ("headers", "multiValueHeaders"):
        if isinstance(view.get(name), dict):
            view[name] = types.MappingProxyType(view[name])
    return types.MappingProxyType(view)


def outcome(event: Mapping[str, Any], cookie_name: str | None = None) -> tuple[Any, ...]:
    try:
        return ("token", bearer_token(event, cookie_name=cookie_name))
    except AuthError as err:
        return (type(err).__name__, err.status, err.error, err.description)


def both(event: dict[str, Any], cookie_name: str | None = None) -> tuple[Any, ...]:
    fast = outcome(event, cookie_name)
    assert fast == outcome(general(event), cookie_name)
    return fast


OK = ("token", JWT)
MISSING = ("MissingTokenError", 401)
INVALID = ("InvalidRequestError", 400)

HEADER_SHAPES: list[tuple[dict[str, Any], tuple[Any, ...]]] = [
    ({"authorization": f"Bearer {JWT}"}, OK),
    ({"Authorization": f"Bearer {JWT}"}, OK),
    ({"AUTHORIZATION": f"Bearer {JWT}"}, OK),
    ({"authorization": f"bearer {JWT}"}, OK),
    ({"authorization": f"BEARER {JWT}"}, OK),
    ({"authorization": f"Bearer {JWT}", "cache-control": "no-cache", "host": "h"}, OK),
    ({"authorization": f"Bearer {JWT}", "Authorization": f"Bearer {JWT}"}, INVALID),
    ({"Authorization": f"Bearer {JWT}", "AUTHORIZATION": "Bearer x"}, INVALID),
    ({"authorization": None, "Authorization": f"Bearer {JWT}"}, OK),
    ({"authorization": f"Bearer {JWT},Bearer {JWT}"}, INVALID),
    ({"authorization": f"Bearer {JWT}, x"}, INVALID),
    ({"authorization": "Basic dXNlcjpwYXNz"}, MISSING),
    ({"authorization": "Bearer"}, INVALID),
    ({"authorization": "Bearer "}, INVALID),
    ({"authorization": "Bearer    "}, INVALID),
    ({"authorization": ""}, MISSING),
    ({"authorization": f"Bearer\t{JWT}"}, OK),
    ({"authorization": f"Bearer {JWT}\t"}, OK),
    ({"authorization": f"\tBearer {JWT}"}, OK),
    ({"authorization": f"Bearer  {JWT}"}, OK),
    ({"authorization": f"Bearer {JWT} x"}, INVALID),
    ({"authorization": "Bearer abc=="}, ("token", "abc==")),
    ({"authorization": "Bearer a+b/c~="}, ("token", "a+b/c~=")),
    ({"authorization": "Bearer a=b"}, INVALID),
    ({"authorization": "Bearer \u00e9t\u00e9"}, INVALID),
    ({"authorization": 42}, MISSING),
    ({"authorization": [f"Bearer {JWT}"]}, MISSING),
    ({13: "x", "authorization": f"Bearer {JWT}"}, OK),
    ({("a",) * 13: "x", "authorization": f"Bearer {JWT}"}, OK),
    ({}, MISSING),
]


@pytest.mark.parametrize(("headers", "expected"), HEADER_SHAPES)
def test_single_value_headers_read_the_same_on_both_paths(headers: dict[Any, Any],
                                                          expected: tuple[Any, ...]) -> None:
    got = both({"version": "2.0", "headers": headers})
    assert got[: len(expected)] == expected


MULTI_SHAPES: list[tuple[dict[str, Any], tuple[Any, ...]]] = [
    ({"multiValueHeaders": {"Authorization": [f"Bearer {JWT}"]}}, OK),
    ({"multiValueHeaders": {"Authorization": [f"Bearer {JWT}"]}, "headers": {"Authorization": "Basic x"}},
     OK),
    ({"multiValueHeaders": {"Authorization": [f"Bearer {JWT}", f"Bearer {JWT}"]}}, INVALID),
    ({"multiValueHeaders": {"Authorization": [f"Bearer {JWT}"], "authorization": ["Bearer x"]}}, INVALID),
    ({"multiValueHeaders": {"Authorization": [f"Bearer {JWT}", 7]}}, OK),
    ({"multiValueHeaders": {"Authorization": [7]}, "headers": {"authorization": f"Bearer {JWT}"}}, OK),
    ({"multiValueHeaders": {"Authorization": f"Bearer {JWT}"}}, MISSING),
    ({"multiValueHeaders": {"Authorization": []}, "headers": {"Authorization": f"Bearer {JWT}"}}, OK),
    ({"multiValueHeaders": {"host": ["h"]}, "headers": {"Authorization": f"Bearer {JWT}"}}, OK),
    ({"multiValueHeaders": {}, "headers": {"Authorization": f"Bearer {JWT}"}}, OK),
    ({"multiValueHeaders": None, "headers": {"authorization": "Basic x"}}, MISSING),
    ({"multiValueHeaders": ["x"], "headers": {"authorization": f"Bearer {JWT}"}}, OK),
    ({"multiValueHeaders": {"Authorization": ["Bearer a,b"]}}, INVALID),
    ({"headers": None}, MISSING),
    ({"headers": [("authorization", f"Bearer {JWT}")]}, MISSING),
]


@pytest.mark.parametrize(("event", "expected"), MULTI_SHAPES)
def test_multi_value_and_odd_shapes_read_the_same_on_both_paths(event: dict[str, Any],
                                                                expected: tuple[Any, ...]) -> None:
    got = both({"httpMethod": "GET", **event})
    assert got[: len(expected)] == expected


def test_cookie_fallback_only_when_configured_on_both_paths() -> None:
    event = {"version": "2.0", "headers": {"host": "h"}, "cookies": [f"nf_jwt={JWT}"]}
    assert both(event)[:2] == MISSING
    assert both(event, cookie_name="nf_jwt") == OK
    event["headers"]["authorization"] = "Basic x"  # another scheme: the cookie is still read
    assert both(event, cookie_name="nf_jwt") == OK
    event["headers"]["authorization"] = "Bearer a.b.c"  # the header wins
    assert both(event, cookie_name="nf_jwt") == ("token", "a.b.c")


KEYS = st.sampled_from(["authorization", "Authorization", "AUTHORIZATION", "aUTHORIZATION",
                        "cache-control", "host", "x-authorization", 13])
VALUES = st.sampled_from([f"Bearer {JWT}", f"bearer {JWT}", "Bearer", "Bearer ", "Basic x", "Bearer a,b",
                          f"Bearer\t{JWT}", f" Bearer {JWT} ", "Bearer a=", "Bearer ab==", "", None, 5])


@settings(max_examples=300, deadline=None)
@given(headers=st.dictionaries(KEYS, VALUES, max_size=4),
       multi=st.none() | st.dictionaries(KEYS, st.lists(VALUES, max_size=2) | VALUES, max_size=3))
def test_any_header_mix_reads_the_same_on_both_paths(headers: dict[Any, Any],
                                                     multi: dict[Any, Any] | None) -> None:
    event: dict[str, Any] = {"headers": headers}
    if multi is not None:
        event["multiValueHeaders"] = multi
    both(event)
    both(event, cookie_name="nf_jwt")


@pytest.mark.parametrize(("event", "expected"), [
    ({"httpMethod": "OPTIONS", "headers": {"Origin": "o", "Access-Control-Request-Method": "GET"}}, True),
    ({"httpMethod": "options", "headers": {"origin": "o", "access-control-request-method": "GET"}}, True),
    ({"httpMethod": "OPTIONS", "headers": {"Origin": "o"}}, False),
    ({"httpMethod": "GET", "headers": {"Origin": "o", "Access-Control-Request-Method": "GET"}}, False),
    ({"requestContext": {"http": {"method": "OPTIONS"}},
      "headers": {"origin": "o", "access-control-request-method": "GET"}}, True),
    ({"httpMethod": 5, "requestContext": {"http": {"method": "OPTIONS"}},
      "headers": {"origin": "o", "access-control-request-method": "GET"}}, True),
    ({"requestContext": {"http": {"method": None}}, "headers": {"origin": "o"}}, False),
    ({"requestContext": "x"}, False),
])
def test_preflight_needs_options_origin_and_request_method(event: dict[str, Any], expected: bool) -> None:
    assert is_preflight(event) is expected
    assert is_preflight(general(event)) is expected


class Method(str):
    """A str subclass, as a hand-built test event might carry."""


def reference_preflight(event: Mapping[str, Any]) -> bool:
    """The rule as written: an OPTIONS method (any case) with Origin and Access-Control-Request-Method."""
    from serverless_jwt.adapters.events import _raw_method, header_values

    method = _raw_method(event)
    return (method is not None and method.upper() == "OPTIONS" and bool(header_values(event, "origin"))
            and bool(header_values(event, "access-control-request-method")))


METHODS = st.sampled_from(["GET", "OPTIONS", "options", "OPTIONs", "OPTION", "OPTIONSS", "", "\u00f6ptions",
                           "OPTIO\ufb06", "option\u017f", Method("OPTIONS"), Method("GET"), None, 7])


@settings(max_examples=400, deadline=None)
@given(v1=st.none() | METHODS, v2=st.none() | METHODS, ctx_kind=st.sampled_from(["dict", "proxy", "odd"]),
       cors=st.booleans())
def test_preflight_reads_every_method_shape_as_the_rule_says(v1: Any, v2: Any, ctx_kind: str,
                                                             cors: bool) -> None:
    event: dict[str, Any] = {"headers": {"origin": "o", "access-control-request-method": "GET"} if cors
                             else {"origin": "o"}}
    if v1 is not None:
        event["httpMethod"] = v1
    if v2 is not None:
        http = {"method": v2}
        event["requestContext"] = {"http": http if ctx_kind == "dict" else types.MappingProxyType(http)} \
            if ctx_kind != "odd" else "x"
    assert is_preflight(event) is reference_preflight(event)
    assert is_preflight(general(event)) is reference_preflight(event)


CLAIMS = {"sub": "alice", "iss": "https://issuer.example", "azp": "spa", "client_id": "other",
          "scope": "read:shows  openid", "permissions": ["write:shows", 3],
          "app_metadata": {"authorization": {"roles": ["admin"]}}, "cognito:groups": ["staff"]}


def test_lazy_identity_fields_are_read_from_the_claims() -> None:
    identity = identity_from_claims(dict(CLAIMS), "a.b.c", authz.DEFAULT_ROLES_PATH)
    assert identity.subject == "alice"
    assert identity.issuer == "https://issuer.example"
    assert identity.client_id == "spa"
    assert identity.scopes == frozenset({"read:shows", "openid", "write:shows"})
    assert identity.roles == frozenset({"admin"})
    assert identity.source == "token"
    assert identity.token == "a.b.c"
    other = identity_from_claims({"sub": 5, "client_id": "cli", "scope": 1}, None, "cognito:groups")
    assert (other.subject, other.issuer, other.client_id) == (None, None, "cli")
    assert other.scopes == frozenset()
    assert other.roles == frozenset()
    assert other.source == "authorizer"
    assert other.token is None
    grouped = identity_from_claims(CLAIMS, None, "cognito:groups")
    assert grouped.roles == frozenset({"staff"})
    assert type(grouped.scopes) is frozenset
    assert type(grouped.roles) is frozenset


def test_lazy_identity_fields_are_computed_once_and_kept() -> None:
    claims = dict(CLAIMS)
    identity = identity_from_claims(claims, "a.b.c", authz.DEFAULT_ROLES_PATH)
    first = identity.scopes
    assert identity.scopes is first
    subject = identity.subject
    claims["sub"] = "mallory"  # the claims changing later does not change what was read
    claims["scope"] = "admin"
    assert identity.subject == subject == "alice"
    assert identity.scopes is first


@pytest.mark.parametrize("name", ["claims", "token", "subject", "issuer", "client_id", "scopes", "roles",
                                  "source", "anything"])
def test_identity_is_immutable_before_and_after_a_field_is_read(name: str) -> None:
    identity = identity_from_claims(dict(CLAIMS), "a.b.c", authz.DEFAULT_ROLES_PATH)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(identity, name, "x")
    getattr(identity, name, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(identity, name, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(identity, name)


def test_token_is_never_in_repr_and_repr_shows_the_derived_fields() -> None:
    identity = identity_from_claims(dict(CLAIMS), JWT, authz.DEFAULT_ROLES_PATH)
    text = repr(identity)
    assert JWT not in text
    assert "subject='alice'" in text
    assert "client_id='spa'" in text
    assert "source='token'" in text
    assert "_roles_claim" not in text


def test_unknown_attribute_is_an_attribute_error() -> None:
    identity = identity_from_claims({}, None, authz.DEFAULT_ROLES_PATH)
    with pytest.raises(AttributeError):
        identity.nonexistent  # type: ignore[attr-defined]  # noqa: B018


def test_lazy_identity_equals_one_built_with_every_field_and_survives_copies() -> None:
    lazy = identity_from_claims(dict(CLAIMS), "a.b.c", authz.DEFAULT_ROLES_PATH)
    eager = IdentityContext(claims=dict(CLAIMS), token="a.b.c", subject="alice",
                            scopes=frozenset({"read:shows", "openid", "write:shows"}),
                            roles=frozenset({"admin"}), issuer="https://issuer.example", client_id="spa")
    assert lazy == eager
    assert lazy != dataclasses.replace(eager, subject="bob")
    assert dataclasses.replace(lazy, subject="bob").subject == "bob"
    for twin in (copy.copy(lazy), copy.deepcopy(lazy), pickle.loads(pickle.dumps(lazy))):  # noqa: S301
        assert twin == lazy
    assert dataclasses.asdict(lazy)["roles"] == frozenset({"admin"})
    assert [f.name for f in dataclasses.fields(IdentityContext)] == [
        "claims", "token", "subject", "scopes", "roles", "issuer", "client_id", "source"]


# ---- require_auth running the authorization decorators directly below it ----------------------------


@pytest.fixture
def verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)


def event_for(token: str | None, method: str = "GET", **headers: str) -> dict[str, Any]:
    hdrs = dict(headers)
    if token is not None:
        hdrs["authorization"] = f"Bearer {token}"
    return {"version": "2.0", "headers": hdrs, "requestContext": {"http": {"method": method}}}


def seen_handler(seen: list[Any]) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]:
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        seen.append(current_identity())
        return {"statusCode": 200}

    return handler


def test_stacked_checks_run_in_order_and_the_first_refusal_answers(issuer: DevIssuer,
                                                                   verifier: Verifier) -> None:
    seen: list[Any] = []
    handler = require_auth(verifier)(require_scope("read:shows")(require_role("admin")(
        require_claims(lambda c: c.get("sub") == "alice")(seen_handler(seen)))))
    context = types.SimpleNamespace()
    assert handler(event_for(issuer.mint(sub="alice", scopes=["read:shows"], roles=["admin"])),
                   context)["statusCode"] == 200
    assert seen[0].subject == "alice"
    no_scope = handler(event_for(issuer.mint(sub="alice", roles=["admin"])), context)
    assert no_scope["statusCode"] == 403
    assert "insufficient_scope" in no_scope["headers"]["WWW-Authenticate"]
    no_role = handler(event_for(issuer.mint(sub="alice", scopes=["read:shows"])), context)
    assert no_role["statusCode"] == 403
    assert "insufficient_scope" not in str(no_role["headers"])
    bob = handler(event_for(issuer.mint(sub="bob", scopes=["read:shows"], roles=["admin"])), context)
    assert bob["statusCode"] == 403
    assert len(seen) == 1
    assert current_identity() is None


def test_a_refused_scope_clears_the_identity_from_the_context_fused_or_not(issuer: DevIssuer,
                                                                           verifier: Verifier) -> None:
    # Fused into require_auth or run inside the handler call, a refusal leaves no caller on the context.
    handler = require_auth(verifier)(require_scope("write:shows", "read:shows", any_of=True)(
        seen_handler([])))
    context = types.SimpleNamespace()
    assert handler(event_for(issuer.mint(sub="alice", scopes=["openid"])), context)["statusCode"] == 403
    assert context.identity_context is None
    assert handler(event_for(issuer.mint(sub="al", scopes=["read:shows"])), context)["statusCode"] == 200


def test_a_users_decorator_between_require_auth_and_require_scope_still_runs(issuer: DevIssuer,
                                                                             verifier: Verifier) -> None:
    import functools

    calls: list[str] = []

    def mine(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # copies the require_scope wrapper's __dict__
        def inner(*args: Any, **kwargs: Any) -> Any:
            calls.append("mine")
            return fn(*args, **kwargs)

        return inner

    handler = require_auth(verifier)(mine(require_scope("read:shows")(seen_handler([]))))
    assert handler(event_for(issuer.mint(scopes=["read:shows"])), None)["statusCode"] == 200
    assert handler(event_for(issuer.mint(scopes=["openid"])), None)["statusCode"] == 403
    assert calls == ["mine", "mine"]


def test_require_scope_alone_with_a_verifier_still_authenticates(issuer: DevIssuer,
                                                                  verifier: Verifier) -> None:
    handler = require_scope("read:shows", verifier=verifier)(seen_handler([]))
    assert handler(event_for(issuer.mint(scopes=["read:shows"])), None)["statusCode"] == 200
    assert handler(event_for(issuer.mint(scopes=["openid"])), None)["statusCode"] == 403
    assert handler(event_for(None), None)["statusCode"] == 401
    stacked = require_auth(verifier)(handler)
    assert stacked(event_for(issuer.mint(scopes=["openid"])), None)["statusCode"] == 403


def test_preflight_for_the_handler_passes_the_scope_wrapper_unauthenticated(verifier: Verifier) -> None:
    seen: list[Any] = []
    handler = require_auth(verifier, allow_preflight="handler")(require_scope("read:shows")(
        seen_handler(seen)))
    context = types.SimpleNamespace(identity_context="stale")
    preflight = event_for(None, "OPTIONS", origin="https://app", **{"access-control-request-method": "GET"})
    assert handler(preflight, context)["statusCode"] == 200  # the handler answers it, with nobody as caller
    assert seen == [None]
    assert context.identity_context is None


def test_a_failed_request_clears_an_earlier_caller_from_a_reused_context(issuer: DevIssuer,
                                                                         verifier: Verifier) -> None:
    handler = require_auth(verifier, netlify_client_context=True)(seen_handler([]))
    context = types.SimpleNamespace()
    assert handler(event_for(issuer.mint(sub="alice")), context)["statusCode"] == 200
    assert context.identity_context.subject == "alice"
    assert context.client_context is not None
    assert handler(event_for("not-a-jwt"), context)["statusCode"] == 401
    assert context.identity_context is None
    assert context.client_context is None


class Broken:
    """A verifier with a bug: raises something that is not an AuthError."""

    def verify(self, token: str) -> Mapping[str, Any]:
        raise RuntimeError("bug")


def test_an_unexpected_error_propagates_and_still_clears_the_context() -> None:
    handler = require_auth(Broken())(seen_handler([]))
    context = types.SimpleNamespace(identity_context="stale")
    with pytest.raises(RuntimeError):
        handler(event_for(JWT), context)
    assert context.identity_context is None
    assert current_identity() is None


def test_handler_called_with_keywords_or_odd_events_reads_them_as_before(issuer: DevIssuer,
                                                                         verifier: Verifier) -> None:
    handler = require_auth(verifier)(seen_handler([]))
    token = issuer.mint()
    assert handler(event=event_for(token), context=None)["statusCode"] == 200
    assert handler(["not", "a", "mapping"], None)["statusCode"] == 401
    assert handler(types.MappingProxyType(event_for(token)), None)["statusCode"] == 200


# ---- the scope check answers the usual token without building the scope set ---------------------------

SCOPE_VALUES = st.sampled_from(["read:shows", "read:shows openid", "  read:shows  ", "openid", "", " ",
                                "read:shows\topenid", "write:shows read:shows", None, 7,
                                ["read:shows"], ["openid", 3]])


def decision(run: Callable[[], None]) -> tuple[Any, ...]:
    try:
        run()
    except AuthError as err:
        return (type(err).__name__, err.description, err.www_authenticate())
    return ("ok",)


@settings(max_examples=300, deadline=None)
@given(scope=SCOPE_VALUES, scp=st.none() | SCOPE_VALUES, permissions=st.none() | SCOPE_VALUES,
       required=st.lists(st.sampled_from(["read:shows", "openid", "write:shows"]), min_size=1, max_size=3),
       any_of=st.booleans(), read_first=st.booleans())
def test_scope_check_decides_as_check_scopes_on_the_claims(scope: Any, scp: Any, permissions: Any,
                                                           required: list[str], any_of: bool,
                                                           read_first: bool) -> None:
    from serverless_jwt.adapters._auth import _scope_check

    claims = {"sub": "u", "scope": scope, "scp": scp, "permissions": permissions}
    claims = {k: v for k, v in claims.items() if v is not None or k == "scope"}
    identity = identity_from_claims(claims, "a.b.c", authz.DEFAULT_ROLES_PATH)
    if read_first:  # scopes already derived: the check reads the set instead
        assert identity.scopes == authz.scopes_of(claims)
    expected = decision(lambda: authz.check_scopes(claims, required, any_of=any_of))
    assert decision(lambda: _scope_check(tuple(required), any_of=any_of)(identity)) == expected
    eager = dataclasses.replace(identity, scopes=list(authz.scopes_of(claims)))  # any collection
    assert decision(lambda: _scope_check(tuple(required), any_of=any_of)(eager)) == expected


# ---- a Verifier is handed the credentials as sent; bearer_token reads them only on a refusal -----------


class Checked:
    """A verifier behind a type require_auth does not know: it only gets what bearer_token passed."""

    def __init__(self, verifier: Any) -> None:
        self.verifier = verifier

    def verify(self, token: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = self.verifier.verify(token)
        return result


class KeyWork:
    """Counts what a Verifier asks of its key source (fetches, refreshes, key look-ups)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name == "fresh_generation":  # bound once by the verifier: count each call of it

            def counted() -> Any:
                self.calls += 1
                return value()

            return counted
        if name in ("keys_for", "prefetch"):
            self.calls += 1
        return value


def token_echo(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    identity = current_identity()
    assert identity is not None
    return {"statusCode": 200, "body": identity.token}


def request_with(shape: str, value: str, cookie: str) -> dict[str, Any]:
    if shape == "rest_multi":  # REST 1.0: multiValueHeaders is authoritative
        return {"httpMethod": "GET", "headers": {"Authorization": "Basic x"},
                "multiValueHeaders": {"Authorization": [value]}}
    if shape == "alb":
        return {"httpMethod": "GET", "headers": {"authorization": value, "host": "h"},
                "requestContext": {"elb": {"targetGroupArn": "arn"}}}
    event = event_for(None, authorization=value)
    if shape == "http_cookie":
        event["cookies"] = [f"nf_jwt={cookie}"]
    return event


def answer(handler: Callable[..., Any], event: dict[str, Any]) -> tuple[Any, ...]:
    response = handler(event, types.SimpleNamespace())
    headers = response.get("headers") or {}
    return response["statusCode"], headers.get("WWW-Authenticate"), response.get("body")


def strict_verifier(issuer: DevIssuer, kind: str) -> tuple[Any, KeyWork]:
    plain = Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)
    keys = plain._keys = KeyWork(plain._keys)
    if kind == "multi":
        from serverless_jwt.issuers import MultiIssuerVerifier

        return MultiIssuerVerifier([plain]), keys
    return plain, keys


SENT = st.sampled_from(["Bearer ", "bearer ", "BEARER ", "Bearer  ", "Bearer\t", " Bearer ", "Basic "])
TAILS = st.sampled_from(["", " ", "\t", "  ", " x", ",Bearer y", "=", "==", "!", "\x00", "\u00e9", "~", "+/",
                         ".", ".x", "\r\n", "\xa0"])
STRAY = st.sampled_from(list(" \t\r\n\x0b\x0c!=~+/.,;\"\x00\x7f\xa0\u00e9\u2028"))


@pytest.mark.parametrize("kind", ["Verifier", "multi"])
@pytest.mark.parametrize("native", [True, False], ids=["speedups", "pure"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=SENT, which=st.sampled_from(["good", "expired", "unknown kid", "other"]), tail=TAILS,
       stray=st.none() | st.tuples(st.integers(0, 2000), STRAY), lead=st.sampled_from(["", " ", "~"]),
       shape=st.sampled_from(["http", "http_cookie", "rest_multi", "alb"]))
def test_credentials_handed_over_as_sent_get_the_answer_the_checked_path_gives(
        issuer: DevIssuer, kind: str, native: bool, sent: str, which: str, tail: str,
        stray: tuple[int, str] | None, lead: str, shape: str) -> None:
    from serverless_jwt import token as token_module

    if token_module.use_speedups(native) != native:
        token_module.use_speedups()
        pytest.skip("the speedups extra (msgspec, pybase64) is not installed")
    try:
        good = issuer.mint(sub="alice")
        token = {"good": good, "expired": issuer.mint(sub="alice", lifetime_seconds=-60),
                 "unknown kid": issuer.mint(sub="alice", kid="not-published"),
                 "other": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}[which]
        if stray is not None:
            at = stray[0] % len(token)
            token = token[:at] + stray[1] + token[at:]
        event = request_with(shape, f"{sent}{lead}{token}{tail}", good)
        # Separate verifiers: neither side is served from a cache the other one filled.
        strict, key_work = strict_verifier(issuer, kind)
        checked = Checked(strict_verifier(issuer, kind)[0])
        assert parses_strictly(strict)
        assert not parses_strictly(checked)
        as_sent = answer(require_auth(strict, cookie_name="nf_jwt")(token_echo), copy.deepcopy(event))
        assert as_sent == answer(require_auth(checked, cookie_name="nf_jwt")(token_echo), event)
        if as_sent[0] == 400:  # a malformed request: the verifier did no key work for it
            assert key_work.calls == 0
    finally:
        token_module.use_speedups()


def test_a_well_formed_token_is_verified_once_and_an_untrimmed_one_twice(
        issuer: DevIssuer, verifier: Verifier, monkeypatch: pytest.MonkeyPatch) -> None:
    from serverless_jwt import token as token_module

    parsed: list[str] = []
    decode = token_module.decode

    def counting(token: str, **kwargs: Any) -> Any:
        parsed.append(token)
        return decode(token, **kwargs)

    monkeypatch.setattr(token_module, "decode", counting)  # the Verifier's first step on every token
    handler = require_auth(verifier)(token_echo)
    good, expired = issuer.mint(sub="alice"), issuer.mint(sub="alice", lifetime_seconds=-60)
    assert answer(handler, event_for(good))[::2] == (200, good)
    assert parsed == [good]
    assert answer(handler, event_for(expired))[0] == 401
    assert parsed[1:] == [expired]  # refused once: the header needs no second reading
    parsed.clear()
    other = issuer.mint(sub="bob")
    assert answer(handler, event_for(None, authorization=f"Bearer  {other}\t"))[::2] == (200, other)
    assert parsed == [f" {other}\t", other]  # OWS: refused as sent, then read by the rules
    parsed.clear()
    assert answer(handler, event_for(None, authorization=f"Bearer {good}!"))[0] == 400  # still 400
    assert parsed == [f"{good}!"]


def test_a_verifier_whose_verify_is_replaced_only_ever_sees_checked_credentials(
        issuer: DevIssuer, verifier: Verifier, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Recording(Verifier):
        def verify(self, token: str) -> dict[str, Any]:
            seen.append(token)
            return super().verify(token)

    def recorded(verify: Callable[[str], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def wrapper(*args: Any) -> dict[str, Any]:
            seen.append(args[-1])
            return verify(*args)

        return wrapper

    subclassed = Recording(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)
    instance = Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)
    instance.verify = recorded(instance.verify)  # type: ignore[method-assign]
    good = issuer.mint(sub="alice")
    for replaced in (subclassed, instance):
        assert not parses_strictly(replaced)
        handler = require_auth(replaced)(token_echo)
        assert answer(handler, event_for(None, authorization=f"Bearer {good}!"))[0] == 400
        assert answer(handler, event_for(None, authorization=f"Bearer  {good}"))[::2] == (200, good)
    assert seen == [good, good]
    monkeypatch.setattr(Verifier, "verify", recorded(Verifier.verify))  # instrumentation patching the class
    assert not parses_strictly(verifier)
