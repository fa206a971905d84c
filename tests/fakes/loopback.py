"""One quiet threaded HTTP server on 127.0.0.1 that hands every request to a fake's `handle(request)`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def serve(handle: Callable[[BaseHTTPRequestHandler], None]) -> ThreadingHTTPServer:
    """Start a server on a free loopback port that calls `handle` for GET, PUT, POST, PATCH and DELETE.

    HTTP/1.1 keep-alive, daemon threads, no request log (each fake keeps its own). Stop it with `stop(server)`.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            handle(self)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the fakes keep their own logs."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer | None) -> None:
    """Shut a server from `serve` down and close its socket (None: nothing to do)."""
    if server is not None:
        server.shutdown()
        server.server_close()
