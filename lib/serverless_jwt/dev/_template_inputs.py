"""What a template's resources are read with: parameter values, the ``Globals`` section and the
``AWS::LanguageExtensions`` transform (``Fn::ForEach``).

``Parameters`` take ``--parameter-overrides`` values (:func:`parse_overrides`, both sam spellings and
sam's ``file://params.yaml``), else their ``Default``; ``Globals`` are the SAM translator's own
``Globals`` class. Used by :class:`~serverless_jwt.dev.template.Template`, which re-exports
:func:`parse_overrides`.
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


# Values one parse_overrides may visit: a parameters file of a few hundred bytes can hold billions
# through YAML aliases (or files included many times over), and sam would walk every one.
MAX_OVERRIDE_VALUES = 10_000


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``["Key=Value", "A=B C=D", "file://params.yaml"]`` (``sam`` style) into a dict; raises
    ConfigurationError.

    Files are read as ``sam`` reads them (its own readers: ruamel.yaml, YAML 1.2, so ``yes`` and
    ``1:30`` stay text; tomlkit for TOML) and flattened as its ``CfnParameterOverridesType`` does,
    wrapping quotes taken off at every level of files and ``$include`` as sam takes them off.
    """
    return _convert(list(items or []), _Walk(), ())


class _Walk:
    """One parse_overrides call: values visited so far (capped) and the files read (each read once)."""

    def __init__(self) -> None:
        self.visited = 0
        self.files: dict[Path, Any] = {}

    def visit(self, count: int = 1) -> None:
        self.visited += count
        if self.visited > MAX_OVERRIDE_VALUES:
            raise ConfigurationError(f"--parameter-overrides holds more than {MAX_OVERRIDE_VALUES} values "
                                     "(YAML aliases, or a file included many times over?)")


_Chain = tuple[tuple[Path, str], ...]  # the files being read, outermost first, with their file:// refs


def _convert(values: Any, walk: _Walk, chain: _Chain) -> dict[str, str]:
    """One level of sam's ``CfnParameterOverridesType.convert``: each value, then every key and value
    unquoted (sam's ``_unquote_wrapped_quotes``, run again by each level that takes this one's result)."""
    where = f" ({chain[-1][1]})" if chain else ""
    params: dict[str, str] = {}
    for value in _flat(values, walk):
        if isinstance(value, str):
            if value.startswith("file://"):
                params.update(_overrides_file(value, walk, chain))
            else:
                _pairs(value, params, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk.visit()
                if item is None:
                    params[str(key)] = ""
                elif key == "$include":
                    if not isinstance(item, (str, list)):
                        raise ConfigurationError(f"--parameter-overrides{where}: $include must be text or "
                                                 "a list")
                    params.update(_convert(item, walk, chain))
                elif isinstance(item, list) and not any(isinstance(v, (list, dict)) for v in item):
                    walk.visit(len(item))
                    params[str(key)] = ",".join(str(v).strip() for v in item if v not in (None, ""))
                elif isinstance(item, (list, dict)):  # sam would paste a Python repr in
                    raise ConfigurationError(f"--parameter-overrides{where}: {key} must be text or a list")
                else:
                    params[str(key)] = str(item)
        elif value is not None:  # the value itself may be a secret: only its type is named
            kind = type(value).__name__
            raise ConfigurationError(f"--parameter-overrides{where}: a {kind} is no Key=Value")
    return {_unquote(k): _unquote(v) for k, v in params.items()}


def _flat(values: Any, walk: _Walk) -> list[Any]:
    """sam's ``_flatten_list``: nested lists into one, in order (iterative, and every item counted)."""
    out: list[Any] = []
    stack = [iter([values])]
    while stack:
        for value in stack[-1]:
            walk.visit()
            if isinstance(value, (list, tuple)):
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


# One Key=Value piece, split as sam splits them (cli/types.py's value pattern): quoted runs, and a
# backslash escaping the next character (`x\ y`, `"q\"r"`) inside and outside quotes.
_PIECE = re.compile(r"""(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\\.|[^\s"'\\])+""")


def _pairs(text: str, out: dict[str, str], where: str) -> None:
    previous = ""
    for number, pair in enumerate(_PIECE.findall(text), 1):
        if pair.startswith("ParameterKey=") and ",ParameterValue=" in pair:  # CloudFormation spelling
            key, _, value = pair.removeprefix("ParameterKey=").partition(",ParameterValue=")
            sep = "="
        else:
            key, sep, value = pair.partition("=")
        if not sep or not key:
            # The piece is not shown: after an unquoted `Secret=two words` it is part of a secret.
            piece = f"the text after {previous}=" if previous else f"piece {number}"
            raise ConfigurationError(f"parameter overrides{where} are written Key=Value (or "
                                     f"file://FILE.yaml): {piece} is not (quote a value that holds spaces)")
        out[key] = value
        previous = key


def _unquote(value: str) -> str:
    """sam's ``_unquote_wrapped_quotes``: one pair of wrapping quotes off, then ``\\ ``, ``\\"`` and ``\\'``
    unescaped."""
    if value and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value.replace("\\ ", " ").replace('\\"', '"').replace("\\'", "'")


def _overrides_file(ref: str, walk: _Walk, chain: _Chain) -> dict[str, str]:
    """``file://params.yaml`` (or ``.yml``, ``.toml``), relative to the including file, read by sam's
    own reader for its suffix."""
    from serverless_jwt._extras import requires

    with requires("local", "Reading --parameter-overrides file://"):
        from samcli.lib.config.file_manager import FILE_MANAGER_MAPPER
    path = Path(ref.removeprefix("file://"))
    path = (chain[-1][0].parent / path if chain and not path.is_absolute() else path).resolve()
    if not path.is_file():
        raise ConfigurationError(f"--parameter-overrides {ref}: not found or a folder")
    manager = FILE_MANAGER_MAPPER.get(path.suffix)
    if manager is None:  # sam's JSON reader is disabled
        raise ConfigurationError(f"--parameter-overrides {ref}: sam reads .yaml, .yml or .toml files")
    if any(seen == path for seen, _ in chain):
        cycle = " -> ".join(r for _, r in chain[next(i for i, (p, _) in enumerate(chain) if p == path):])
        raise ConfigurationError(f"--parameter-overrides: {cycle} -> {ref}: a file includes itself")
    walk.visit()
    if path not in walk.files:
        walk.files[path] = _read(path, ref, manager)
    return _convert(walk.files[path], walk, (*chain, (path, ref)))


def _read(path: Path, ref: str, manager: Any) -> Any:
    try:  # read first for a clear error: sam's reader takes an unreadable file as an empty one
        path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigurationError(f"--parameter-overrides {ref} cannot be read ({why})") from None
    try:
        return manager.read(path)
    except Exception:  # sam's FileParseException, a RecursionError: the file's text is not echoed
        raise ConfigurationError(f"--parameter-overrides {ref} is not valid {manager.file_format}") from None


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
