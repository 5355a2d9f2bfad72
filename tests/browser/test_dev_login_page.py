"""The dev provider's login page in a real Chromium: what its headers let the browser do."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from serverless_jwt.dev import oidc_client as oc
from serverless_jwt.dev.issuer import DevIssuer


class _V6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Arrived(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>app</title><p>arrived"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ipv6_app() -> Iterator[str]:
    """An app on http://[::1]:PORT (a redirect target the provider accepts by default)."""
    try:
        server = _V6Server(("::1", 0), _Arrived)
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://[::1]:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_signing_in_redirects_to_an_ipv6_loopback_app(browser: Any, issuer: DevIssuer, ipv6_app: str) -> None:
    # The page's CSP form-action also governs the redirect after Sign in; a source Chromium ignores as
    # invalid (http://[::1]:PORT) left only 'self', and the redirect to the app was blocked.
    request = oc.start(issuer.issuer, redirect_uri=ipv6_app + "/callback", scopes=["openid"])
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(request.url)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(ipv6_app + "/callback?*")
        assert "code=" in page.url
    finally:
        context.close()
