"""Optional dependencies: one way to import them, one error when they are missing.

The core install is PyJWT and cryptography. Everything else comes with an extra, and every optional
import in the package goes through this module, so a missing one always fails the same way, at once
(import or construction, never per request), naming the command that fixes it::

    with requires("powertools", "The Powertools Event Handler middleware"):
        from aws_lambda_powertools.event_handler import Response

A small hand-written helper: the standard library has no notion of extras, and the libraries that
solve this (e.g. pandas' ``import_optional_dependency``) are not something a Lambda layer should carry.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from serverless_jwt.errors import MissingExtraError

__all__ = ["ensure", "requires"]


@contextmanager
def requires(extra: str, feature: str) -> Iterator[None]:
    """Turn a missing third-party module imported inside the block into :class:`MissingExtraError`.

    Parameters
    ----------
    extra:
        The extra that provides the modules (``"powertools"``, ``"powertools,aws"``...).
    feature:
        What the user was reaching for, as the start of a sentence ("The FastAPI integration").

    Raises
    ------
    MissingExtraError
        When a module imported in the block is not installed. A missing ``serverless_jwt`` module is
        a bug of ours, not a missing extra, and propagates unchanged.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] == "serverless_jwt":
            raise
        raise MissingExtraError(extra, feature, exc.name) from exc


def ensure(extra: str, feature: str, *modules: str) -> None:
    """Check now, without importing them, that top-level ``modules`` are installed (for lazy imports).

    Raises
    ------
    MissingExtraError
        Naming the first module that is not installed.
    """
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(extra, feature, module)
