"""Follow-up runs: an agent reads its memory, searches again, and writes what changed."""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from mia import __version__
from mia.agents.llm.client import LLMClient
from mia.agents.research.changes import snapshot, summary_line
from mia.agents.research.pipeline import PIPELINE_VERSION, EventSink
from mia.agents.research.service import DIGEST_NOTICE, ResearchResult, _llm_or_none, execute_run, stamp_now
from mia.errors import UsageError
from mia.filters import SearchFilters
from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store import inbox
from mia.store import runs as run_store
from mia.store.db import Registry
from mia.store.workspace import Workspace
from mia.tools.search import build_search_clients

MAX_INSTRUCTION_CHARS = 2000


def _read_json(path: Any, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def follow_up_params(workspace: Workspace, agent: agent_store.AgentRecord, *, instruction: str,
                     mode: str, force_report: bool) -> dict[str, Any]:
    """Run parameters built from the agent's memory, fixed at creation so a resumed run replays the same."""
    folder = workspace.agent_dir(agent.slug)
    plan = _read_json(folder / "plan.json", []) or [{"question": agent.question, "query": agent.question}]
    if instruction:
        plan = [*plan, {"question": instruction, "query": instruction[:300]}]
    report_path = folder / "report.md"
    return {
        "question": agent.question, "slug": agent.slug, "depth": agent.depth, "sources": agent.source_list,
        "report_version": agent.report_version + 1, "notices": [], "mode": mode, "digest_notice": DIGEST_NOTICE,
        "date": datetime.now(UTC).date().isoformat(), "stamp": stamp_now(), "instruction": instruction or None,
        "plan": plan, "force_report": force_report,
        "previous": {"sources": snapshot(_read_json(folder / "sources.json", [])),
                     "claims": _read_json(folder / "evidence" / "claims.json", []),
                     "report": report_path.read_text(encoding="utf-8") if report_path.exists() else None},
    }


def follow_up_research(settings: Settings, registry: Registry, ref: str, *, instruction: str, http: httpx.Client,
                       on_event: EventSink, origin: str = "local", run_id: str | None = None,
                       force_report: bool = True, trigger_id: int | None = None,
                       stamp: str | None = None, extra_sources: list[dict[str, Any]] | None = None
                       ) -> ResearchResult:
    """Wake an agent: search its plan again (plus the instruction), note what changed, update the report.

    With `force_report` (a person's follow-up question) a new report version is always written; without it
    (a scheduled wake-up) only a material change produces one.
    """
    instruction = instruction.strip()
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise UsageError(f"The follow-up is {len(instruction):,} characters long; at most "
                         f"{MAX_INSTRUCTION_CHARS:,} are taken.", "Ask something shorter.")
    agent = agent_store.get_agent(registry, ref)
    llm: LLMClient | None = _llm_or_none(settings, http, agent.model or None)
    clients, notices = build_search_clients(settings, http, agent.source_list,
                                            agent_dir=Workspace(settings.workspace_root).agent_dir(agent.slug))
    workspace = Workspace(settings.workspace_root)
    params = follow_up_params(workspace, agent, instruction=instruction, mode="full" if llm else "digest",
                              force_report=force_report)
    params["notices"] = notices
    params["stamp"] = stamp or f"{stamp_now()}-{uuid.uuid4().hex[:4]}"
    params["extra_sources"] = extra_sources or []  # e.g. a reply to outreach mail, cited like any source
    params["filters"] = agent.filter_settings  # the filters the person set, kept for every follow-up
    if params["filters"]:
        notices.append(SearchFilters.model_validate(params["filters"]).describe())
    run = run_store.create_run(registry, agent_id=agent.id, kind="follow-up", params=params,
                               code_version=f"{__version__}/{PIPELINE_VERSION}", run_id=run_id, origin=origin)
    if trigger_id is not None:
        registry.execute("UPDATE runs SET trigger_id = ? WHERE id = ?", (trigger_id, run.id))
    result = execute_run(settings, registry, workspace, agent, run.id, llm, clients, on_event)
    notify(settings, registry, result)
    return result


def notify(settings: Settings, registry: Registry, result: ResearchResult) -> bool:
    """Put material changes in the inbox (and run notify.command); stay quiet when nothing changed."""
    changes = result.changes
    if changes is None or not changes.get("material"):
        return False
    title = f"{result.agent.slug}: {summary_line(changes)}"
    inbox.add_message(registry, agent_id=result.agent.id, run_id=result.run_id, title=title,
                      body=f"Report v{result.agent.report_version} and a changes note were written.",
                      path=str(result.changes_path) if result.changes_path else None)
    if settings.notify.command:
        try:
            subprocess.run([*shlex.split(settings.notify.command), title], timeout=30, check=False,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            result.notices.append(f"notify.command could not be run ({exc}); fix it with "
                                  "`mia config set notify.command 'COMMAND'`.")
    return True
