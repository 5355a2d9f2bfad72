"""The folders the local loop writes for itself (dev issuer keys, runtime environments).

A folder made here gets a ``.gitignore`` of ``*``, as ``venv`` and pytest's cache do: the dev issuer's
private keys and a few hundred MB of environments must never reach a user's repository through
``git add .``, whatever their own ``.gitignore`` says.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from serverless_jwt.errors import ConfigurationError

__all__ = ["make_private_dir"]

_IGNORE_ALL = "# Made by serverless-jwt: local state (dev keys, runtimes), never to be committed.\n*\n"


def make_private_dir(path: Path, *, mode: int = 0o700) -> None:
    """Create ``path`` (and its parents) if missing; a folder created now ignores itself in git."""
    created = not path.exists()
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigurationError(f"{path} exists and is not a folder (a state folder is needed)") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot make the folder {path}: {exc.strerror or 'unwritable'}") from None
    if created:
        with contextlib.suppress(OSError):  # a read-only place still works, only without the file
            (path / ".gitignore").write_text(_IGNORE_ALL, encoding="utf-8")
