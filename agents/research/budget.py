"""A run's spending cap, checked before each paid call.

Calls run in parallel, so a call first *holds* its worst-case estimate: the check counts what was spent
plus what other calls in flight hold. Actual costs are charged as they come; the hold is released when the
call returns. As long as an estimate is a worst case, the run never spends more than its limit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mia.errors import BudgetExceeded
from mia.money import usd


class Budget:
    """Tracks spend and in-flight holds against a limit."""

    def __init__(self, limit_usd: float, spent_usd: float = 0.0) -> None:
        self.limit = limit_usd
        self._spent = spent_usd
        self._held = 0.0
        self._lock = threading.Lock()
        self.cut_short = False

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spent

    def charge(self, cost_usd: float) -> None:
        with self._lock:
            self._spent += cost_usd

    @contextmanager
    def hold(self, estimate_usd: float, *, reserve_usd: float = 0.0, what: str = "the next call") -> Iterator[None]:
        """Hold `estimate_usd` for one call, or raise BudgetExceeded (and remember the run was cut short).

        `reserve_usd` must stay free after this call too (e.g. what writing the report will cost).
        """
        with self._lock:
            if self._spent + self._held + estimate_usd + reserve_usd > self.limit + 1e-12:
                self.cut_short = True
                needed = self._spent + self._held + estimate_usd + reserve_usd
                raise BudgetExceeded(
                    f"The budget of {usd(self.limit)} does not cover {what} (spent {usd(self._spent)}, in flight "
                    f"{usd(self._held)}, estimate {usd(estimate_usd)}; at least {usd(needed)} is needed).",
                    f"Raise it with --budget (at least {usd(needed)} for this step; 0.50 is usual), or "
                    "`mia config set research.budget_usd AMOUNT`.",
                )
            self._held += estimate_usd
        try:
            yield
        finally:
            with self._lock:
                self._held -= estimate_usd
