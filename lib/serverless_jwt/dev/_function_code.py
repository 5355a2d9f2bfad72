"""Where a function's code is, read as SAM CLI's ``SamFunctionProvider`` reads it.

``AWS::Serverless::Function``: ``InlineCode``, else ``CodeUri`` (default ``.``). ``AWS::Lambda::Function``:
``Code`` as a local path (what ``sam build`` and the CDK write), ``Code.ZipFile`` (inline), an S3
location, or ``{ImageUri}`` (``PackageType: Image``). A local ``.zip``/``.jar`` is unpacked, as sam local
unpacks it (:func:`unpacked`). Code in S3 is not run locally (sam local skips
such a function); inline code is recognised so that running it can be refused as sam local refuses it.
:func:`newest_mtime` says when code last changed (a stale ``sam build``, a runtime to restart).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from serverless_jwt.dev._private_dir import make_private_dir
from serverless_jwt.dev._symbol_table import FUNCTION
from serverless_jwt.errors import ConfigurationError

__all__ = ["ARCHIVES", "INLINE", "code_location", "newest_mtime", "unpacked"]

ARCHIVES = (".zip", ".jar", ".ZIP", ".JAR")  # SAM CLI's SUPPORTED_ARCHIVE_EXTENSIONS

INLINE: Any = object()


def code_location(kind: str, name: str, props: Mapping[str, Any], require: Callable[[Any, str], Any]) -> Any:
    """The local path of the code (resolved by ``require``), :data:`INLINE` for ``InlineCode`` /
    ``Code.ZipFile``, ``None`` when it is in S3."""
    key = "CodeUri" if kind == FUNCTION else "Code"
    raw = props.get(key, ".")
    if props.get("InlineCode") if kind == FUNCTION else isinstance(raw, dict) and raw.get("ZipFile"):
        return INLINE
    if isinstance(raw, dict) and ("S3Bucket" in raw or "Bucket" in raw):
        return None
    uri = require(raw, f"{name}.{key}")
    if isinstance(uri, str) and uri.startswith("s3://"):
        return None
    # Code: {ImageUri: ...} goes with PackageType Image (refused later); SAM reads any other mapping as ".".
    return "." if kind != FUNCTION and isinstance(uri, dict) else uri


# .serverless-jwt: these dev tools' own state (the dev issuer's keys and address, unpacked .zip code), which
# they write beside the template; never inside a CodeUri (_state_dir), but --state-dir may put it there.
_NOT_CODE = ("__pycache__", ".aws-sam", ".git", ".serverless-jwt")


def newest_mtime(folder: Path) -> float:
    """The latest change of any file under ``folder`` (0 when empty or missing): its modification or, when
    later, its status-change time, which a file moved or copied into place with an older modification
    time (``cp -p``, ``rsync -t``, ``tar x``) still gets."""
    newest = 0.0
    for root, dirs, files in os.walk(folder):
        # Packaging metadata (pip install -e and python -m build rewrite *.egg-info) is no edit of the code.
        dirs[:] = [d for d in dirs if d not in _NOT_CODE and not d.endswith(".egg-info")]
        for name in files:
            try:
                found = os.stat(os.path.join(root, name))
                newest = max(newest, found.st_mtime, found.st_ctime)
            except OSError:
                continue
    return newest


def stale_sources(build_root: Path | None, sources: list[Path]) -> tuple[Path, ...]:
    """The folders of ``sources`` changed since ``sam build`` wrote ``build_root`` (none without a build)."""
    if build_root is None:
        return ()
    built_at = (build_root / "template.yaml").stat().st_mtime
    return tuple(d for d in dict.fromkeys(sources) if newest_mtime(d) > built_at)


def unpacked(archive: Path, cache: Path, name: str) -> Path:
    """The folder ``archive`` (a ``.zip`` CodeUri) unpacks to under ``cache``, as sam local unpacks it
    into a folder of its own before running the function; unpacked again when the archive changes."""
    found = archive.stat()
    key = hashlib.sha256(f"{archive}\0{found.st_size}\0{found.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache / f"{name}-{key}"
    if target.is_dir():
        return target
    make_private_dir(cache)
    partial = cache / f".{target.name}.{os.getpid()}"
    try:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(partial)  # names stay inside `partial` ("../" and leading "/" dropped)
        os.replace(partial, target)  # whole or not at all
    except zipfile.BadZipFile:
        raise ConfigurationError(f"{name}: CodeUri {archive} is not a zip archive") from None
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if not target.is_dir():  # else another process unpacked it first
            raise ConfigurationError(f"{name}: cannot unpack {archive}: {exc.strerror or exc}") from None
    return target
