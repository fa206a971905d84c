"""Bad networks on 127.0.0.1: a server that accepts connections and never answers, and a closed port.

The silent server models a literature service behind a broken proxy or a stalled load balancer: the TCP
handshake completes (the kernel's listen backlog does it), the request is read, and no byte ever comes
back, so only a client-side read timeout ends the wait. A closed port models being offline: the connect
is refused at once (ECONNREFUSED), which httpx reports as `httpx.ConnectError`
(https://www.python-httpx.org/exceptions/).
"""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """Listens on 127.0.0.1, accepts every connection, reads what is sent, and never replies."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"silent:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._held.append(conn)  # kept open, never answered

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        self._sock.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(base: str) -> dict[str, str]:
    """Point mia's three keyless literature services at `base` (e.g. a SilentServer's url)."""
    return {"MIA_PUBMED_BASE_URL": f"{base}/eutils", "MIA_EUROPEPMC_BASE_URL": f"{base}/europepmc",
            "MIA_CLINICALTRIALS_BASE_URL": f"{base}/ctgov/api/v2"}
