"""Claims mappers: rewrite verified claims before scopes, roles and the handler see them.

``strip_namespace``, ``split_claim`` and ``chain`` build the ``claims_mapper=`` callables the adapters
accept. They are public as :mod:`serverless_jwt.authz` names (loaded from here on first use, so a handler
that maps no claims never imports this module).

Examples
--------
>>> chain(strip_namespace("ns/"), split_claim("groups"))({"ns/groups": "a b"})
{'groups': ['a', 'b']}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from serverless_jwt.errors import ConfigurationError

if TYPE_CHECKING:
    from serverless_jwt.authz import ClaimsMapper

__all__ = ["chain", "split_claim", "strip_namespace"]


def strip_namespace(prefix: str) -> ClaimsMapper:
    """A claims mapper that drops ``prefix`` from custom claim names (Auth0 namespaced claims).

    A stripped name never replaces a claim that already exists under that name: a custom claim must not
    shadow ``sub``, ``iss`` or any other claim the issuer set itself.

    Examples
    --------
    >>> strip_namespace("https://example.com/")({"sub": "u1", "https://example.com/roles": ["a"]})
    {'sub': 'u1', 'roles': ['a']}
    """
    if not prefix:
        raise ConfigurationError("strip_namespace needs a non-empty prefix")

    def mapper(claims: Mapping[str, Any]) -> Mapping[str, Any]:
        out = {k: v for k, v in claims.items() if not k.startswith(prefix)}
        for key, value in claims.items():
            short = key[len(prefix):]
            if key.startswith(prefix) and short and short not in out:
                out[short] = value
        return out

    return mapper


def split_claim(name: str) -> ClaimsMapper:
    """A claims mapper that turns a space-delimited string claim into a list of strings.

    Examples
    --------
    >>> split_claim("scope")({"scope": "a b  c"})
    {'scope': ['a', 'b', 'c']}
    """

    def mapper(claims: Mapping[str, Any]) -> Mapping[str, Any]:
        value = claims.get(name)
        if not isinstance(value, str):
            return claims
        out = dict(claims)
        out[name] = [part for part in value.split(" ") if part]
        return out

    return mapper


def chain(*mappers: ClaimsMapper) -> ClaimsMapper:
    """Apply several claims mappers in order.

    Examples
    --------
    >>> chain(strip_namespace("ns/"), split_claim("groups"))({"ns/groups": "a b"})
    {'groups': ['a', 'b']}
    """

    def mapper(claims: Mapping[str, Any]) -> Mapping[str, Any]:
        for step in mappers:
            claims = step(claims)
        return claims

    return mapper
