"""A run's spending cap, checked before each paid call."""

from __future__ import annotations

import threading

from mia.errors import BudgetExceeded


class Budget:
    """Tracks spend against a limit; `require` refuses a call whose estimate would cross it."""

    def __init__(self, limit_usd: float, spent_usd: float = 0.0) -> None:
        self.limit = limit_usd
        self._spent = spent_usd
        self._lock = threading.Lock()
        self.cut_short = False

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spent

    def charge(self, cost_usd: float) -> None:
        with self._lock:
            self._spent += cost_usd

    def require(self, estimate_usd: float, *, reserve_usd: float = 0.0, what: str = "the next call") -> None:
        """Raise BudgetExceeded (and remember the run was cut short) if the call does not fit."""
        with self._lock:
            fits = self._spent + estimate_usd + reserve_usd <= self.limit + 1e-12
            if not fits:
                self.cut_short = True
                raise BudgetExceeded(
                    f"The budget of ${self.limit:.2f} does not cover {what} "
                    f"(spent ${self._spent:.4f}, estimate ${estimate_usd:.4f}).",
                    "Raise it with --budget, or `mia config set research.budget_usd AMOUNT`.",
                )
