"""The template file as ``sam local`` reads it, before any of its resources: found, parsed, checked.

A missing file names the folder a command run from a subfolder of the project meant (:func:`found_above`);
the text is parsed by :func:`~serverless_jwt.dev._cfn_yaml.yaml_parse` (SAM CLI's ``yaml_parse``) and must
be a mapping with ``Resources``. Every failure is a ConfigurationError naming the file, never a traceback.
Used by :class:`~serverless_jwt.dev.template.Template` and the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from serverless_jwt.errors import ConfigurationError

__all__ = ["TEMPLATE_NAMES", "default_template", "found_above", "read_template"]

# What sam reads without --template, in its order (samcli/commands/_utils/constants.py).
TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")


def found_above(path: str | os.PathLike[str]) -> Path | None:
    """The nearest folder above the working directory holding the relative ``path`` that the working
    directory lacks (``template.yaml``, ``.serverless-jwt``), or ``None``: for a command run from a
    subfolder of the project (``lambdas/me/``), to name the folder it meant."""
    relative = Path(path)
    if relative.is_absolute() or relative.exists():
        return None
    return next((folder for folder in Path.cwd().parents if (folder / relative).exists()), None)


def default_template() -> str:
    """The template read without ``--template``, as sam finds it: the first of ``template.yaml``,
    ``template.yml``, ``template.json`` in the working directory; else the first a folder above holds
    (so the error names where to run from); else ``template.yaml``."""
    for name in TEMPLATE_NAMES:
        if Path(name).is_file():
            return name
    return next((name for name in TEMPLATE_NAMES if found_above(name) is not None), TEMPLATE_NAMES[0])


def _not_found(path: Path) -> str:
    if path == Path(TEMPLATE_NAMES[0]) and not any(Path(name).exists() or found_above(name) is not None
                                                   for name in TEMPLATE_NAMES):
        # What default_template gives when it found none: say every name looked for, as it looked for them.
        return f"template not found: no {', '.join(TEMPLATE_NAMES[:-1])} or {TEMPLATE_NAMES[-1]} in " \
               f"{Path.cwd()} (pass --template)"
    return f"template not found: {path} ({_elsewhere(path)})"


def _elsewhere(path: Path) -> str:
    folder = found_above(path)
    if folder is None:
        return "pass --template"
    return (f"the working directory is {Path.cwd()}; {folder / path} exists: run from {folder}, "
            "or pass --template")


def read_template(path: Path) -> dict[str, Any]:
    """The parsed template at ``path``: a mapping with a ``Resources`` mapping, else ConfigurationError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(_not_found(path)) from None
    except (OSError, UnicodeDecodeError):
        raise ConfigurationError(f"template cannot be read: {path}") from None
    # PyYAML comes with the `local` extra: imported here so the dataclasses template.py re-exports (used
    # by the pytest plugin and `serverless-jwt token`) need none.
    from serverless_jwt.dev._cfn_yaml import YAMLError, yaml_parse

    try:
        doc = yaml_parse(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(f"{path} is not valid YAML{where}") from None
    except (RecursionError, TypeError, ValueError):  # nested past Python's stack, a list as a key
        raise ConfigurationError(f"{path} nests too deeply or has a key that is not text") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise ConfigurationError(f"{path} is not a CloudFormation/SAM template (no Resources)")
    return doc
