"""Scopes, roles and configured names on verified claims; mappers: test_claims_mappers."""

from __future__ import annotations

from typing import Any

import pytest

from serverless_jwt import authz
from serverless_jwt.authz import (
    DEFAULT_ROLES_PATH,
    check_roles,
    check_scopes,
    roles_of,
    scopes_of,
    validate_names,
)
from serverless_jwt.errors import ConfigurationError, ForbiddenError, InsufficientScopeError


def test_scope_claim_is_space_delimited() -> None:
    assert scopes_of({"scope": "read:shows  write:shows"}) == {"read:shows", "write:shows"}


def test_a_repeated_scope_claim_is_split_once_and_equals_a_fresh_split() -> None:
    from serverless_jwt import authz

    authz._SCOPE_SETS.clear()
    first = scopes_of({"scope": "read:shows  openid"})
    # A later token with the same claim gets the very set made for the first (immutable, shared)...
    assert scopes_of({"sub": "b", "scope": "read:shows  openid"}) is first
    # ...and every cached set is what the general reading gives.
    for text in ("", " ", "a", " a  b ", "a a", "read:shows  openid", "x\ty z"):
        assert scopes_of({"scope": text}) == scopes_of({"scope": text}, claim_names=("scope",))
        assert scopes_of({"scope": text}) == frozenset(text.split(" ")) - {""}
    # Bounded: one claim per distinct value would otherwise grow it for ever.
    for i in range(200):
        scopes_of({"scope": f"s{i}"})
    assert len(authz._SCOPE_SETS) <= 64
    # scp/permissions beside scope, or a scope that is no str, never read a cached set.
    assert scopes_of({"scope": "read:shows  openid", "scp": ["x"]}) == {"read:shows", "openid", "x"}


def test_okta_scp_array_and_auth0_permissions_are_scopes_too() -> None:
    claims = {"scp": ["openid", "read"], "permissions": ["delete:shows"], "scope": "profile"}
    assert scopes_of(claims) == {"openid", "read", "delete:shows", "profile"}


def test_scp_may_also_be_a_string() -> None:
    assert scopes_of({"scp": "a b"}) == {"a", "b"}


def test_non_string_scope_members_are_ignored_not_coerced() -> None:
    assert scopes_of({"scp": ["read", 1, None, {"x": 1}, ["nested"], True]}) == {"read"}
    assert scopes_of({"scope": 42}) == frozenset()


def test_scope_matching_is_exact_and_case_sensitive() -> None:
    with pytest.raises(InsufficientScopeError):
        check_scopes({"scope": "Read:Shows"}, ["read:shows"])
    with pytest.raises(InsufficientScopeError):
        check_scopes({"scope": "read:shows:all"}, ["read:shows"])


def test_missing_scopes_are_named_exactly() -> None:
    with pytest.raises(InsufficientScopeError) as info:
        check_scopes({"scope": "a c"}, ["a", "b", "c", "d"])
    assert info.value.scopes == ("b", "d")
    assert info.value.status == 403
    with pytest.raises(InsufficientScopeError) as one:
        check_scopes({"scope": "x"}, ["read:shows"])
    assert one.value.description == "Token does not contain the required 'read:shows' scope"


def test_the_challenge_names_every_required_scope_not_just_the_missing_ones() -> None:
    # RFC 6750 §3: `scope` is the scope the resource needs. Naming only what is missing sends a client
    # that asks for exactly that back with a token lacking what it had (read -> write -> read ...).
    with pytest.raises(InsufficientScopeError) as info:
        check_scopes({"scope": "read:shows"}, ["read:shows", "write:shows"])
    challenge = info.value.response().headers["WWW-Authenticate"]
    assert 'scope="read:shows write:shows"' in challenge
    assert info.value.required == ("read:shows", "write:shows")
    assert info.value.description == "Token does not contain the required 'write:shows' scope"


def test_any_of_scopes_accepts_one_and_names_all_when_none() -> None:
    check_scopes({"scope": "b"}, ["a", "b"], any_of=True)
    with pytest.raises(InsufficientScopeError) as info:
        check_scopes({"scope": "z"}, ["a", "b"], any_of=True)
    assert info.value.scopes == ("a", "b")


def test_the_default_path_also_reads_where_netlify_identity_stores_roles() -> None:
    # GoTrue (Netlify Identity) writes a user's roles to app_metadata.roles; Netlify's RBAC format for
    # other providers is app_metadata.authorization.roles. Both are one Netlify user's roles.
    gotrue = {"app_metadata": {"provider": "email", "roles": ["admin"]}}
    assert roles_of(gotrue) == {"admin"}
    both = {"app_metadata": {"roles": ["admin"], "authorization": {"roles": ["editor"]}}}
    assert roles_of(both) == {"admin", "editor"}
    assert roles_of(gotrue, "app_metadata.authorization.roles") == {"admin"}  # the same default, spelled
    assert roles_of(gotrue, "roles") == frozenset()  # another path reads only itself


def test_netlify_roles_are_the_default_path() -> None:
    claims = {"app_metadata": {"authorization": {"roles": ["admin", "editor"]}}}
    assert roles_of(claims) == {"admin", "editor"}
    assert DEFAULT_ROLES_PATH == "app_metadata.authorization.roles"


def test_namespaced_top_level_claim_is_read_literally() -> None:
    claims = {"https://example.com/roles": ["editor"], "https://example": {"com/roles": ["wrong"]}}
    assert roles_of(claims, "https://example.com/roles") == {"editor"}


def test_tuple_path_reaches_names_that_contain_dots() -> None:
    claims = {"ext": {"https://example.com/roles": ["ops"]}}
    assert roles_of(claims, ("ext", "https://example.com/roles")) == {"ops"}


def test_cognito_groups_and_single_string_roles() -> None:
    assert roles_of({"cognito:groups": ["admins"]}, "cognito:groups") == {"admins"}
    assert roles_of({"role": "admin"}, "role") == {"admin"}


def test_roles_path_through_a_non_object_yields_no_roles() -> None:
    assert roles_of({"app_metadata": "admin"}) == frozenset()
    assert roles_of({}) == frozenset()


def test_missing_roles_are_forbidden_naming_the_configured_roles() -> None:
    claims = {"cognito:groups": ["staff"]}
    with pytest.raises(ForbiddenError) as info:
        check_roles(claims, ["admins", "staff"], path="cognito:groups")
    assert "'admins'" in info.value.description
    assert "'staff'" not in info.value.description
    check_roles(claims, ["admins", "staff"], path="cognito:groups", any_of=True)


@pytest.mark.parametrize("names", [[], ["has space"], ['quote"'], ["back\\slash"], "read"])
def test_unusable_configured_names_fail_at_configuration(names: list[str] | str) -> None:
    with pytest.raises(ConfigurationError):
        validate_names(names, "scope")


@pytest.mark.parametrize("names", [[], [""], ["tab\there"], ["line\nbreak"], [7], "admins"])
def test_unusable_role_names_fail_at_configuration(names: Any) -> None:
    with pytest.raises(ConfigurationError):
        validate_names(names, "role")


def test_role_names_may_be_any_printable_text_a_provider_allows() -> None:
    # Only scopes reach WWW-Authenticate; roles reach a 403's JSON description at most.
    names = ["Sales Team", "管理者", 'o"brien', "back\\slash"]
    assert validate_names(names, "role") == tuple(names)


def test_a_roles_claim_per_issuer_is_checked_like_one_claim() -> None:
    assert authz.validate_claim_path({"https://a/": ["x", "y"]}, "roles_claim") == {"https://a/": ("x", "y")}
    for bad in ({}, {"https://a/": ""}, {"": "roles"}, {"https://a/": {"nested": "roles"}}):
        with pytest.raises(ConfigurationError):
            authz.validate_claim_path(bad, "roles_claim")  # type: ignore[arg-type]
    assert authz.roles_of({"iss": "https://a/", "x": {"y": ["r"]}}, {"https://a/": ("x", "y")}) == {"r"}
    assert authz.roles_of({"iss": "https://b/", "x": {"y": ["r"]}}, {"https://a/": ("x", "y")}) == frozenset()


@pytest.mark.parametrize("check", [
    lambda: authz.check_scopes({"scope": "a d m i n"}, "admin"),
    lambda: authz.check_scopes({"scope": "a"}, "admin", any_of=True),
    lambda: authz.check_scope_set(frozenset({"a"}), "admin", any_of=True),
    lambda: authz.check_roles({"roles": ["a", "d", "m", "i", "n"]}, "admin", path="roles"),
    lambda: authz.check_role_set(frozenset({"a"}), "admin", any_of=True),
])
def test_one_string_of_required_names_is_refused_not_read_as_its_characters(check: Any) -> None:
    # Read as characters, "admin" would let in a token granted "a d m i n" (or, any-of, just "a").
    with pytest.raises(ConfigurationError, match=r"\['admin'\], not one string"):
        check()
