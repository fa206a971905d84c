"""Live progress of a research run on stderr: stage, sources, tokens, dollars, and the streaming draft."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

STAGE_LABEL = {"planning": "Planning sub-questions", "searching": "Searching sources",
               "extracting": "Extracting evidence", "writing": "Writing the report",
               "verifying": "Checking citations"}
TAIL_LINES = 8


class Progress:
    """Receives pipeline events (from any thread) and shows them; plain lines when not on a terminal."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self.live_mode = enabled and console.is_terminal
        self.stage = "starting"
        self.sources = 0
        self.searches = (0, 0)
        self.tokens = 0
        self.cost = 0.0
        self.draft = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def event(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._apply(kind, data)
            if self._live is not None:
                self._live.update(self._render())

    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "stage":
            self.stage = data["stage"]
            self._line(f"{STAGE_LABEL.get(self.stage, self.stage)}…")
        elif kind == "sources":
            self.sources = data["count"]
            self._line(f"{self.sources} distinct sources retrieved")
        elif kind == "search":
            self.searches = (data["done"], data["total"])
        elif kind == "usage":
            self.tokens += data["tokens"]
            self.cost = data["cost_usd"]
        elif kind == "text":
            self.draft += data["text"]
        elif kind == "notice" and self.enabled:
            self.console.print(f"! {data['message']}", highlight=False)

    def _line(self, message: str) -> None:
        if self.enabled and not self.live_mode:
            self.console.print(f"· {message}", highlight=False)

    def _render(self) -> Group:
        elapsed = time.monotonic() - self.started
        status = Text.assemble(
            ("● ", "cyan"), (STAGE_LABEL.get(self.stage, self.stage), "bold"),
            f"  ·  {self.sources} sources",
            f"  ·  searches {self.searches[0]}/{self.searches[1]}" if self.searches[1] else "",
            f"  ·  {self.tokens:,} tokens  ·  ${self.cost:.4f}  ·  {elapsed:.0f}s",
        )
        if not self.draft:
            return Group(status)
        tail = "\n".join(self.draft.rstrip().splitlines()[-TAIL_LINES:])
        return Group(status, Text(tail, style="dim"))


def stderr_console() -> Console:
    from mia.commands.common import console_for

    return console_for(sys.stderr)
