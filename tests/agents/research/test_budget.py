"""The budget holds each call's worst case, so parallel calls can never overspend together."""

from __future__ import annotations

import threading
import time

import pytest

from mia.agents.research.budget import Budget
from mia.errors import BudgetExceeded


def test_parallel_calls_cannot_spend_past_the_limit_together() -> None:
    budget = Budget(limit_usd=0.05)
    admitted: list[int] = []
    barrier = threading.Barrier(20)

    def call(i: int) -> None:
        barrier.wait()  # all twenty ask at the same moment
        try:
            with budget.hold(0.01, what="a search"):
                admitted.append(i)
                time.sleep(0.05)
                budget.charge(0.01)
        except BudgetExceeded:
            pass

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 5 and budget.spent == pytest.approx(0.05) and budget.cut_short


def test_a_reserve_stays_free_for_the_report() -> None:
    budget = Budget(limit_usd=0.10, spent_usd=0.05)
    with pytest.raises(BudgetExceeded, match="does not cover a search"), \
            budget.hold(0.02, reserve_usd=0.04, what="a search"):
        pass
    with budget.hold(0.04, what="writing the report"):
        budget.charge(0.04)
    assert budget.spent == pytest.approx(0.09)
