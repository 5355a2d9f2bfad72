"""Shared fixtures: a started loopback DevIssuer per test, stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serverless_jwt.dev.issuer import DevIssuer


@pytest.fixture
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as dev_issuer:
        yield dev_issuer
