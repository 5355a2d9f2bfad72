"""Shared fixtures: a started loopback DevIssuer per test, no JWKS cache across tests, slow builds shared."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def build_once(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[Path], None]], Path]:
    """``build_once(name, build)``: run ``build(dir)`` once per test run, shared by pytest-xdist workers.

    For slow artefacts (a virtualenv, a ``sam build``): the first worker builds under a file lock, the
    others wait and reuse the result. A failed build is not recorded, so each worker reports it.
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's shared folder

    def build(name: str, builder: Callable[[Path], None]) -> Path:
        target, done = root / name, root / f"{name}.done"
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done.exists():
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir()
                builder(target)
                done.touch()
        return target

    return build
