"""The request target as API Gateway reads it: its origin form, and the path inside a stage prefix.

Split from ``server.py`` to keep that module small; plain functions of text, with no server state.
"""

from __future__ import annotations

__all__ = ["origin_form", "under"]


def under(prefix: str, raw_path: str) -> str | None:
    """The path inside a stage prefix (``"/v2"``), or ``None`` when ``raw_path`` is not under it."""
    if not prefix:
        return raw_path
    if raw_path == prefix or raw_path.startswith(prefix + "/"):
        return raw_path[len(prefix):] or "/"
    return None


def origin_form(target: str) -> str:
    """The path and query of a request target. An absolute-form target (``GET http://host/me``, as a
    proxy-minded client sends it) must be accepted (RFC 9112 §3.2.2): its authority is not the path.
    Raw non-ASCII bytes (curl sends a URL's UTF-8 as is; http.server reads them as Latin-1) are
    percent-encoded, as a browser sends them, so they decode to the text meant, not to mojibake."""
    if not target.isascii():
        target = "".join(c if ord(c) < 128 else f"%{ord(c):02X}" for c in target)
    if target[:8].lower().startswith(("http://", "https://")):
        _, _, rest = target.partition("//")
        slash, query = rest.find("/"), rest.find("?")
        if slash < 0 or 0 <= query < slash:
            return "/" + rest[query:] if query >= 0 else "/"
        return rest[slash:]
    return target
