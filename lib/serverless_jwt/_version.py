"""The package version, written once (pyproject.toml) and read here at run time.

In a source checkout (``PYTHONPATH=lib``, an editable install) it comes from the checkout's
``pyproject.toml`` (ours, named serverless-jwt: not a host project's, when vendored), even when a build
left a ``lib/serverless_jwt.egg-info`` there whose version may be stale. Installed with pip, it comes
from the package metadata. As plain source with neither (the package folder copied into a layer's
``python/``, as the sample's ``sam build`` does), it is ``0+unknown``: ``serverless_jwt.__version__``
always answers. Loaded on first access only (importlib.metadata costs
milliseconds at a cold start).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

__all__ = ["UNKNOWN", "version"]

DISTRIBUTION = "serverless-jwt"
UNKNOWN = "0+unknown"
# The [project] table runs to the next line that opens a table; tomllib is not in Python 3.10.
_PROJECT_TABLE = re.compile(r"^\[project\][ \t]*$(.*?)(?=^\[|\Z)", re.MULTILINE | re.DOTALL)
_VERSION = re.compile(r'^version\s*=\s*"([^"]+)"', re.MULTILINE)
_NAME = re.compile(r'^name\s*=\s*"([^"]+)"', re.MULTILINE)


def version(package_dir: Path | None = None) -> str:
    """The version of the distribution that holds ``package_dir`` (this package by default)."""
    here = (package_dir or Path(__file__).parent).resolve()
    # Our own checkout first: `python -m build` or `pip install .` leaves lib/serverless_jwt.egg-info
    # beside the package, whose version stays the one of that build after pyproject.toml changes.
    checkout = _from_checkout(here)
    if checkout is not None:
        return checkout
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN
    return dist.version if _serves(dist, here) else UNKNOWN


def _serves(dist: metadata.Distribution, package_dir: Path) -> bool:
    # The installed metadata describes *these* files, not another copy of the package that happens to
    # be importable (a folder copied into a layer next to an installed wheel, or a second checkout).
    init = dist.locate_file("serverless_jwt/__init__.py")
    try:
        return Path(str(init)).resolve().parent == package_dir
    except OSError:
        return False


def _from_checkout(package_dir: Path) -> str | None:
    pyproject = package_dir.parent.parent / "pyproject.toml"  # <checkout>/lib/serverless_jwt
    try:
        text = pyproject.read_text("utf-8")
    except OSError:
        return None
    table = _PROJECT_TABLE.search(text)
    if table is None:
        return None
    # Our own checkout's only: the package vendored as <project>/src/serverless_jwt sits under another
    # project's pyproject.toml, whose version is not ours.
    name = _NAME.search(table.group(1))
    if name is None or re.sub(r"[-_.]+", "-", name.group(1)).lower() != DISTRIBUTION:
        return None
    found = _VERSION.search(table.group(1))
    return found.group(1) if found else None
