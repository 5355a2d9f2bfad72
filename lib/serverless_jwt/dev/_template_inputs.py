"""What a template's resources are read with: parameter values, the ``Globals`` section and the
``AWS::LanguageExtensions`` transform (``Fn::ForEach``).

``Parameters`` take ``--parameter-overrides`` values (:func:`parse_overrides`, both sam spellings and
sam's ``file://params.yaml``), else their ``Default``; ``Globals`` are the SAM translator's own
``Globals`` class. Used by :class:`~serverless_jwt.dev.template.Template`, which re-exports
:func:`parse_overrides`.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serverless_jwt.dev.intrinsics import as_text
from serverless_jwt.errors import ConfigurationError

__all__ = ["language_extensions", "parameter_values", "parse_overrides", "sam_globals"]


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``["Key=Value", "A=B C=D", "file://params.yaml"]`` (``sam`` style) into a dict; raises
    ConfigurationError."""
    out: dict[str, str] = {}
    for item in items or []:
        _overrides_text(item, out, None, set())
    return out


def _overrides_text(item: str, out: dict[str, str], current: Path | None, seen: set[Path]) -> None:
    for pair in re.findall(r"""(?:[^\s"']|"[^"]*"|'[^']*')+""", item):
        if pair.startswith("file://"):
            _overrides_file(pair, out, current, seen)
            continue
        if pair.startswith("ParameterKey=") and ",ParameterValue=" in pair:  # CloudFormation spelling
            key, _, value = pair.removeprefix("ParameterKey=").partition(",ParameterValue=")
            sep = "="
        else:
            key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"parameter overrides are written Key=Value (or file://FILE.yaml), "
                                     f"not {pair!r}")
        out[key] = value.strip("'\"")


def _overrides_file(ref: str, out: dict[str, str], current: Path | None, seen: set[Path]) -> None:
    """``file://params.yaml`` (or ``.yml``, ``.toml``) as sam reads it: ``Key: value`` (a list joined
    with commas), ``Key=Value`` strings, ``$include`` of other files (relative to the including one)."""
    path = Path(ref.removeprefix("file://"))
    path = (current.parent / path if current is not None and not path.is_absolute() else path).resolve()
    if not path.is_file():
        raise ConfigurationError(f"--parameter-overrides {ref}: not found or a folder")
    if path.suffix not in (".yaml", ".yml", ".toml"):  # as sam: its JSON reader is disabled
        raise ConfigurationError(f"--parameter-overrides {ref}: sam reads .yaml, .yml or .toml files")
    if path in seen:
        raise ConfigurationError(f"--parameter-overrides {ref}: it includes itself")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigurationError(f"--parameter-overrides {ref} cannot be read ({why})") from None
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    try:
        # tomllib: Python 3.11 on (this package supports 3.10)
        reader: Any = importlib.import_module("tomllib" if kind == "TOML" else "yaml")
    except ImportError:
        raise ConfigurationError(f"--parameter-overrides {ref}: reading {kind} needs "
                                 + ("Python 3.11" if kind == "TOML" else "PyYAML")) from None
    try:
        data = reader.loads(text) if kind == "TOML" else reader.safe_load(text)
    except Exception:  # TOMLDecodeError, PyYAML's YAMLError, a RecursionError: its text is not echoed
        raise ConfigurationError(f"--parameter-overrides {ref} is not valid {kind}") from None
    _overrides_value(data, ref, out, path, seen | {path})


def _overrides_value(data: Any, ref: str, out: dict[str, str], path: Path, seen: set[Path]) -> None:
    if data is None:
        return
    if isinstance(data, str):
        _overrides_text(data, out, path, seen)
    elif isinstance(data, list):
        for value in data:
            _overrides_value(value, ref, out, path, seen)
    elif isinstance(data, dict):
        for key, value in data.items():
            if key == "$include" and isinstance(value, (str, list)):
                _overrides_value(value, ref, out, path, seen)
            elif isinstance(value, list) and not any(isinstance(v, (list, dict)) for v in value):
                out[str(key)] = ",".join(str(v).strip() for v in value if v not in (None, ""))
            elif isinstance(value, (list, dict)):
                raise ConfigurationError(f"--parameter-overrides {ref}: {key} must be text or a list")
            else:
                out[str(key)] = "" if value is None else str(value)
    else:
        raise ConfigurationError(f"--parameter-overrides {ref}: {data!r} is no Key=Value")


def parameter_values(declared: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each declared parameter's value: its override, else its ``Default`` (neither: left out)."""
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value: Any = overrides[name]
        elif isinstance(spec, dict) and "Default" in spec:
            default = spec["Default"]
            # CloudFormation takes text (a list type's too: "a,b"); a flat list of values is read
            # as that text. Anything nested is refused before it is walked: YAML aliases can make
            # a few hundred bytes billions of values.
            if isinstance(default, dict) or (isinstance(default, list) and any(
                    isinstance(v, (list, dict)) for v in default)):
                raise ConfigurationError(f"Parameters.{name}.Default must be text")
            value = as_text(default)
        else:
            continue
        if isinstance(spec, dict) and spec.get("Type") == "CommaDelimitedList":
            value = [part.strip() for part in str(value).split(",")]
        values[name] = value
    return values


def sam_globals(doc: dict[str, Any], path: Path) -> Any:
    """The template's ``Globals`` (the SAM translator's class, which merges them); ``None`` without any."""
    if "Globals" not in doc:
        return None
    from serverless_jwt._extras import requires

    with requires("local", "Reading a template's Globals"):
        from samtranslator.plugins.globals.globals import Globals, InvalidGlobalsSectionException
    try:
        return Globals(doc)
    except InvalidGlobalsSectionException as exc:
        raise ConfigurationError(f"{path}: {exc.message}") from None


def language_extensions(doc: dict[str, Any], parameters: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """``doc`` with ``AWS::LanguageExtensions``' ``Fn::ForEach`` expanded into resources (as
    CloudFormation does on deploy) by SAM CLI's own expansion, which ``sam local`` runs with
    ``--language-extensions``; ``doc`` itself without that transform.

    Only the parsing and ``Fn::ForEach`` steps of SAM CLI's pipeline run: its next step resolves every
    other intrinsic "partially", turning ``!Sub "${AWS::Region}"`` or ``!Sub "${Table}"`` into that very
    text (no longer a ``Fn::Sub``), so our resolver could neither resolve nor report it.
    """
    transform = doc.get("Transform")
    if "AWS::LanguageExtensions" not in (transform if isinstance(transform, list) else [transform]):
        return doc
    from serverless_jwt._extras import requires

    with requires("local", "Expanding AWS::LanguageExtensions (Fn::ForEach)"):
        from samcli.lib.cfn_language_extensions.api import create_default_intrinsic_resolver
        from samcli.lib.cfn_language_extensions.exceptions import InvalidTemplateException
        from samcli.lib.cfn_language_extensions.models import ResolutionMode, TemplateProcessingContext
        from samcli.lib.cfn_language_extensions.pipeline import ProcessingPipeline
        from samcli.lib.cfn_language_extensions.processors.foreach import ForEachProcessor
        from samcli.lib.cfn_language_extensions.processors.parsing import TemplateParsingProcessor
    context = TemplateProcessingContext(fragment=copy.deepcopy(doc), parameter_values=dict(parameters),
                                        resolution_mode=ResolutionMode.PARTIAL)
    # The resolver reads only a loop's collection (`!Ref Names`); the loop bodies keep their intrinsics.
    resolver = create_default_intrinsic_resolver(context)
    pipeline = ProcessingPipeline([TemplateParsingProcessor(), ForEachProcessor(intrinsic_resolver=resolver)])
    try:
        expanded: dict[str, Any] = pipeline.process_template(context)
    except InvalidTemplateException as exc:
        raise ConfigurationError(f"{path}: AWS::LanguageExtensions: {exc}") from None
    if not isinstance(expanded.get("Resources"), dict):
        raise ConfigurationError(f"{path}: AWS::LanguageExtensions left no Resources")
    return expanded
