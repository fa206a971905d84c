"""Registry reads for the app: short, one statement each, run in workers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mia.agents.schedule.triggers import schedule_of
from mia.store import agents as agent_store
from mia.store import triggers as trigger_store
from mia.store.reports import AgentReports
from mia.store.workspace import Workspace
from mia.tui.panel import AgentRow
from mia.tui.report_screen import ReportView

if TYPE_CHECKING:
    from mia.settings import Settings
    from mia.store.db import Registry

AGENT_ROWS_SQL = """
SELECT a.id, a.slug, a.status, a.report_version, a.last_run_at, a.question,
       COALESCE((SELECT SUM(u.cost_usd) FROM usage u WHERE u.agent_id = a.id), 0) AS cost_usd,
       (SELECT MIN(t.next_due) FROM triggers t WHERE t.agent_id = a.id AND (t.enabled = 1 OR t.deployed = 1))
           AS next_due,
       (SELECT COUNT(*) FROM approvals p WHERE p.agent_id = a.id AND p.status = 'pending') AS pending
FROM agents a WHERE a.purpose = 'research' ORDER BY a.created_at"""


def agent_rows(registry: Registry) -> list[AgentRow]:
    """The user's agents (not the eval's) with status, spend, next trigger and pending approvals, in one read."""
    interrupted = agent_store.interrupted_ids(registry)
    return [AgentRow(id=r["id"], slug=r["slug"], status=agent_store.shown_status(r["status"], r["id"], interrupted),
                     report_version=int(r["report_version"]),
                     cost_usd=float(r["cost_usd"]), last_run_at=r["last_run_at"], question=r["question"],
                     next_due=r["next_due"], pending_approvals=int(r["pending"]))
            for r in registry.query(AGENT_ROWS_SQL)]


def report_view(settings: Settings, registry: Registry, agent_id: str) -> ReportView:
    """An agent's report and sources from its workspace folder."""
    agent = agent_store.get_agent(registry, agent_id)
    folder = Workspace(settings.workspace_root).agent_dir(agent.slug)
    report_path = folder / "report.md"
    report = report_path.read_text(encoding="utf-8") if report_path.exists() else None
    sources: list[dict[str, Any]] = []
    if (folder / "sources.json").exists():
        try:
            sources = [s for s in json.loads((folder / "sources.json").read_text(encoding="utf-8"))
                       if isinstance(s, dict)]
        except (ValueError, TypeError):
            sources = []
    sources.sort(key=lambda s: s["number"] if isinstance(s.get("number"), int) else 1 << 30)
    triggers = [_trigger_line(t) for t in trigger_store.list_triggers(registry, agent.id)]
    spend = registry.one("SELECT COALESCE(SUM(cost_usd), 0) AS cost FROM usage WHERE agent_id = ?", (agent.id,))
    reports = AgentReports(folder, agent.slug)
    notes = {n.new_version: n.summary for n in reports.change_notes() if n.new_version is not None}
    return ReportView(slug=agent.slug, status=agent.status, version=agent.report_version,
                      cost_usd=float((spend or {"cost": 0})["cost"]), report=report, sources=sources, triggers=triggers,
                      path=report_path.relative_to(settings.workspace_root).as_posix(),
                      versions=reports.versions(), notes=notes, diff=reports.diff)


def _trigger_line(trigger: trigger_store.TriggerRecord) -> str:
    """One trigger in words: schedule, state, next run, and what it asks for."""
    state = trigger.state
    due = f", next {trigger.next_due[:16].replace('T', ' ')} UTC" if trigger.next_due and state != "paused" else ""
    ask = f" — {trigger.instruction[:60]}" if trigger.instruction else ""
    return f"#{trigger.id} {schedule_of(trigger).describe()} ({state}{due}){ask}"


def usage_rows(registry: Registry) -> list[dict[str, Any]]:
    """Spend by service and model."""
    return registry.query(
        "SELECT service, COALESCE(model, '') AS model, SUM(requests) AS requests, SUM(input_tokens) AS input_tokens, "
        "SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd FROM usage GROUP BY service, model "
        "ORDER BY cost_usd DESC")
