"""Authorization on verified claims: scopes, roles, custom predicates and claim mapping.

Nothing here knows about events or HTTP: every function takes a claims mapping (already verified)
and either answers a question or raises :class:`~serverless_jwt.errors.InsufficientScopeError` /
:class:`~serverless_jwt.errors.ForbiddenError`, which the adapters turn into a response.

The claims mappers (``strip_namespace``, ``split_claim``, ``chain``) live in
:mod:`serverless_jwt._claims_mappers` and are loaded from there on first access to their names here.

Examples
--------
>>> claims = {"scope": "read:shows write:shows", "app_metadata": {"authorization": {"roles": ["admin"]}}}
>>> sorted(scopes_of(claims))
['read:shows', 'write:shows']
>>> roles_of(claims)
frozenset({'admin'})
>>> check_scopes(claims, ["read:shows"])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from serverless_jwt.errors import ConfigurationError, ForbiddenError, InsufficientScopeError

if TYPE_CHECKING:
    from serverless_jwt._claims_mappers import chain, split_claim, strip_namespace

# `dict` first: events and claims are plain dicts, and the ABC check costs ~10x an exact-type check.
_MAPPING = (dict, Mapping)

__all__ = [
    "DEFAULT_ROLES_PATH",
    "SCOPE_CLAIMS",
    "ClaimPath",
    "ClaimsMapper",
    "chain",
    "check_role_set",
    "check_roles",
    "check_scope_set",
    "check_scopes",
    "roles_of",
    "scopes_of",
    "split_claim",
    "strip_namespace",
    "validate_claim_path",
    "validate_names",
]

_Location = str | Sequence[str]
ClaimPath = _Location | Mapping[str, _Location]
"""A claim location: a literal top-level name, a dotted path, or a tuple of path segments; or, for the
tokens of several issuers, ``{iss: location}`` (an issuer not listed: :data:`DEFAULT_ROLES_PATH`)."""

ClaimsMapper = Callable[[Mapping[str, Any]], Mapping[str, Any]]

DEFAULT_ROLES_PATH = "app_metadata.authorization.roles"
"""Where Netlify's role-based access control reads roles (the JavaScript ``serverless-jwt`` default).

Read as the default, it also takes ``app_metadata.roles``, where Netlify Identity (GoTrue) itself
stores a user's roles: both are the roles of one Netlify user."""
_IDENTITY_ROLES_PATH = "app_metadata.roles"

SCOPE_CLAIMS = ("scope", "scp", "permissions")
"""Claims read as granted scopes: OAuth ``scope`` (RFC 8693), Okta/Azure ``scp``, Auth0 ``permissions``."""

# RFC 6749 §3.3 scope-token: NQCHAR (printable ASCII except space, '"' and '\').
_SCOPE_TOKEN = re.compile(r'[\x21\x23-\x5b\x5d-\x7e]+')


_NO_NAME = frozenset(("",))
_SCOPE_SETS: dict[str, frozenset[str]] = {}  # "scope" claim -> its set, for the usual token


def _members(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        parts = frozenset(value.split(" "))
        return parts - _NO_NAME if "" in parts else parts  # runs of spaces name nothing
    if isinstance(value, (list, tuple)):
        # Only strings can name a scope or role: numbers, nulls and objects are ignored, never coerced.
        return frozenset(item for item in value if isinstance(item, str) and item)
    return frozenset()


def scopes_of(claims: Mapping[str, Any], *, claim_names: Sequence[str] = SCOPE_CLAIMS) -> frozenset[str]:
    """The scopes a token grants: the union of ``scope``, ``scp`` and ``permissions``.

    Each claim may be a space-delimited string or an array of strings. Matching elsewhere is exact and
    case-sensitive; non-string array members are ignored.

    Parameters
    ----------
    claims:
        Verified claims.
    claim_names:
        Claims to read, in any order (their union is returned).

    Examples
    --------
    >>> sorted(scopes_of({"scp": ["a", 1, "b"], "permissions": ["c"]}))
    ['a', 'b', 'c']
    """
    if claim_names is SCOPE_CLAIMS and type(claims) is dict:
        # The usual token, inline (a call costs as much as the rest): a space-delimited "scope"
        # string and neither "scp" nor "permissions".
        scope = claims.get("scope")
        if type(scope) is str and claims.get("scp") is None and claims.get("permissions") is None:
            # One client asks for the same scopes every time: its set is made once (it is immutable).
            parts = _SCOPE_SETS.get(scope)
            if parts is None:
                if len(_SCOPE_SETS) >= 64:
                    _SCOPE_SETS.clear()
                parts = _SCOPE_SETS[scope] = frozenset(scope.split(" ")) - _NO_NAME
            return parts
    if len(claim_names) == 1:
        return _members(claims.get(claim_names[0]))
    found: frozenset[str] | None = None
    for name in claim_names:
        value = claims.get(name)
        if value is not None:
            members = _members(value)
            found = members if found is None else found | members
    return frozenset() if found is None else found


def _resolve(claims: Mapping[str, Any], path: _Location) -> Any:
    if isinstance(path, str):
        # A literal top-level name wins: Auth0 namespaced claims ("https://x.com/roles") contain dots.
        if path in claims:
            return claims[path]
        segments: Sequence[str] = path.split(".")
    else:
        segments = path
    node: Any = claims
    for segment in segments:
        if not isinstance(node, _MAPPING):
            return None
        node = node.get(segment)
    return node


def roles_of(claims: Mapping[str, Any], path: ClaimPath = DEFAULT_ROLES_PATH) -> frozenset[str]:
    """The roles (or groups) a token carries at ``path``.

    Parameters
    ----------
    claims:
        Verified claims.
    path:
        A literal top-level claim name (tried first, e.g. ``"cognito:groups"`` or
        ``"https://example.com/roles"``), else a dotted path (``"realm_access.roles"``), or a tuple of
        segments for names that contain dots below the top level. The value may be an array of strings
        or one string naming a single role.

    Examples
    --------
    >>> roles_of({"cognito:groups": ["admins", "staff"]}, "cognito:groups") == {"admins", "staff"}
    True
    >>> roles_of({"https://example.com/roles": ["editor"]}, "https://example.com/roles")
    frozenset({'editor'})
    """
    if isinstance(path, Mapping):  # per issuer: MultiIssuerVerifier.auth_options() with presets
        issuer = claims.get("iss")
        path = path.get(issuer, DEFAULT_ROLES_PATH) if type(issuer) is str else DEFAULT_ROLES_PATH
    found = _roles_at(claims, path)
    if path == DEFAULT_ROLES_PATH:
        found |= _roles_at(claims, _IDENTITY_ROLES_PATH)
    return found


def _roles_at(claims: Mapping[str, Any], path: _Location) -> frozenset[str]:
    value = _resolve(claims, path)
    if isinstance(value, str):
        return frozenset((value,)) if value else frozenset()
    return _members(value)


def validate_names(names: Collection[str], what: str) -> tuple[str, ...]:
    """Check scope or role names given in configuration; raises ConfigurationError when unusable."""
    if isinstance(names, str):
        raise ConfigurationError(f"{what} must be a collection of names, not one string")
    out = tuple(names)
    if not out:
        raise ConfigurationError(f"at least one {what} name is required")
    for name in out:
        if callable(name):
            # The JavaScript library's require_role("admin", handler) habit: say what to write instead.
            raise ConfigurationError(f"{what} names must be strings, not a handler: decorate with "
                                     f"@require_{what}(\"name\") above the handler (require_scope also "
                                     "takes the handler as its last argument)")
        if what == "role":
            # Roles only reach a 403's JSON description, never a header: any printable name a provider
            # allows (Okta's "Sales Team", a Cognito group in Unicode) can be required.
            if not isinstance(name, str) or not name or not name.isprintable():
                raise ConfigurationError("invalid role name: must be non-empty printable text")
            continue
        # Scopes end up in WWW-Authenticate: keep them to the RFC 6749 scope-token grammar.
        if not isinstance(name, str) or not _SCOPE_TOKEN.fullmatch(name):
            raise ConfigurationError(f"invalid {what} name: must be printable ASCII without spaces or quotes")
    return out


def validate_claim_path(path: ClaimPath, what: str) -> ClaimPath:
    """Check a configured claim location (``roles_claim``, ``claim=``); raises ConfigurationError."""
    # Checked once: a path that is no name nor segments would fail, or never match, on every request.
    if isinstance(path, Mapping) and path and all(isinstance(k, str) and k for k in path):
        # {iss: location}: each location is checked as one given alone (never another mapping).
        return {issuer: _location(location, what) for issuer, location in path.items()}
    return _location(path, what)


def _location(path: object, what: str) -> _Location:
    if isinstance(path, str) and path:
        return path
    if isinstance(path, Sequence) and not isinstance(path, str) and path and all(
            isinstance(segment, str) and segment for segment in path):
        return tuple(path)
    raise ConfigurationError(f"{what} must be a claim name or a sequence of path segments (per issuer: "
                             "{iss: name})")


def _not_one_string(required: Sequence[str], what: str) -> None:
    # "admin" read as its characters would require (or, any-of, accept) the scopes "a", "d", "m" ...
    if isinstance(required, str):
        raise ConfigurationError(f"the required {what}s must be a collection of names, such as "
                                 f"[{required!r}], not one string")


def check_scope_set(granted: Collection[str], required: Sequence[str], *, any_of: bool = False) -> None:
    """Raise unless ``granted`` holds all (or, with ``any_of``, one) of ``required``.

    Raises
    ------
    ConfigurationError
        ``required`` is one string rather than a collection of names.
    InsufficientScopeError
        Naming exactly the missing scopes (all-of), or every accepted scope (any-of); its challenge
        names every required scope.
    """
    _not_one_string(required, "scope")
    if any_of:
        if not any(scope in granted for scope in required):
            raise InsufficientScopeError(tuple(required), any_of=len(required) > 1)
        return
    missing = [scope for scope in required if scope not in granted]
    if missing:
        raise InsufficientScopeError(missing, required=tuple(required))


def check_scopes(claims: Mapping[str, Any], scopes: Sequence[str], *, any_of: bool = False) -> None:
    """Require scopes on verified claims (see :func:`scopes_of` for where they are read).

    Parameters
    ----------
    claims:
        Verified claims.
    scopes:
        Required scope names, exact and case-sensitive: a collection (``["admin"]``), never one string.
    any_of:
        Accept the token when it has at least one of ``scopes`` (default: all of them).

    Raises
    ------
    InsufficientScopeError
        403 ``insufficient_scope`` naming the missing scopes.

    Examples
    --------
    >>> check_scopes({"scope": "read:shows"}, ["read:shows", "write:shows"])
    Traceback (most recent call last):
    ...
    serverless_jwt.errors.InsufficientScopeError: Token does not contain the required 'write:shows' scope
    """
    check_scope_set(scopes_of(claims), scopes, any_of=any_of)


def check_role_set(granted: Collection[str], required: Sequence[str], *, any_of: bool = False) -> None:
    """Raise ForbiddenError unless ``granted`` holds all (or, with ``any_of``, one) of ``required``
    (a collection of names: one string is a ConfigurationError)."""
    _not_one_string(required, "role")
    if any_of:
        if not any(role in granted for role in required):
            names = ", ".join(f"'{r}'" for r in required)
            raise ForbiddenError(f"The caller has none of the required roles {names}")
        return
    missing = [role for role in required if role not in granted]
    if missing:
        names = ", ".join(f"'{r}'" for r in missing)
        noun = "role" if len(missing) == 1 else "roles"
        raise ForbiddenError(f"The caller lacks the required {names} {noun}")


def check_roles(
    claims: Mapping[str, Any],
    roles: Sequence[str],
    *,
    path: ClaimPath = DEFAULT_ROLES_PATH,
    any_of: bool = False,
) -> None:
    """Require roles on verified claims.

    Parameters
    ----------
    claims:
        Verified claims.
    roles:
        Required role names, exact and case-sensitive: a collection (``["admin"]``), never one string.
    path:
        Where the roles are (see :func:`roles_of`).
    any_of:
        Accept the token when it has at least one of ``roles`` (default: all of them).

    Raises
    ------
    ForbiddenError
        403 naming the missing roles (configuration names, never token values).

    Examples
    --------
    >>> check_roles({"cognito:groups": ["staff"]}, ["admins"], path="cognito:groups")
    Traceback (most recent call last):
    ...
    serverless_jwt.errors.ForbiddenError: The caller lacks the required 'admins' role
    """
    check_role_set(roles_of(claims, path), roles, any_of=any_of)


_MAPPERS = frozenset(("chain", "split_claim", "strip_namespace"))


def __getattr__(name: str) -> Any:
    # Only handlers that map claims pay for the mappers' module (cold start).
    if name in _MAPPERS:
        from serverless_jwt import _claims_mappers

        value = getattr(_claims_mappers, name)
        globals()[name] = value  # later lookups find it directly
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
