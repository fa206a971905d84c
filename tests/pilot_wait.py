"""Waiting in Pilot tests for the app to reach a state, with one wall-clock bound for every TUI test."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30.0, *, poll: float = 0.05,
                settle: float = 0.0) -> float:
    """Seconds until `condition()` holds, polling every `poll` s; then pause `settle` s for the screen to paint.

    Raises AssertionError after `timeout` seconds of wall time (a bound in seconds, not in polls, so a loaded
    machine's slower polls do not shorten it).
    """
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(poll)
    elapsed = time.perf_counter() - started
    if settle:
        await pilot.pause(settle)
    return elapsed
