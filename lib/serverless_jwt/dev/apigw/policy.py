"""A Lambda authorizer's answer checked and evaluated as API Gateway does it.

IAM format (REST, HTTP API without simple responses): ``principalId`` (string) and a
``policyDocument`` whose statements (``Effect`` ``Allow``/``Deny``, ``Action``, ``Resource``, each a
string or a list) are evaluated against the request's method ARN with IAM's rules: ``*`` matches any
run of characters (``/`` included), ``?`` one character, actions ignore case; an explicit ``Deny`` wins,
then an ``Allow``, and anything else is an implicit deny. aws-sam-cli only looks for an ``Allow``
(``lambda_authorizer.py::_is_resource_authorized``), so a Deny beside a wider Allow would pass there.
Simple format (HTTP API ``EnableSimpleResponses``): ``{"isAuthorized": bool, "context": {...}}``.
A ``context`` holds strings, numbers and booleans only, except with HTTP API payload 2.0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

__all__ = ["Decision", "InvalidAuthorizerResponse", "evaluate", "parse_response"]

Verdict = Literal["allow", "explicit_deny", "implicit_deny"]


class InvalidAuthorizerResponse(ValueError):
    """The authorizer's answer is not one API Gateway accepts (API Gateway answers 500)."""


@dataclass(frozen=True)
class Decision:
    """A checked authorizer answer: the policy (or simple verdict), principal and context."""

    principal: str | None
    statements: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    simple: bool | None = None  # the simple format's isAuthorized
    context: dict[str, Any] = field(default_factory=dict)

    def verdict(self, arn: str) -> Verdict:
        """Allow or deny for this method ARN (a cached answer is evaluated again per request)."""
        if self.simple is not None:
            return "allow" if self.simple else "explicit_deny"
        return evaluate(self.statements, arn)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise InvalidAuthorizerResponse(f"{what} must be a string or a list of strings")
    return tuple(items)


def _context(value: Any, nested: bool) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidAuthorizerResponse("context must be an object")
    if not nested:
        for v in value.values():
            if v is None or isinstance(v, (dict, list)):
                raise InvalidAuthorizerResponse("context values must be strings, numbers or booleans")
    return dict(value)


def parse_response(result: Any, *, simple: bool, nested_context: bool) -> Decision:
    """Check an authorizer's answer; raises :class:`InvalidAuthorizerResponse`.

    Examples
    --------
    >>> d = parse_response({"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": [
    ...     {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*"}]}},
    ...     simple=False, nested_context=False)
    >>> d.verdict("arn:aws:execute-api:us-east-1:1:abc/prod/GET/me")
    'allow'
    """
    if not isinstance(result, Mapping):
        raise InvalidAuthorizerResponse("the answer must be an object")
    if simple:
        verdict = result.get("isAuthorized")
        if not isinstance(verdict, bool):
            raise InvalidAuthorizerResponse("isAuthorized must be a boolean")
        return Decision(None, simple=verdict, context=_context(result.get("context"), nested_context))
    principal = result.get("principalId")
    if not isinstance(principal, str):
        raise InvalidAuthorizerResponse("principalId must be a string")
    document = result.get("policyDocument")
    if not isinstance(document, Mapping):
        raise InvalidAuthorizerResponse("policyDocument must be an object")
    raw = document.get("Statement")
    raw_list = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raw_list, list) or not raw_list:
        raise InvalidAuthorizerResponse("policyDocument.Statement must hold statements")
    statements = []
    for statement in raw_list:
        if not isinstance(statement, Mapping):
            raise InvalidAuthorizerResponse("a statement must be an object")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise InvalidAuthorizerResponse("Effect must be Allow or Deny")
        if "NotAction" in statement or "NotResource" in statement:
            raise InvalidAuthorizerResponse("NotAction / NotResource are not supported by API Gateway")
        statements.append((str(effect), _strings(statement.get("Action"), "Action"),
                           _strings(statement.get("Resource"), "Resource")))
    return Decision(principal, tuple(statements), context=_context(result.get("context"), nested_context))


@lru_cache(maxsize=1024)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(globs: tuple[str, ...], value: str, ignore_case: bool) -> bool:
    return any(_pattern(g, ignore_case).fullmatch(value) is not None for g in globs)


def evaluate(statements: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...], arn: str) -> Verdict:
    """IAM evaluation of ``execute-api:Invoke`` on ``arn``: explicit deny, allow, or implicit deny.

    Examples
    --------
    >>> s = (("Allow", ("execute-api:*",), ("arn:aws:execute-api:*:*:abc/prod/*",)),
    ...      ("Deny", ("execute-api:Invoke",), ("arn:aws:execute-api:*:*:abc/prod/DELETE/*",)))
    >>> evaluate(s, "arn:aws:execute-api:us-east-1:1:abc/prod/GET/me")
    'allow'
    >>> evaluate(s, "arn:aws:execute-api:us-east-1:1:abc/prod/DELETE/me")
    'explicit_deny'
    """
    allowed = False
    for effect, actions, resources in statements:
        if _matches(actions, "execute-api:Invoke", True) and _matches(resources, arn, False):
            if effect == "Deny":
                return "explicit_deny"
            allowed = True
    return "allow" if allowed else "implicit_deny"
