"""A budget too small to plan says the minimum, with the budget shown as it was given."""

from __future__ import annotations

from .conftest import Mia


def test_a_budget_too_small_to_plan_says_the_minimum(mia: Mia) -> None:
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--budget", "0.001")
    assert result.returncode == 1 and "The budget of $0.001 does not cover planning" in result.stderr
    assert "at least $0.0" in result.stderr and "$0.00 " not in result.stderr
