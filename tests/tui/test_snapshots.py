"""Snapshots of the main screens (pytest-textual-snapshot): the SVGs under __snapshots__ were reviewed by eye.

After a deliberate change to what a screen shows, look at the failure report, then accept it with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at the new SVGs before committing them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pilot_wait import until as wait_until
from textual.pilot import Pilot

from mia.settings import Settings, load_settings
from mia.store import agents as agent_store
from mia.store import conversations as conv_store
from mia.store import triggers as trigger_store
from mia.store.db import Registry, open_registry
from mia.tui.app import MiaApp, create_app
from mia.tui.report_screen import SourceScreen
from mia.tui.screens import ReportScreen, UsageScreen

SIZE = (130, 36)
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
REPORT = """# Treatments for Duchenne muscular dystrophy

## Summary

Exon-skipping oligonucleotides raise dystrophin modestly [1]; micro-dystrophin gene therapy reached
approval for ambulatory boys, with a confirmatory trial that missed its primary endpoint [2].

## Findings

- **Eteplirsen** (exon 51): accelerated approval on dystrophin production [1].
- **Delandistrogene moxeparvovec**: EMBARK missed the NSAA endpoint at 52 weeks [2].
- **Givinostat**: slowed decline in the four-stair climb in EPIDYS [3].

| therapy | mechanism | status |
|---|---|---|
| eteplirsen | exon 51 skipping | accelerated approval |
| delandistrogene | AAV micro-dystrophin | approved (ambulatory) |
| givinostat | HDAC inhibitor | approved |
"""
SOURCES = [
    {"number": 1, "title": "Eteplirsen for the treatment of Duchenne muscular dystrophy",
     "url": "https://pubmed.ncbi.nlm.nih.gov/26573217/"},
    {"number": 2, "title": "EMBARK: micro-dystrophin gene therapy, 52-week results", "kind": "trial",
     "identifier": "NCT05096221", "status": "COMPLETED", "phases": ["PHASE3"], "sponsor": "Sarepta Therapeutics",
     "date": "2021-10", "evidence_level": "2 (randomised trial)",
     "url": "https://clinicaltrials.gov/study/NCT05096221"},
    {"number": 3, "title": "Givinostat in Duchenne muscular dystrophy (EPIDYS)",
     "url": "https://pubmed.ncbi.nlm.nih.gov/38428442/"},
]


def add_agent(registry: Registry, settings: Settings, question: str, slug: str, status: str, *,
              cost: float, last_run_at: str | None, created_at: str, version: int = 0) -> str:
    agent = agent_store.create_agent(registry, question=question, sources=["pubmed", "trials"], depth="standard",
                                     model=LLAMA, budget_usd=0.5, slug=slug)
    agent_store.set_status(registry, agent.id, status, last_run_at=last_run_at, created_at=created_at,
                           report_version=version)
    if cost:
        registry.execute("INSERT INTO usage (service, model, input_tokens, output_tokens, neurons, cost_usd, "
                         "latency_ms, requests, agent_id, created_at) VALUES ('Workers AI', ?, 9000, 2100, 0, ?, "
                         "0, 6, ?, ?)", (LLAMA, cost, agent.id, created_at))
    if version:
        folder = settings.workspace_root / "agents" / slug
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.md").write_text(REPORT, encoding="utf-8")
        (folder / "sources.json").write_text(json.dumps(SOURCES), encoding="utf-8")
    return agent.id


@pytest.fixture
def seeded(tmp_path: Path) -> Settings:
    """A home with four agents (one with a weekly trigger), a conversation and some spend, all at fixed times."""
    home = tmp_path / "home"
    settings = load_settings(env={**os.environ, "MIA_HOME": str(home),
                                  "MIA_CONFIG": str(tmp_path / "config.toml"),
                                  "CLOUDFLARE_ACCOUNT_ID": "snapshot", "CLOUDFLARE_API_TOKEN": "snapshot"})
    registry = open_registry(settings.registry_path)
    dmd = add_agent(registry, settings, "Treatments for Duchenne muscular dystrophy", "dmd-treatments", "done",
                    cost=0.0412, last_run_at="2026-11-20T09:14:00+00:00", created_at="2026-11-01T08:00:00+00:00",
                    version=2)
    trigger_store.add_trigger(registry, agent_id=dmd, kind="cron", spec="0 7 * * 1", tz="Europe/Paris",
                              instruction="new trial readouts", next_due="2026-11-23T06:00:00+00:00",
                              created_at="2026-11-01T08:00:00+00:00")
    add_agent(registry, settings, "Exon 53 skipping in Duchenne", "exon-53", "done", cost=0.0133,
              last_run_at="2026-11-19T16:02:00+00:00", created_at="2026-11-01T09:00:00+00:00")
    add_agent(registry, settings, "Gene therapy trials in spinal muscular atrophy", "sma-gene-therapy",
              "searching", cost=0.0087, last_run_at="2026-11-22T07:58:00+00:00",
              created_at="2026-11-02T08:00:00+00:00")
    add_agent(registry, settings, "CRISPR base editing for sickle cell disease", "sickle-cell-editing",
              "failed", cost=0.0021, last_run_at="2026-11-21T18:30:00+00:00", created_at="2026-11-03T08:00:00+00:00")
    conversation = conv_store.create_conversation(registry, "What is new in DMD?")
    conv_store.add_message(registry, conversation.id, "user", "What is new in DMD?")
    conv_store.add_message(registry, conversation.id, "assistant", "", tool_calls=[
        {"id": "1", "name": "read_report", "arguments": {"agent": "dmd-treatments"}, "raw_arguments": None}])
    conv_store.add_message(registry, conversation.id, "tool", "(report)",
                           tool_calls={"id": "1", "name": "read_report", "ok": True})
    conv_store.add_message(registry, conversation.id, "assistant",
                           "From **dmd-treatments** (report v2):\n\n"
                           "- Givinostat slowed decline in the four-stair climb [3].\n"
                           "- EMBARK missed its 52-week primary endpoint [2].\n\n"
                           "Ask me to follow up on any of these.")
    conv_store.add_message(registry, conversation.id, "event", "Research agent 'sma-gene-therapy' started.")
    registry.close()
    return settings


def make_app(settings: Settings) -> MiaApp:
    def no_llm(http: Any) -> Any:
        raise AssertionError("the snapshots never ask the model")

    return create_app(settings, lambda: open_registry(settings.registry_path), no_llm, continue_last=True)


async def settle(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    await wait_until(pilot, condition, settle=0.1)


def loaded(app: MiaApp) -> Callable[[], bool]:
    return lambda: not app.loading and app.agent_panel.row_count == 4


def test_the_conversation_beside_the_agent_panel(snap_compare: Any, seeded: Settings) -> None:
    app = make_app(seeded)

    async def ready(pilot: Pilot[None]) -> None:
        await settle(pilot, loaded(app))

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_an_agents_report_with_its_sources(snap_compare: Any, seeded: Settings) -> None:
    app = make_app(seeded)

    async def open_report(pilot: Pilot[None]) -> None:
        await settle(pilot, loaded(app))
        await pilot.press("ctrl+o")
        await settle(pilot, lambda: isinstance(app.screen, ReportScreen) and report_rendered(app))

    assert snap_compare(app, terminal_size=SIZE, run_before=open_report)


def report_rendered(app: MiaApp) -> bool:
    return "Enter or click" in str(app.screen.query_one("#report-status").render())


def test_a_citation_followed_to_its_source(snap_compare: Any, seeded: Settings) -> None:
    app = make_app(seeded)

    async def follow(pilot: Pilot[None]) -> None:
        await settle(pilot, loaded(app))
        await pilot.press("ctrl+o")
        await settle(pilot, lambda: isinstance(app.screen, ReportScreen) and report_rendered(app))
        await pilot.press("n", "n", "enter")
        await settle(pilot, lambda: isinstance(app.screen, SourceScreen))

    assert snap_compare(app, terminal_size=SIZE, run_before=follow)


def test_the_usage_table(snap_compare: Any, seeded: Settings) -> None:
    app = make_app(seeded)

    async def open_usage(pilot: Pilot[None]) -> None:
        await settle(pilot, loaded(app))
        await pilot.press("ctrl+t")
        await settle(pilot, lambda: isinstance(app.screen, UsageScreen))

    assert snap_compare(app, terminal_size=SIZE, run_before=open_usage)


def test_a_research_plan_card_waiting_for_the_person(snap_compare: Any, seeded: Settings) -> None:
    from mia.agents.chat.plan_gate import PlanReview
    from mia.tui.messages import PlanDrafted
    from mia.tui.plan_card import PlanCard

    app = make_app(seeded)
    plan = [{"question": "Which gene therapies for DMD reached phase 3?", "query": "duchenne micro-dystrophin phase 3",
             "queries": {"pubmed": "delandistrogene moxeparvovec"}},
            {"question": "How safe is givinostat in ambulatory boys?", "query": "givinostat safety duchenne"},
            {"question": "Which exon-skipping drugs are approved?", "query": "exon skipping approval duchenne"}]

    async def drafted(pilot: Pilot[None]) -> None:
        await settle(pilot, loaded(app))
        assert app.conversation is not None
        app.post_message(PlanDrafted(PlanReview("dmd-gene-therapy", "Gene therapy for Duchenne muscular dystrophy",
                                                app.conversation.id, plan, 0.0004)))
        await settle(pilot, lambda: bool(app.query(PlanCard)))
        app.clear_notifications()

    assert snap_compare(app, terminal_size=(140, 40), run_before=drafted)
