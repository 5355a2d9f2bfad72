"""Run a loopback HTTP server in a daemon thread, and stop it (the dev issuer and the local API)."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


def serve_in_thread(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    """Serve ``server`` in a daemon thread that polls for shutdown every 50 ms."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name,
                              daemon=True)
    thread.start()
    return thread


def shut_down(server: ThreadingHTTPServer, thread: threading.Thread | None) -> None:
    """Stop serving, release the port, and wait (briefly) for the serving thread."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)
