"""The values the CLI's options take (argparse ``type=``): a value no command could use is a usage error
(exit 2, ``serverless-jwt COMMAND: error: argument --x: ...``) before anything runs."""

from __future__ import annotations

import argparse

__all__ = ["cors_origin", "nonempty", "port", "redirect_uri"]


def port(text: str) -> int:
    """A TCP port for argparse: 0-65535 (0 picks a free one), else a usage error (exit 2)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is outside 0-65535")
    return number


def redirect_uri(text: str) -> str:
    """--redirect-uri: an absolute URI without a fragment (RFC 6749 §3.1.2); anything else could never
    match the sign-in request's redirect_uri, and the login page would refuse it without saying why."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or (parts.scheme in ("http", "https") and not parts.hostname) \
            or any(not 0x21 <= ord(c) <= 0x7E for c in text):
        raise argparse.ArgumentTypeError(f"not an absolute URI: {text!r} (e.g. http://localhost:5173/)")
    if "#" in text:
        raise argparse.ArgumentTypeError(f"a redirect URI has no fragment (RFC 6749 section 3.1.2): {text!r}")
    try:
        parts.port  # noqa: B018 - read for its ValueError: a port past 65535, or not a number
    except ValueError:
        raise argparse.ArgumentTypeError(f"a redirect URI's port is a number in 0-65535: {text!r}") from None
    return text


def cors_origin(text: str) -> str:
    """--cors-origin: an origin as a browser sends it (scheme://host[:port], nothing after)."""
    from serverless_jwt.dev._oidc_rules import canonical_origin

    trimmed = text[:-1] if text.endswith("/") else text
    canonical = canonical_origin(trimmed)
    if canonical is None:
        raise argparse.ArgumentTypeError(f"not an origin: {text!r} (scheme://host[:port], e.g. "
                                         "http://localhost:5173)")
    if canonical != trimmed:  # a path, a query, upper case, a default port: never what a browser sends
        raise argparse.ArgumentTypeError(f"not an origin as a browser sends it: {text!r} (did you mean "
                                         f"{canonical}?)")
    return trimmed


def nonempty(text: str) -> str:
    """--sub, --audience, --issuer-url: '' (an unset shell variable) would mint a token no one expects."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a value ('' is not one: is the shell variable set?)")
    return text
