"""CloudFormation intrinsic functions, evaluated as SAM CLI evaluates them locally, or refused with a reason.

The set SAM CLI resolves before ``sam local`` runs a template (``SamBaseProvider.get_template``), with
CloudFormation's argument shapes: ``Ref`` to parameters, pseudo parameters (SAM CLI's local values:
account ``123456789012``, region from ``AWS_REGION``), functions (their logical id) and layers;
``Fn::GetAtt Function.Arn``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::Base64``,
``Fn::FindInMap`` (the template's ``Mappings``), ``Fn::GetAZs`` (SAM CLI's availability-zone table;
``""`` is the local region) and ``Fn::If`` with the template's ``Conditions`` (``Fn::Equals``,
``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``{"Condition": name}``; a cycle is refused, not followed).
A wrong shape, or what cannot be known before deployment (another resource's attribute,
``Fn::ImportValue``), raises :class:`Unresolvable` with the reason: nothing is guessed.

What names stand for (``Ref``, ``Fn::GetAtt``, pseudo parameters, the local account and region) is
:mod:`~serverless_jwt.dev._symbol_table`, as SAM CLI's ``IntrinsicsSymbolTable`` is its resolver's;
this module re-exports its names.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from serverless_jwt.dev._symbol_table import (
    ACCOUNT_ID,
    FUNCTION,
    FUNCTIONS,
    LAMBDA_FUNCTION,
    LAYER,
    LAYERS,
    SymbolTable,
    Unresolvable,
    function_arn,
    region,
)
from serverless_jwt.errors import ConfigurationError

__all__ = [
    "ACCOUNT_ID",
    "FUNCTION",
    "FUNCTIONS",
    "LAMBDA_FUNCTION",
    "LAYER",
    "LAYERS",
    "UNRESOLVED",
    "Intrinsics",
    "Unresolvable",
    "as_text",
    "function_arn",
    "region",
]

UNRESOLVED: Any = object()
_MAX_NODES = 1_000_000
_SUB = re.compile(r"\$\{([^}]*)\}")
_CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or")
# What neither this module nor SAM CLI's resolver evaluates, and why (each is true of sam local too).
_REFUSED = {
    "Fn::ImportValue": "Fn::ImportValue is not resolved locally: it reads another stack's export, which "
                       "exists only once deployed (sam local cannot resolve it either)",
    "Fn::Cidr": "Fn::Cidr is not resolved locally (nor by sam local)",
    "Fn::Transform": "Fn::Transform runs a macro, which is not run locally",
    "Condition": "{Condition: name} is read only inside Conditions, Fn::Not, Fn::And and Fn::Or",
}


class Intrinsics(SymbolTable):
    """Evaluates intrinsic functions against a template's parameter values, resources, ``Mappings``
    and ``Conditions`` (``Ref`` and ``Fn::GetAtt`` come from :class:`SymbolTable`)."""

    def __init__(self, parameters: Mapping[str, Any], declared: set[str],
                 resources: Mapping[str, Any], pseudo: Mapping[str, Any] | None = None, *,
                 mappings: Any = None, conditions: Any = None) -> None:
        super().__init__(parameters, declared, resources, pseudo)
        self.mappings = mappings if isinstance(mappings, Mapping) else {}
        self.conditions = conditions if isinstance(conditions, Mapping) else {}
        self._decided: dict[str, bool] = {}  # conditions already evaluated (parameters do not change)
        self._deciding: list[str] = []  # the conditions being evaluated, to refuse a cycle
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
        if fn == "Fn::GetAtt":
            target = arg.split(".", 1) if isinstance(arg, str) else arg
            if not (isinstance(target, list) and len(target) == 2):
                raise Unresolvable("Fn::GetAtt takes [Resource, Attribute]")
            return self.get_att(str(target[0]), str(self._eval(target[1])))
        handler = _HANDLERS.get(fn)
        if handler is not None:
            return handler(self, arg)
        if fn in _CONDITION_FUNCTIONS:  # SAM CLI evaluates them anywhere, to true or false
            return self._truth(value, fn)
        if fn in _REFUSED:
            raise Unresolvable(_REFUSED[fn])
        if fn.startswith("Fn::"):
            raise Unresolvable(f"{fn} is not resolved locally by serverless-jwt")
        return {fn: self._eval(arg)}

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
                return _text(values[name], f"Fn::Sub variable {name}")
            if "." in name:
                return _text(self.get_att(*name.split(".", 1)), f"Fn::Sub ${{{name}}}")
            return _text(self.ref(name), f"Fn::Sub ${{{name}}}")

        return _bounded(_SUB.sub(sub, template), "Fn::Sub")

    def _join(self, arg: Any) -> str:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise Unresolvable("Fn::Join takes [delimiter, [values]]")
        delimiter, parts = self._eval(arg[0]), self._eval(arg[1])
        if not isinstance(delimiter, str) or not isinstance(parts, list):
            raise Unresolvable("Fn::Join takes [delimiter, [values]]")
        # AWS::NoValue leaves the list, as CloudFormation removes it; anything but text is refused.
        return _bounded(delimiter.join(_text(p, "Fn::Join") for p in parts if p is not None), "Fn::Join")

    def _select(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise Unresolvable("Fn::Select takes [index, [values]]")
        index, values = self._eval(arg[0]), self._eval(arg[1])
        if isinstance(index, str) and re.fullmatch(r"[0-9]{1,9}", index):
            index = int(index)  # CloudFormation takes "1" as well as 1 (a Ref to a parameter is text)
        if isinstance(index, bool) or not isinstance(index, int):
            raise Unresolvable("Fn::Select: the index must be a whole number")
        if not isinstance(values, list):
            raise Unresolvable(f"Fn::Select: the values must be a list, not {_kind(values)}")
        if not 0 <= index < len(values):
            raise Unresolvable(f"Fn::Select: index {index} is out of range for a list of {len(values)}")
        return values[index]

    def _split(self, arg: Any) -> list[str]:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise Unresolvable("Fn::Split takes [delimiter, text]")
        delimiter, source = self._eval(arg[0]), self._eval(arg[1])
        if not isinstance(delimiter, str) or not delimiter:
            raise Unresolvable("Fn::Split: the delimiter must be non-empty text")
        if not isinstance(source, str):
            raise Unresolvable(f"Fn::Split: the value to split must be text, not {_kind(source)}")
        parts = source.split(delimiter)
        self._spend(len(parts))
        return parts

    def _base64(self, arg: Any) -> str:
        value = self._eval(arg)
        if not isinstance(value, str):
            raise Unresolvable(f"Fn::Base64 encodes text, not {_kind(value)}")
        return _bounded(base64.b64encode(value.encode()).decode(), "Fn::Base64")

    def _find_in_map(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3):
            raise Unresolvable("Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]")
        keys = [self._eval(a) for a in arg]
        for which, key in zip(("MapName", "TopLevelKey", "SecondLevelKey"), keys, strict=True):
            if not isinstance(key, str):
                raise Unresolvable(f"Fn::FindInMap: {which} must be text, not {_kind(key)}")
        found: Any = self.mappings
        for depth, key in enumerate(keys):
            inner = _entry(found, key) if isinstance(found, Mapping) else None
            if inner is None:
                where = "Mappings" if depth == 0 else ".".join(keys[:depth])
                raise Unresolvable(f"Fn::FindInMap: {where} has no key {key!r}")
            found = inner
        return found

    def _get_azs(self, arg: Any) -> list[str]:
        name = self._eval(arg)
        if not isinstance(name, str):
            raise Unresolvable("Fn::GetAZs takes a region name ('' for the stack's region)")
        name = name or as_text(self.ref("AWS::Region"))
        try:  # SAM CLI's own table, as sam local uses (aws-sam-cli comes with the `local` extra)
            from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable
        except ImportError:
            raise Unresolvable("Fn::GetAZs reads aws-sam-cli's availability-zone table, and aws-sam-cli is "
                               "not installed (pip install 'serverless-jwt[local]')") from None
        zones = IntrinsicsSymbolTable.REGIONS.get(name)
        if not isinstance(zones, list):
            raise Unresolvable(f"Fn::GetAZs: region {name!r} is not in SAM CLI's availability-zone table")
        return list(zones)

    def _if(self, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3):
            raise Unresolvable("Fn::If takes [condition name, value if true, value if false]")
        # Only the chosen value is evaluated, as CloudFormation does: the other may name what the
        # condition leaves out (a resource it does not create).
        return self._eval(arg[1] if self.condition(arg[0]) else arg[2])

    def chosen(self, value: Any) -> Any:
        """``value`` with the ``Fn::If`` around it replaced by the branch its condition picks, left as
        written otherwise (``!If [C, !Ref LocalLayer, !Ref AWS::NoValue]`` gives the ``Ref``)."""
        for _ in range(100):  # nested Fn::If, bounded
            arg = value.get("Fn::If") if isinstance(value, dict) and len(value) == 1 else None
            if not (isinstance(arg, list) and len(arg) == 3):
                return value
            try:
                value = arg[1] if self.condition(arg[0]) else arg[2]
            except Unresolvable:
                return value
        return value

    def listed(self, value: Any) -> list[Any]:
        """A list property's items as written, each past the ``Fn::If`` that picks it (and the list's
        own); a list only an intrinsic gives (``Layers: !Ref CommaDelimitedListParameter``) resolved."""
        value = self.chosen(value)
        if isinstance(value, list):
            return [self.chosen(item) for item in value]
        try:
            resolved = self.eval(value)
        except Unresolvable:
            return [value]
        return resolved if isinstance(resolved, list) else [] if resolved is None else [value]

    def condition(self, name: Any) -> bool:
        """The value of the template's condition ``name`` (raises Unresolvable)."""
        if not isinstance(name, str):
            raise Unresolvable("a condition is named by text")
        if name in self._decided:
            return self._decided[name]
        if name not in self.conditions:
            raise Unresolvable(f"no condition {name!r} in the template's Conditions")
        if name in self._deciding:
            cycle = " -> ".join([*self._deciding[self._deciding.index(name):], name])
            raise Unresolvable(f"conditions refer to each other in a cycle: {cycle}")
        self._deciding.append(name)
        try:
            value = self._truth(self.conditions[name], f"condition {name}")
        finally:
            self._deciding.pop()
        self._decided[name] = value
        return value

    def _truth(self, value: Any, where: str) -> bool:
        fn, arg = next(iter(value.items())) if isinstance(value, dict) and len(value) == 1 else ("", None)
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise Unresolvable("Fn::Equals takes [value, value]")
            return bool(_canonical(self._eval(arg[0])) == _canonical(self._eval(arg[1])))
        if fn == "Fn::Not":
            if not (isinstance(arg, list) and len(arg) == 1):
                raise Unresolvable("Fn::Not takes [condition]")
            return not self._truth(arg[0], fn)
        if fn in ("Fn::And", "Fn::Or"):
            if not (isinstance(arg, list) and 2 <= len(arg) <= 10):
                raise Unresolvable(f"{fn} takes a list of 2 to 10 conditions")
            # Stops at the first that decides, as SAM CLI's resolver does.
            decide = any if fn == "Fn::Or" else all
            return decide(self._truth(item, fn) for item in arg)
        raise Unresolvable(f"{where}: a condition is Fn::Equals, Fn::Not, Fn::And, Fn::Or or "
                           "{Condition: name}")


_HANDLERS = {
    "Fn::Sub": Intrinsics.sub,
    "Fn::Join": Intrinsics._join,
    "Fn::Select": Intrinsics._select,
    "Fn::Split": Intrinsics._split,
    "Fn::Base64": Intrinsics._base64,
    "Fn::FindInMap": Intrinsics._find_in_map,
    "Fn::GetAZs": Intrinsics._get_azs,
    "Fn::If": Intrinsics._if,
}


def _entry(mapping: Mapping[Any, Any], key: str) -> Any:
    # A key YAML read as a number (an account id) is text to CloudFormation.
    if key in mapping:
        return mapping[key]
    return next((v for k, v in mapping.items() if not isinstance(k, str) and as_text(k) == key), None)


def _canonical(value: Any) -> Any:
    # Fn::Equals compares as CloudFormation does: every scalar as its text (5 and "5" are equal).
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, (str, int, float)):
        return as_text(value)
    return value


def _kind(value: Any) -> str:
    return {type(None): "null", list: "a list", dict: "a mapping", bool: "true/false"}.get(
        type(value), "text" if isinstance(value, str) else "a number")


def _text(value: Any, where: str) -> str:
    # What Fn::Join and Fn::Sub put into text: text, numbers and booleans; never a list or a mapping
    # written out (CloudFormation refuses those, and sam local passes the variable as "").
    if isinstance(value, (str, int, float)):  # bool is an int
        return as_text(value)
    raise Unresolvable(f"{where}: {_kind(value)} where text is needed")


_MAX_TEXT = 1 << 20  # Lambda takes 4 KB of environment in all: past this, nesting is only growth


def _bounded(text: str, fn: str) -> str:
    # The node budget counts values, not their length: nested Fn::Base64 grows by 4/3 per level.
    if len(text) > _MAX_TEXT:
        raise Unresolvable(f"{fn} makes a text longer than {_MAX_TEXT} characters")
    return text


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # CloudFormation writes booleans in lower case
    if isinstance(value, list):
        return ",".join(as_text(v) for v in value)
    return "" if value is None else str(value)
