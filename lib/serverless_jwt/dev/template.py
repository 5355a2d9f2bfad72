"""The parts of an AWS SAM template the local loop needs: functions, their environment, HTTP API routes.

Values are resolved the way ``sam local`` does it: parameters from their ``Default`` or from
``--parameter-overrides``, ``Globals.Function`` merged under each function, ``Ref``/``Fn::Sub``/
``Fn::Join`` over parameters and pseudo parameters. What cannot be resolved locally (another resource's
attribute, a condition) leaves the variable unset and is listed in :attr:`Function.unresolved`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serverless_jwt.dev._yaml import load as load_yaml
from serverless_jwt.errors import ConfigurationError

__all__ = ["Function", "Route", "Template", "parse_overrides"]

_UNRESOLVED: Any = object()
_SUB = re.compile(r"\$\{([^}]*)\}")
_PSEUDO = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "serverless-jwt-local",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/serverless-jwt-local/local",
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP API route: ``method`` (upper case or ``ANY``), ``path`` (``/shows/{id}``, ``$default``)."""

    method: str
    path: str
    function: str

    @property
    def key(self) -> str:
        """The route key as API Gateway writes it: ``"GET /shows/{id}"`` or ``"$default"``."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Function:
    """An ``AWS::Serverless::Function`` with its resolved settings."""

    name: str
    code_dir: Path
    handler: str
    runtime: str | None
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    routes: tuple[Route, ...]
    unresolved: tuple[str, ...] = field(default=())


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``["Key=Value", "A=B C=D"]`` (``sam`` style) into a dict; raises ConfigurationError."""
    out: dict[str, str] = {}
    for item in items or []:
        for pair in re.findall(r"""(?:[^\s"']|"[^"]*"|'[^']*')+""", item):
            if pair.startswith("ParameterKey=") and ",ParameterValue=" in pair:  # CloudFormation spelling
                key, _, value = pair.removeprefix("ParameterKey=").partition(",ParameterValue=")
                sep = "="
            else:
                key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ConfigurationError("parameter overrides are written Key=Value")
            out[key] = value.strip("'\"")
    return out


class Template:
    """A parsed SAM template.

    Parameters
    ----------
    path:
        The template file (YAML or JSON); ``CodeUri`` paths are relative to its folder.
    parameter_overrides:
        Parameter values that replace the template's defaults.

    Raises
    ------
    ConfigurationError
        The file is missing, unreadable, or not a SAM template.

    Examples
    --------
    >>> t = Template("template.yaml", parameter_overrides={"JwtAudience": "api"})  # doctest: +SKIP
    >>> t.function("MeFunction").environment["JWT_AUDIENCE"]                       # doctest: +SKIP
    'api'
    """

    def __init__(self, path: str | os.PathLike[str], *, parameter_overrides: Mapping[str, str] | None = None):
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigurationError(f"template not found: {self.path} (pass --template)") from None
        except (OSError, UnicodeDecodeError):
            raise ConfigurationError(f"template cannot be read: {self.path}") from None
        doc = load_yaml(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
            raise ConfigurationError(f"{self.path} is not a CloudFormation/SAM template (no Resources)")
        self.document: dict[str, Any] = doc
        self.resources: dict[str, Any] = doc["Resources"]
        self.parameters = self._parameters(doc, dict(parameter_overrides or {}))
        self.functions: dict[str, Function] = {}
        globals_ = doc.get("Globals", {}) or {}
        defaults = globals_.get("Function", {}) if isinstance(globals_, dict) else {}
        for name, resource in doc["Resources"].items():
            if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
                self.functions[name] = self._function(name, resource.get("Properties") or {}, defaults or {})

    @property
    def routes(self) -> list[Route]:
        """Every HTTP API route of every function, in template order."""
        return [route for function in self.functions.values() for route in function.routes]

    def function(self, name: str) -> Function:
        """The function with this logical id; ConfigurationError naming the choices otherwise."""
        try:
            return self.functions[name]
        except KeyError:
            choices = ", ".join(self.functions) or "none"
            raise ConfigurationError(
                f"no function {name!r} in {self.path} (functions: {choices})") from None

    def _parameters(self, doc: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
        declared = doc.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise ConfigurationError(f"unknown template parameter(s): {', '.join(unknown)}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in overrides:
                values[name] = overrides[name]
            elif isinstance(spec, dict) and "Default" in spec:
                values[name] = _text(spec["Default"])
        return values

    def _function(self, name: str, props: dict[str, Any], defaults: dict[str, Any]) -> Function:
        merged = {**defaults, **props}
        env: dict[str, Any] = {}
        for source in (defaults, props):
            block = source.get("Environment")
            if isinstance(block, dict) and isinstance(block.get("Variables"), dict):
                env.update(block["Variables"])
        environment: dict[str, str] = {}
        unresolved: list[str] = []
        for key, raw in env.items():
            value = self.resolve(raw)
            if value is _UNRESOLVED:
                unresolved.append(key)
            elif value is not None:
                environment[str(key)] = _text(value)
        code_uri = self.resolve(merged.get("CodeUri", "."))
        handler = self.resolve(merged.get("Handler"))
        if merged.get("PackageType") == "Image" or not isinstance(code_uri, str):
            code_dir = Path("<not a local folder>")
        else:
            code_dir = (self.path.parent / code_uri).resolve()
        routes = []
        for event in (props.get("Events") or {}).values():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            ep = event.get("Properties") or {}
            path, method = self.resolve(ep.get("Path", "$default")), self.resolve(ep.get("Method", "ANY"))
            routes.append(Route(str(method).upper(), str(path), name))
        return Function(
            name=name,
            code_dir=code_dir,
            handler=handler if isinstance(handler, str) else "",
            runtime=self.resolve(merged.get("Runtime")) if "Runtime" in merged else None,
            timeout_seconds=float(self.resolve(merged.get("Timeout", 3)) or 3),
            memory_mb=int(self.resolve(merged.get("MemorySize", 128)) or 128),
            environment=environment,
            routes=tuple(routes),
            unresolved=tuple(unresolved),
        )

    def resolve(self, value: Any) -> Any:
        """``value`` with ``Ref``, ``Fn::Sub`` and ``Fn::Join`` over parameters evaluated."""
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::Sub":
            template, names = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
            if not isinstance(template, str) or not isinstance(names, dict):
                return _UNRESOLVED
            values = {k: self.resolve(v) for k, v in names.items()}

            def sub(m: re.Match[str]) -> str:
                name = m.group(1)
                if name.startswith("!"):
                    return "${" + name[1:] + "}"
                got = values[name] if name in values else self._ref(name)
                if got is _UNRESOLVED or got is None:
                    raise LookupError(name)
                return _text(got)

            try:
                return _SUB.sub(sub, template)
            except LookupError:
                return _UNRESOLVED
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            parts = [self.resolve(p) for p in arg[1]]
            if any(p is _UNRESOLVED or p is None for p in parts):
                return _UNRESOLVED
            return _text(arg[0]).join(_text(p) for p in parts)
        if fn.startswith("Fn::") or fn == "Condition":
            return _UNRESOLVED
        return value

    def _ref(self, name: Any) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::Region":
            return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        if name == "AWS::NoValue":
            return None
        return _PSEUDO.get(name, _UNRESOLVED)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # CloudFormation writes booleans in lower case
    return "" if value is None else str(value)
