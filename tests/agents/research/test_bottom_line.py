"""A report opens with its bottom line: a yes/no/uncertain verdict with citations, or a short answer."""

from __future__ import annotations

import pytest

from mia.agents.research.bottom_line import find_bottom_line, lead_with_bottom_line, verdict_of
from mia.agents.research.prompts import SYNTH_SYSTEM


@pytest.mark.parametrize(("line", "verdict"), [
    ("**Bottom line:** Yes — two trials showed a benefit [2][4].", "yes"),
    ("**Bottom line: No.** The trial was stopped for futility [1].", "no"),
    ("Bottom line: Uncertain — the evidence is thin [3].", "uncertain"),
    ("**Bottom line:** Maybe; only one small study [1].", "uncertain"),
    ("> **Bottom line**: *Yes*, in adults [5].", "yes"),
    ("**Bottom line:** Several gene therapies are in phase 3 trials [1][2].", None),
])
def test_the_verdict_is_read_from_the_bottom_line(line: str, verdict: str | None) -> None:
    found = find_bottom_line(f"# Title\n\n{line}\n\n## Summary\n\nText [1].")
    assert found is not None and found.verdict == verdict and found.text.endswith(".")


def test_a_report_without_a_bottom_line_has_no_verdict() -> None:
    assert find_bottom_line("## Summary\n\nYes, it works [1].") is None
    assert verdict_of("Notably, yes") is None


def test_a_bottom_line_written_last_is_moved_to_the_top() -> None:
    body = "## Summary\n\nText [1].\n\n**Bottom line:** No — it did not work [1].\n"
    assert lead_with_bottom_line(body) == "**Bottom line:** No — it did not work [1].\n\n## Summary\n\nText [1].\n"


def test_a_bottom_line_written_as_a_heading_becomes_one_line() -> None:
    body = "## Bottom line\n\nYes — it works [2].\n\n## Summary\n\nText [1].\n"
    assert lead_with_bottom_line(body) == "**Bottom line:** Yes — it works [2].\n\n## Summary\n\nText [1].\n"


def test_a_body_without_a_bottom_line_is_left_alone() -> None:
    assert lead_with_bottom_line("## Summary\n\nText [1].\n") == "## Summary\n\nText [1].\n"


def test_synthesis_is_asked_for_a_bottom_line_with_citations() -> None:
    assert "**Bottom line:**" in SYNTH_SYSTEM and "Uncertain" in SYNTH_SYSTEM and "2-3 sentence" in SYNTH_SYSTEM
