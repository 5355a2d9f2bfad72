"""Shape checks for template properties: what SAM itself would refuse is a ConfigurationError here.

A property of an unexpected shape (a list where a mapping goes, text where a number does) names its
resource instead of ending in a Python traceback; numbers are held to the bounds Lambda sets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from serverless_jwt.errors import ConfigurationError

__all__ = ["bounded", "malformed"]


@contextlib.contextmanager
def malformed(path: Path, where: str) -> Iterator[None]:
    """A property of an unexpected shape (a list where a mapping goes, text where a number does) is a
    ConfigurationError naming the resource, not a Python traceback."""
    try:
        yield
    except ConfigurationError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError, OverflowError) as exc:
        raise ConfigurationError(
            f"{path.name}: {where} has a property of an unexpected shape "
            f"({type(exc).__name__}: {str(exc)[:120]})") from None


def bounded(value: Any, where: str, low: float, high: float, kind: type) -> float:
    # As Lambda bounds them: Timeout 1-900 s, MemorySize 128-10240 MB (NaN, inf and text refused).
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where} must be a number") from None
    if not low <= number <= high or (kind is int and number != int(number)):
        raise ConfigurationError(f"{where} must be {'an integer' if kind is int else 'a number'} "
                                 f"from {low:g} to {high:g}")
    return number
