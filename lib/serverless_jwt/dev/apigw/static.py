"""Static files from a folder (``public/``), like ``sam local start-api --static-dir public``.

``GET``/``HEAD`` only; ``/`` and any folder serve its ``index.html``. The path is decoded once and must
stay inside the folder after symlinks are resolved: ``..``, absolute paths, NUL bytes and backslashes
find nothing (a 404 from the caller), never a file elsewhere.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

from serverless_jwt.dev.apigw.responses import Answer

__all__ = ["StaticFiles"]

MAX_FILE_BYTES = 50 * 1024 * 1024


class StaticFiles:
    """Serves files under ``root``; :meth:`answer` is ``None`` when there is no such file."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def find(self, raw_path: str) -> Path | None:
        """The file ``raw_path`` names inside the folder, or ``None``."""
        path = unquote(raw_path)
        if "\x00" in path or "\\" in path:
            return None
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            return None
        candidate = self.root.joinpath(*parts) if parts else self.root
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.root):
            return None
        if resolved.is_dir():
            resolved = resolved / "index.html"
        return resolved if resolved.is_file() else None

    def answer(self, method: str, raw_path: str) -> Answer | None:
        """The file as a 200, or ``None`` (not a GET/HEAD, or no such file)."""
        if method.upper() not in ("GET", "HEAD"):
            return None
        found = self.find(raw_path)
        if found is None:
            return None
        try:
            if found.stat().st_size > MAX_FILE_BYTES:
                return None
            data = found.read_bytes()
        except OSError:
            return None
        kind, encoding = mimetypes.guess_type(found.name)
        kind = kind or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        headers = [("Content-Type", kind)]
        if encoding:
            headers.append(("Content-Encoding", encoding))
        return Answer(200, headers, data)
