"""CloudFormation intrinsic functions, evaluated as SAM CLI evaluates them locally, or refused with a reason.

``Ref`` to parameters (their ``Default`` or override), pseudo parameters (SAM CLI's local values: account
``123456789012``, region from ``AWS_REGION``), functions (their logical id, the local function name) and
layers; ``Fn::Sub``, ``Fn::Join``, ``Fn::GetAtt Function.Arn``. Everything else raises
:class:`Unresolvable` naming what cannot be known before deployment: nothing is guessed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from serverless_jwt.errors import ConfigurationError

__all__ = [
    "ACCOUNT_ID",
    "FUNCTION",
    "LAYER",
    "UNRESOLVED",
    "Intrinsics",
    "Unresolvable",
    "as_text",
    "function_arn",
    "region",
]

FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
UNRESOLVED: Any = object()
_MAX_NODES = 1_000_000
_SUB = re.compile(r"\$\{([^}]*)\}")
ACCOUNT_ID = "123456789012"
_PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::StackName": "serverless-jwt-local",
    "AWS::StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT_ID}:stack/serverless-jwt-local/local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
class Unresolvable(Exception):
    """An intrinsic function that cannot be evaluated locally; ``str()`` says which and why."""



class Intrinsics:
    """Evaluates intrinsic functions against a template's parameter values and resources."""

    def __init__(self, parameters: Mapping[str, Any], declared: set[str],
                 resources: Mapping[str, Any], pseudo: Mapping[str, Any] | None = None) -> None:
        self.parameters = parameters
        self._declared = declared
        self.resources = resources
        self.pseudo = dict(pseudo or {})  # AWS::Region etc. given in --parameter-overrides, as sam takes them
        self._budget = _MAX_NODES

    def _spend(self, nodes: int) -> None:
        # YAML aliases can make a 600-byte template a billion nodes ("billion laughs"): a template's
        # properties are never near this many, so past it the walk stops instead of hanging.
        self._budget -= nodes
        if self._budget < 0:
            raise ConfigurationError("the template expands to too many values (aliases nested in aliases?)")

    def eval(self, value: Any) -> Any:
        """``value`` with its intrinsic functions evaluated (raises Unresolvable, ConfigurationError)."""
        self._budget = _MAX_NODES  # per value: a long-running start-api evaluates again and again
        return self._eval(value)

    def _eval(self, value: Any) -> Any:
        if isinstance(value, list):
            self._spend(len(value))
            return [self._eval(v) for v in value]
        if not isinstance(value, dict):
            return value
        self._spend(len(value))
        if len(value) != 1:
            return {k: self._eval(v) for k, v in value.items()}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self.ref(arg)
        if fn == "Fn::Sub":
            return self.sub(arg)
        if fn == "Fn::Join":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise Unresolvable("Fn::Join takes [delimiter, [values]]")
            parts = self._eval(arg[1])
            if not isinstance(parts, list):
                raise Unresolvable("Fn::Join takes [delimiter, [values]]")
            return as_text(self._eval(arg[0])).join(as_text(p) for p in parts)
        if fn == "Fn::GetAtt":
            target = arg.split(".", 1) if isinstance(arg, str) else arg
            if not (isinstance(target, list) and len(target) == 2):
                raise Unresolvable("Fn::GetAtt takes [Resource, Attribute]")
            return self.get_att(str(target[0]), str(self._eval(target[1])))
        if fn.startswith("Fn::") or fn == "Condition":
            raise Unresolvable(f"{fn} is not resolved locally (sam local does not evaluate it either)")
        return {fn: self._eval(arg)}

    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise Unresolvable("Ref takes a name")
        if name in self.parameters:
            return self.parameters[name]
        if name in self._declared:
            raise Unresolvable(f"parameter {name} has no Default and no --parameter-overrides value")
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::Region":
            return region()
        if name == "AWS::NoValue":
            return None
        if name in _PSEUDO:
            return _PSEUDO[name]
        resource = self.resources.get(name)
        if isinstance(resource, dict) and resource.get("Type") == FUNCTION:
            return name  # a function's Ref is its name; locally the logical id, as with sam local
        if isinstance(resource, dict) and resource.get("Type") == LAYER:
            return f"arn:aws:lambda:{region()}:{ACCOUNT_ID}:layer:{name}:1"
        if name.startswith("AWS::"):
            raise Unresolvable(f"pseudo parameter {name} has no local value")
        if isinstance(resource, dict):
            raise Unresolvable(f"Ref {name} ({resource.get('Type')}) exists only once deployed")
        raise Unresolvable(f"Ref {name}: no such parameter or resource")

    def get_att(self, resource: str, attribute: str) -> Any:
        found = self.resources.get(resource)
        if isinstance(found, dict) and found.get("Type") == FUNCTION and attribute == "Arn":
            return function_arn(resource)
        if not isinstance(found, dict):
            raise Unresolvable(f"Fn::GetAtt {resource}.{attribute}: no such resource")
        raise Unresolvable(f"Fn::GetAtt {resource}.{attribute} exists only once deployed")

    def sub(self, arg: Any) -> str:
        template, names = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
        if not isinstance(template, str) or not isinstance(names, dict):
            raise Unresolvable("Fn::Sub takes a string or [string, {variables}]")
        values = {k: self._eval(v) for k, v in names.items()}

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return as_text(values[name])
            if "." in name:
                return as_text(self.get_att(*name.split(".", 1)))
            return as_text(self.ref(name))

        return _SUB.sub(sub, template)


def region() -> str:
    """The region functions see locally: ``AWS_REGION``/``AWS_DEFAULT_REGION``, else ``us-east-1``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def function_arn(name: str) -> str:
    """The ARN a function would have locally (account ``123456789012``, as sam local uses)."""
    return f"arn:aws:lambda:{region()}:{ACCOUNT_ID}:function:{name}"


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # CloudFormation writes booleans in lower case
    if isinstance(value, list):
        return ",".join(as_text(v) for v in value)
    return "" if value is None else str(value)
