"""What a template's resources are read with: parameter values, the ``Globals`` section and the
``AWS::LanguageExtensions`` transform (``Fn::ForEach``).

``Parameters`` take ``--parameter-overrides`` values (:func:`parse_overrides`, both sam spellings),
else their ``Default``; ``Globals`` are the SAM translator's own ``Globals`` class. Used by
:class:`~serverless_jwt.dev.template.Template`, which re-exports :func:`parse_overrides`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serverless_jwt.dev.intrinsics import as_text
from serverless_jwt.errors import ConfigurationError

__all__ = ["language_extensions", "parameter_values", "parse_overrides", "sam_globals"]


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
