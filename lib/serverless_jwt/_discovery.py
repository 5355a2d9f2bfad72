"""The network half of :mod:`serverless_jwt.jwks`: OIDC discovery, then one JWKS download.

:func:`download` reads the key set's address (configured, remembered in the shared cache record, or
discovered) and fetches the document within one total deadline. It raises
:class:`~serverless_jwt._http.FetchError` for anything unusable; the cache policy (back-off, stale
serving, single flight) stays in :mod:`serverless_jwt.jwks`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from serverless_jwt._http import FetchError, get_json, url_allowed
from serverless_jwt._jwks_state import CacheEntry

__all__ = ["discovery_url", "download"]

_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


def discovery_url(issuer: str) -> str:
    """The issuer's OIDC discovery document address (Auth0 issuers end with "/": no doubled slash)."""
    return issuer.rstrip("/") + _DISCOVERY_SUFFIX


def download(entry: CacheEntry, *, issuer: str | None, jwks_uri: str | None, timeout_seconds: float,
             max_bytes: int) -> Mapping[str, Any]:
    """The JWKS document (an object with a ``keys`` array), discovery included, within ``timeout_seconds``.

    ``jwks_uri`` is the configured address; without one the address is discovered from ``issuer`` and
    remembered on ``entry``. Raises :class:`FetchError`.
    """
    started = time.monotonic()  # real elapsed time bounds the network budget, not the cache clock
    uri = jwks_uri or _discovered_jwks_uri(entry, str(issuer), timeout_seconds, max_bytes)
    remaining = timeout_seconds - (time.monotonic() - started)
    if remaining <= 0:
        raise FetchError("timeout")
    doc = get_json(uri, timeout_seconds=remaining, max_bytes=max_bytes)
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise FetchError("not_a_jwks")
    return doc


def _discovered_jwks_uri(entry: CacheEntry, issuer: str, timeout_seconds: float, max_bytes: int) -> str:
    known = entry.jwks_uri
    if known is not None and (not entry.rediscover or entry.discovery_failed):
        # After a look-up that failed, the next attempt gives the known address the whole budget: a key
        # set that needs more than the half a hung discovery leaves it would otherwise never be fetched
        # again. Attempts still alternate, so a key set that moved is found once discovery answers.
        entry.discovery_failed = False
        return known
    # With an address in hand, discovery gets half the budget: a discovery endpoint that hangs
    # (while the key set still serves) must leave time to fetch the keys from that address.
    try:
        uri = _discover(issuer, timeout_seconds if known is None else timeout_seconds / 2, max_bytes)
    except FetchError:
        if known is None:
            raise
        entry.discovery_failed = True
        return known  # discovery itself failing: the key set's last known address may still serve
    entry.jwks_uri, entry.rediscover = uri, False
    return uri


def _discover(issuer: str, timeout_seconds: float, max_bytes: int) -> str:
    doc = get_json(discovery_url(issuer), timeout_seconds=timeout_seconds, max_bytes=max_bytes)
    if not isinstance(doc, dict):
        raise FetchError("discovery_not_an_object")
    # The document must name exactly the configured issuer (OIDC Discovery §4.3): no mix-ups.
    if doc.get("issuer") != issuer:
        raise FetchError("discovery_issuer_mismatch")
    uri = doc.get("jwks_uri")
    if not isinstance(uri, str) or not url_allowed(uri):
        raise FetchError("discovery_bad_jwks_uri")
    if not uri.lower().startswith("https:") and discovery_url(issuer).lower().startswith("https:"):
        # Named over TLS, fetched over TLS: plain http (allowed on loopback, for a dev issuer there)
        # would let whatever listens on this machine, such as the Lambda runtime API, answer for the keys.
        raise FetchError("discovery_bad_jwks_uri")
    return uri
