"""`mia usage` keeps the spend of deleted agents in its totals, shown as such."""

from __future__ import annotations

import json

import pytest

from mia.commands.app import main
from mia.settings import load_settings
from mia.store.agents import create_agent
from mia.store.db import open_registry


def test_deleting_an_agent_keeps_its_spend_in_the_totals(capsys: pytest.CaptureFixture[str]) -> None:
    registry = open_registry(load_settings().registry_path)
    agent = create_agent(registry, question="DMD", sources=["pubmed"], depth="quick", model="m", budget_usd=0.5)
    registry.execute("INSERT INTO usage (service, model, input_tokens, output_tokens, neurons, cost_usd, latency_ms, "
                     "requests, agent_id, step_key, created_at) VALUES ('Workers AI', 'm', 10, 5, 0, 0.0123, 0, 1, ?, "
                     "'plan', '2026-11-30T08:00:00+00:00')", (agent.id,))
    assert main(["agents", "delete", "dmd", "--yes"]) == 0
    capsys.readouterr()
    assert main(["usage", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_cost_usd"] == pytest.approx(0.0123) and data["deleted_agents_cost_usd"] == pytest.approx(0.0123)
    assert main(["usage"]) == 0
    assert "of which $0.0123 by deleted agents" in capsys.readouterr().out
