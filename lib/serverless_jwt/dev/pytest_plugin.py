"""pytest plugin (registered through the ``pytest11`` entry point): real tokens from a loopback issuer.

Fixtures
--------
``jwt_issuer``
    A started :class:`~serverless_jwt.dev.issuer.DevIssuer` (discovery + JWKS on 127.0.0.1, RSA and
    EC keys), stopped after the test. ``jwt_issuer.mint(sub=..., scopes=..., roles=...)`` signs tokens.
``jwt_env``
    ``jwt_issuer`` plus ``JWT_ISSUER`` / ``JWT_AUDIENCE`` set in the environment for the test (restored
    afterwards), so ``Verifier.from_env()`` and the sample handlers verify its tokens for real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serverless_jwt.dev.issuer import DevIssuer


@pytest.fixture
def jwt_issuer() -> Iterator[DevIssuer]:
    """A started loopback OIDC issuer, stopped after the test."""
    with DevIssuer() as issuer:
        yield issuer


@pytest.fixture
def jwt_env(jwt_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> DevIssuer:
    """``jwt_issuer`` with ``JWT_ISSUER`` and ``JWT_AUDIENCE`` pointing at it for this test."""
    for name in ("JWT_SECRET", "JWT_JWKS_URI", "JWT_PUBLIC_KEY", "JWT_ALGORITHMS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_ISSUER", jwt_issuer.issuer)
    monkeypatch.setenv("JWT_AUDIENCE", jwt_issuer.audience)
    return jwt_issuer
