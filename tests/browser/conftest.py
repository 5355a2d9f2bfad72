"""One Debian Chromium per test session (per xdist worker), driven by Playwright; the sample API served.

Playwright's own browser download is not reachable here: it drives the system ``/usr/bin/chromium``
through ``executable_path``. ``scripts/test`` installs the package on CI (root + apt); elsewhere a
missing browser skips these tests with the reason, and on CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.oidc_provider import resource_metadata
from serverless_jwt.dev.runtime import FunctionRunner
from serverless_jwt.dev.template import Template

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# app.example stands for a deployed origin (not loopback by name), served from this machine.
DEPLOYED_HOST = "app.example"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--host-resolver-rules=MAP {DEPLOYED_HOST} 127.0.0.1"]


# Module scope, not session: while Playwright's sync API is open it leaves an asyncio loop marked as
# running in this thread, and a later test module's asyncio.run() on the same worker would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing is None and not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing = f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set CHROMIUM=...)"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail("browser tests cannot run: " + missing)
        pytest.skip("browser tests skipped: " + missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _local_api(template: Template, runners: dict[str, FunctionRunner], issuer: DevIssuer) -> Any:
    """start-api's server: the local API Gateway with public/ at / and the RFC 9728 metadata naming the
    dev issuer, as ``serverless-jwt start-api`` builds it."""
    from serverless_jwt.dev.apigw import LocalApiGateway, collect

    return LocalApiGateway(collect(template).routes, runners, static_dir=ROOT / "public",
                           jwt_override=(issuer.issuer, issuer.audience),
                           resource_metadata=lambda url: resource_metadata(issuer, url))


@pytest.fixture(scope="session")
def sample_app() -> Iterator[tuple[DevIssuer, str]]:
    """The dev issuer and the URL of the sample API serving public/index.html (both on loopback)."""
    template = Template(ROOT / "template.yaml")
    with DevIssuer() as issuer:
        env = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience}
        logs = io.StringIO()
        runners = {name: FunctionRunner(f, environment=env, log_stream=logs)
                   for name, f in template.functions.items()}
        with _local_api(template, runners, issuer) as api:
            yield issuer, api.url
