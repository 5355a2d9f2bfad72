"""Shared fixtures: a started loopback DevIssuer per test, stopped after; no JWKS cache across tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.jwks import clear_shared_cache


@pytest.fixture
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as dev_issuer:
        yield dev_issuer


@pytest.fixture(autouse=True)
def _fresh_jwks_cache() -> Iterator[None]:
    # Loopback ports are reused between tests: a cache keyed by issuer URL must not outlive its test.
    yield
    clear_shared_cache()
