"""Shared fixtures: a started loopback DevIssuer per test, no JWKS cache across tests, slow builds shared."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# -- real servers for the framework glue: uvicorn (ASGI) and werkzeug (WSGI) on loopback ----------------

@pytest.fixture
def serve_asgi() -> Iterator[Callable[[Any], str]]:
    """``serve_asgi(app) -> base URL``: the app under a real uvicorn server in a thread, stopped after."""
    import socket
    import threading

    import uvicorn

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread))
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield serve
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[Any], str]]:
    """``serve_wsgi(app) -> base URL``: the app under werkzeug's threaded server, stopped after."""
    import threading

    from werkzeug.serving import make_server

    running: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
