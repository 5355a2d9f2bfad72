"""The dev provider's sign-in client: it talks to the loopback issuer directly, whatever the shell says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from serverless_jwt.dev.issuer import DevIssuer


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[bytes]]]:
    # A real listener standing in for a corporate proxy: it records what reaches it and answers 502.
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                seen.append(conn.recv(4096))
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    server.close()
    thread.join(timeout=5)


def test_sign_in_reaches_the_issuer_directly_when_the_shell_sets_a_proxy(
    issuer: DevIssuer, proxy: tuple[str, list[bytes]]
) -> None:
    # HTTP_PROXY in a developer's shell or a CI runner once sent the loopback sign-in (and so the
    # plugin's jwt_sign_in) to that proxy, which cannot reach this machine's 127.0.0.1.
    proxy_url, seen = proxy
    env = {**os.environ, "HTTP_PROXY": proxy_url, "http_proxy": proxy_url, "NO_PROXY": "", "no_proxy": ""}
    code = ("import sys; from serverless_jwt.dev.oidc_client import sign_in; "
            "print(sign_in(sys.argv[1], subject='alice')['token_type'])")
    run = subprocess.run([sys.executable, "-c", code, issuer.issuer], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Bearer"
    assert seen == []
