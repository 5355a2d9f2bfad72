"""Claims <-> API Gateway Lambda authorizer ``context``, which REST APIs limit to flat scalar values.

Encoding (what the authorizer returns, what mapping templates see as ``$context.authorizer.<name>``):

* string claims are passed as they are;
* ``scp`` / ``permissions`` arrays of strings become one space-delimited string, like ``scope``;
* every other value (numbers, booleans, null, arrays, objects) becomes its compact JSON text
  (API Gateway stringifies numbers and booleans anyway: ``exp`` arrives as ``"1700000000"``);
* one extra key, :data:`ENCODING_KEY`, holds a JSON object naming each claim that was not a plain
  string and how it was written (``"json"`` or ``"spaces"``), so the backend restores exact types.

The names ``principalId`` and ``integrationLatency`` are set by API Gateway and never carried.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["ENCODING_KEY", "claims_from_context", "claims_from_jwt_authorizer", "context_from_claims"]

ENCODING_KEY = "serverless_jwt.encoding"
_RESERVED = frozenset({"principalId", "integrationLatency", ENCODING_KEY})
_SPACE_LISTS = frozenset({"scp", "permissions"})

ContextValue = str | int | float | bool


def _space_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) and v and " " not in v for v in value
    )


def context_from_claims(
    claims: Mapping[str, Any], *, include: Collection[str] | None = None,
    extra: Mapping[str, ContextValue] | None = None,
) -> dict[str, ContextValue]:
    """Flatten verified claims into a REST-compatible authorizer context (see the module docstring).

    Examples
    --------
    >>> ctx = context_from_claims({"sub": "u1", "scp": ["a", "b"], "exp": 5, "groups": ["x"]})
    >>> ctx["sub"], ctx["scp"], ctx["exp"], ctx["groups"]
    ('u1', 'a b', '5', '["x"]')
    """
    out: dict[str, ContextValue] = {}
    encoding: dict[str, str] = {}
    for name, value in claims.items():
        if name in _RESERVED or (include is not None and name not in include):
            continue
        if isinstance(value, str):
            out[name] = value
        elif name in _SPACE_LISTS and _space_list(value):
            out[name] = " ".join(value)
            encoding[name] = "spaces"
        else:
            out[name] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            encoding[name] = "json"
    for name, value in (extra or {}).items():
        if name in _RESERVED or not isinstance(value, (str, int, float, bool)):
            raise ValueError("extra context values must be str, int, float or bool, under unreserved names")
        if isinstance(value, float) and not math.isfinite(value):
            # Lambda's runtime writes these as bare NaN / Infinity, which is not JSON: API Gateway could
            # not read the answer at all (a 500 with nothing in the function's log saying why).
            raise ValueError(f"extra context value {name!r} must be a finite number, not {value!r}")
        # An extra value replaces a claim of that name and is delivered as it is, never decoded.
        out[name] = value
        encoding.pop(name, None)
    out[ENCODING_KEY] = json.dumps(encoding, separators=(",", ":"), sort_keys=True)
    return out


def claims_from_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """Restore claims written by :func:`context_from_claims` (values may have been stringified).

    Examples
    --------
    >>> claims_from_context(context_from_claims({"sub": "u1", "exp": 5, "scp": ["a", "b"]}))
    {'sub': 'u1', 'exp': 5, 'scp': ['a', 'b']}
    """
    try:
        encoding = json.loads(context.get(ENCODING_KEY, "{}"))
    except (TypeError, ValueError, RecursionError):  # a bracket bomb in a forged context: not ours
        encoding = {}
    if not isinstance(encoding, dict):
        encoding = {}
    out: dict[str, Any] = {}
    for name, value in context.items():
        if name in _RESERVED:
            continue
        how = encoding.get(name)
        if how == "spaces" and isinstance(value, str):
            out[name] = [part for part in value.split(" ") if part]
        elif how == "json" and isinstance(value, str):
            try:
                out[name] = json.loads(value)
            except (ValueError, RecursionError):
                out[name] = value  # not ours after all: keep what API Gateway delivered
        else:
            out[name] = value
    return out


def claims_from_jwt_authorizer(jwt: Mapping[str, Any]) -> dict[str, Any]:
    """Claims as API Gateway's built-in JWT authorizer (HTTP APIs) hands them to the function.

    ``requestContext.authorizer.jwt.claims`` holds every claim as a string, arrays flattened to
    ``"[admin users]"`` (members joined by spaces, in brackets); ``jwt.scopes`` lists the granted
    scopes. Arrays are read back as lists of their members, so ``cognito:groups`` works as roles, and
    the scopes become ``scope`` when the claims carry none. Other strings stay as they arrive.
    """
    raw = jwt.get("claims")
    claims: dict[str, Any] = {}
    for name, value in (raw.items() if isinstance(raw, Mapping) else ()):
        if isinstance(value, str) and len(value) >= 2 and value[0] == "[" and value[-1] == "]":
            claims[name] = value[1:-1].split()
        else:
            claims[name] = value
    scopes = jwt.get("scopes")
    if "scope" not in claims and isinstance(scopes, list) and all(isinstance(s, str) for s in scopes):
        claims["scope"] = " ".join(scopes)
    return claims

