"""Money is shown with enough digits to be true."""

from __future__ import annotations

import pytest

from mia.commands.app import main
from mia.money import usd
from mia.settings import load_settings
from mia.store.agents import create_agent
from mia.store.db import open_registry


@pytest.mark.parametrize(("value", "shown"), [(0, "$0.00"), (0.5, "$0.50"), (0.001, "$0.001"), (0.04123, "$0.0412"),
                                              (0.0001234, "$0.00012"), (12.5, "$12.50")])
def test_usd(value: float, shown: str) -> None:
    assert usd(value) == shown


def test_a_small_budget_is_not_shown_as_zero(capsys: pytest.CaptureFixture[str]) -> None:
    create_agent(open_registry(load_settings().registry_path), question="DMD", sources=["pubmed"], depth="quick",
                 model="", budget_usd=0.001)
    assert main(["agents", "show", "dmd"]) == 0
    assert "budget $0.001" in capsys.readouterr().out
