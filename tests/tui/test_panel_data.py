"""What the agent panel and the report screen read: 'waiting' agents, and an agent's triggers."""

from __future__ import annotations

import os
from pathlib import Path

from mia.settings import load_settings
from mia.store import agents as agent_store
from mia.store import approvals
from mia.store import triggers as trigger_store
from mia.store.db import open_registry
from mia.tui import data


def test_an_idle_agent_with_a_trigger_or_a_pending_approval_is_waiting(tmp_path: Path) -> None:
    settings = load_settings(env={**os.environ, "MIA_HOME": str(tmp_path / "home")})
    registry = open_registry(settings.registry_path)
    made = {slug: agent_store.create_agent(registry, question=f"{slug} question", sources=["pubmed"],
                                           depth="quick", model="m", budget_usd=0.1, slug=slug).id
            for slug in ("scheduled", "asking", "busy", "paused", "plain")}
    for slug in made:
        agent_store.set_status(registry, made[slug], "searching" if slug == "busy" else "done")
    for slug in ("scheduled", "busy", "paused"):
        trigger, _ = trigger_store.add_trigger(registry, agent_id=made[slug], kind="every", spec="604800", tz="UTC",
                                               instruction="", next_due="2026-11-29T07:00:00+00:00")
        if slug == "paused":
            trigger_store.update_trigger(registry, trigger.id, enabled=0)
    approvals.request(registry, action="draft_email", agent_id=made["asking"], summary="mail", reason="why",
                      payload={}, requested_by="test", after_untrusted_text=False)
    shown = {row.slug: row.shown_status for row in data.agent_rows(registry)}
    assert shown == {"scheduled": "waiting", "asking": "waiting", "busy": "searching", "paused": "done",
                     "plain": "done"}
    view = data.report_view(settings, registry, made["scheduled"])
    assert view.triggers == ["#1 every 1w (on, next 2026-11-29 07:00 UTC)"]
    assert data.report_view(settings, registry, made["plain"]).triggers == []
    registry.close()
