"""What names stand for locally, as SAM CLI's ``IntrinsicsSymbolTable`` has them: ``Ref`` and ``Fn::GetAtt``.

A ``Ref`` is a parameter's value, a pseudo parameter's local value (SAM CLI's: account
``123456789012``, region from ``AWS_REGION``, stack ``local``; an ``AWS::*`` name given in
``--parameter-overrides`` wins), a function's logical id or a layer's local ARN; ``Fn::GetAtt`` knows a
function's ``Arn``. Anything that exists only once deployed raises :class:`Unresolvable`.
:class:`~serverless_jwt.dev.intrinsics.Intrinsics` evaluates the intrinsic functions on top of this table
and re-exports its public names.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ACCOUNT_ID",
    "FUNCTION",
    "FUNCTIONS",
    "LAMBDA_FUNCTION",
    "LAYER",
    "LAYERS",
    "SymbolTable",
    "Unresolvable",
    "function_arn",
    "region",
    "session_region",
]

FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
FUNCTIONS = (FUNCTION, LAMBDA_FUNCTION)  # both are run by sam local (SamFunctionProvider)
LAYER = "AWS::Serverless::LayerVersion"
LAYERS = (LAYER, "AWS::Lambda::LayerVersion")
ACCOUNT_ID = "123456789012"
_PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    # SAM CLI's local values (IntrinsicsSymbolTable.DEFAULT_PSEUDO_PARAM_VALUES), as sam local passes them.
    "AWS::StackName": "local",
    "AWS::StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT_ID}:stack/local/"
                    "51af3dc0-da77-11e4-872e-1234567db123",
    "AWS::URLSuffix": "localhost",
    "AWS::NotificationARNs": [],
}


class Unresolvable(Exception):
    """An intrinsic function that cannot be evaluated locally; ``str()`` says which and why."""


class SymbolTable:
    """``Ref`` and ``Fn::GetAtt`` against a template's parameter values and resources."""

    def __init__(self, parameters: Mapping[str, Any], declared: set[str],
                 resources: Mapping[str, Any], pseudo: Mapping[str, Any] | None = None) -> None:
        self.parameters = parameters
        self._declared = declared
        self.resources = resources
        self.pseudo = dict(pseudo or {})  # AWS::Region etc. given in --parameter-overrides, as sam takes them

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
        if isinstance(resource, dict) and resource.get("Type") in FUNCTIONS:
            return name  # a function's Ref is its name; locally the logical id, as with sam local
        if isinstance(resource, dict) and resource.get("Type") in LAYERS:
            return f"arn:aws:lambda:{region()}:{ACCOUNT_ID}:layer:{name}:1"
        if name.startswith("AWS::"):
            raise Unresolvable(f"pseudo parameter {name} has no local value")
        if isinstance(resource, dict):
            raise Unresolvable(f"Ref {name} ({resource.get('Type')}) exists only once deployed")
        raise Unresolvable(f"Ref {name}: no such parameter or resource")

    def get_att(self, resource: str, attribute: str) -> Any:
        found = self.resources.get(resource)
        if isinstance(found, dict) and found.get("Type") in FUNCTIONS and attribute == "Arn":
            return function_arn(resource)
        if not isinstance(found, dict):
            raise Unresolvable(f"Fn::GetAtt {resource}.{attribute}: no such resource")
        raise Unresolvable(f"Fn::GetAtt {resource}.{attribute} exists only once deployed")


def region() -> str:
    """``AWS::Region`` locally: ``AWS_REGION``/``AWS_DEFAULT_REGION``, else ``us-east-1``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def session_region() -> str:
    """The region functions run in (``AWS_REGION`` in their environment), as sam local takes it from
    boto3: the variables, else the AWS profile's ``region`` (``AWS_PROFILE``, ``~/.aws/config``), else
    ``us-east-1``. A profile's region is where a function's own boto3 calls go, under sam as deployed."""
    return (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            or _profile_region(os.environ.get("AWS_PROFILE"), os.environ.get("AWS_CONFIG_FILE"),
                               os.environ.get("HOME")) or "us-east-1")


@functools.lru_cache(maxsize=8)
def _profile_region(profile: str | None, config_file: str | None, home: str | None) -> str | None:
    """The profile's configured region (the arguments key the cache), or ``None``."""
    try:
        import botocore.session
    except ImportError:  # without aws-sam-cli (the `local` extra) there is no profile reader
        return None
    try:
        value = botocore.session.Session(profile=profile).get_config_variable("region")
    except Exception:  # an unknown profile or an unreadable file: no region from it
        return None
    return value if isinstance(value, str) and value else None


def function_arn(name: str) -> str:
    """The ARN a function would have locally (account ``123456789012``, as sam local uses)."""
    return f"arn:aws:lambda:{region()}:{ACCOUNT_ID}:function:{name}"
