"""Spend is never erased: a failed first run that leaves no agent behind keeps its usage rows."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from mia.agents.research import service
from mia.errors import ServiceError
from mia.models import Usage
from mia.settings import load_settings
from mia.store.db import open_registry


def test_a_rolled_back_first_run_keeps_what_it_paid_for(monkeypatch: pytest.MonkeyPatch) -> None:
    def paid_then_failed(settings: Any, registry: Any, workspace: Any, agent: Any, run_id: str, *rest: Any,
                         **kw: Any) -> Any:
        registry.execute("INSERT INTO usage (run_id, agent_id, step_key, service, model, input_tokens, "
                         "output_tokens, cost_usd, created_at) VALUES (?, ?, 'plan', 'Workers AI', 'm', 900, 80, "
                         "0.0123, '2026-11-30T08:00:00Z')", (run_id, agent.id))
        raise ServiceError("The model service broke off.", "Try again.", service="Workers AI")

    monkeypatch.setattr(service, "execute_run", paid_then_failed)
    with FakeServices(llm=ResearchLLM()) as fake:
        settings = load_settings(env={**os.environ, **fake.env()})
        registry = open_registry(settings.registry_path)
        request = service.validate_request(settings, question="DMD treatments", sources="pubmed", depth="quick",
                                           budget=None, model=None, name=None)
        with httpx.Client() as http, pytest.raises(ServiceError):
            service.spawn_research(settings, registry, request, http=http, on_event=lambda kind, data: None)
    assert registry.query("SELECT * FROM agents") == []  # no half-made agent left behind
    rows = registry.query("SELECT * FROM usage")
    assert len(rows) == 1 and rows[0]["cost_usd"] == pytest.approx(0.0123)
    assert rows[0]["agent_id"] is None and rows[0]["step_key"] == "discarded-run:plan"
    registry.close()


def test_keep_spend_detaches_the_usage_rows_so_deleting_the_agent_keeps_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from mia.store import agents as agent_store
    from mia.store import runs as run_store

    settings = load_settings(env=dict(os.environ))
    registry = open_registry(settings.registry_path)
    agent = agent_store.create_agent(registry, question="q", sources=["pubmed"], depth="quick", model="",
                                     budget_usd=1.0)
    run_store.record_usage(registry, Usage(service="PubMed", cost_usd=0.0), run_id=None, agent_id=agent.id,
                           step_key="search/pubmed/0")
    run_store.keep_spend(registry, agent.id)
    agent_store.delete_agent(registry, agent.id)
    assert [r["step_key"] for r in registry.query("SELECT step_key FROM usage")] == ["discarded-run:search/pubmed/0"]
    registry.close()
