"""Real mail servers on 127.0.0.1 for the outreach tests: aiosmtpd (SMTP) and pymap (IMAP)."""

from __future__ import annotations

import imaplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

IMAP_USER, IMAP_PASSWORD = "mia-user", "imap-pass-7c1e"


@dataclass
class SMTPServer:
    """An aiosmtpd server that keeps every message it accepts."""

    port: int
    received: list[Message] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {"MIA_SMTP_HOST": "127.0.0.1", "MIA_SMTP_PORT": str(self.port), "MIA_SMTP_SECURITY": "none",
                "MIA_MAIL_FROM_ADDRESS": "Dr Ada Okafor <ada@lab.example.org>"}


@contextmanager
def smtp_server() -> Iterator[SMTPServer]:
    from aiosmtpd.controller import Controller

    server = SMTPServer(port=0)

    class Keep:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            server.received.append(message_from_bytes(envelope.content))
            return "250 Message accepted for delivery"

    controller = Controller(Keep(), hostname="127.0.0.1", port=free_port())
    controller.start()
    server.port = controller.port
    try:
        yield server
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class IMAPServer:
    """A pymap IMAP server (in-memory backend) with one user."""

    port: int

    def env(self) -> dict[str, str]:
        return {"MIA_IMAP_HOST": "127.0.0.1", "MIA_IMAP_PORT": str(self.port), "MIA_IMAP_SECURITY": "none",
                "MIA_IMAP_USER": IMAP_USER, "IMAP_PASSWORD": IMAP_PASSWORD}

    def deliver(self, raw: bytes) -> None:
        """Put a message in the user's INBOX, as a mail server delivering a reply would."""
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(IMAP_USER, IMAP_PASSWORD)
        client.append("INBOX", None, None, raw)
        client.logout()


@contextmanager
def imap_server() -> Iterator[IMAPServer]:
    port = free_port()
    pymap = Path(sys.executable).parent / "pymap"
    proc = subprocess.Popen([str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
                             "--demo-data", "--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"pymap did not start: {proc.stderr.read() if proc.stderr else b''!r}") from None
            time.sleep(0.1)
    try:
        yield IMAPServer(port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
