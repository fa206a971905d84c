"""Cloud runs come home: run records the Workflow wrote to R2 (pulled by `mia sync pull`) enter the registry."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mia.agents.research.changes import summary_line
from mia.agents.research.service import STATUS_BY_OUTCOME
from mia.errors import NotFoundError
from mia.models import Usage
from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store import cloud as cloud_store
from mia.store import inbox
from mia.store import runs as run_store
from mia.store.db import Registry
from mia.store.workspace import Workspace

INSTANCE_ID_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9-_]{0,99}$")
CHANGE_KEYS = ("new_papers", "new_trials", "new_web", "status_changes")


@dataclass
class CloudRun:
    """One cloud run recorded in the registry by `record_cloud_runs`."""

    run_id: str
    agent: str
    outcome: str
    report_version: int | None
    trigger_id: int | None
    notified: bool


def _records(workspace: Workspace) -> list[tuple[Path, dict[str, Any]]]:
    """Every `agents/<slug>/runs/*.json` whose origin is "cloud", in name order."""
    found = []
    for path in sorted((workspace.root / "agents").glob("*/runs/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("origin") == "cloud" and data.get("run_id") == path.stem:
            found.append((path, data))
    return found


def record_cloud_runs(settings: Settings, registry: Registry) -> list[CloudRun]:
    """Record each cloud run not yet in the registry (run, usage, fire, inbox); a second call adds nothing."""
    workspace = Workspace(settings.workspace_root)
    recorded = []
    for path, data in _records(workspace):
        run_id = str(data["run_id"])
        if not INSTANCE_ID_RE.match(run_id) or registry.one("SELECT id FROM runs WHERE id = ?", (run_id,)):
            continue
        slug = path.parent.parent.name
        try:
            agent = agent_store.get_agent(registry, slug)
        except NotFoundError:  # an agent this registry does not know (e.g. a teammate's): not ours to record
            continue
        with registry.write():  # all of one run, or nothing
            recorded.append(_record_one(workspace, registry, agent, data))
    return recorded


def _record_one(workspace: Workspace, registry: Registry, agent: agent_store.AgentRecord,
                data: dict[str, Any]) -> CloudRun:
    run_id, outcome = str(data["run_id"]), str(data.get("outcome") or "failed")
    trigger_id = data.get("trigger_id") if isinstance(data.get("trigger_id"), int) else None
    params = {k: data.get(k) for k in ("question", "instruction", "slot", "trigger_id", "report_version", "pipeline")}
    run_store.create_run(registry, agent_id=agent.id, kind="follow-up", params={**params, "origin": "cloud"},
                         code_version=str(data.get("pipeline") or "cloud"), run_id=run_id, origin="cloud")
    failed = outcome == "failed"
    run_store.finish_run(registry, run_id, status="failed" if failed else "succeeded",
                         outcome=None if failed else outcome, error=data.get("error") if failed else None)
    if trigger_id is not None:
        registry.execute("UPDATE runs SET trigger_id = ? WHERE id = ?", (trigger_id, run_id))
        cloud_store.record_cloud_fire(registry, trigger_id, str(data.get("slot") or ""), run_id)
    for item in (data.get("usage") or {}).get("items") or []:
        usage = Usage.model_validate({k: v for k, v in item.items() if k in Usage.model_fields})
        run_store.record_usage(registry, usage, run_id=run_id, agent_id=agent.id, step_key="cloud")
    version = data.get("report_version") if isinstance(data.get("report_version"), int) else None
    if not failed and version is not None and version > agent.report_version:
        agent_store.set_status(registry, agent.id, STATUS_BY_OUTCOME.get(outcome, "done"), report_version=version,
                               last_run_id=run_id, last_run_at=data.get("finished_at"))
    notified = _notify(workspace, registry, agent, run_id, data, version)
    return CloudRun(run_id, agent.slug, outcome, version, trigger_id, notified)


def _notify(workspace: Workspace, registry: Registry, agent: agent_store.AgentRecord, run_id: str,
            data: dict[str, Any], version: int | None) -> bool:
    """An inbox entry when the cloud run's changes note says something material (as `followup.notify`)."""
    changes = data.get("changes")
    if not isinstance(changes, dict) or not changes.get("material"):
        return False
    counts: dict[str, Any] = {key: changes[key] if isinstance(changes.get(key), list) else []
                              for key in CHANGE_KEYS}
    note = (data.get("files") or {}).get("changes")
    path = str(workspace.agent_dir(agent.slug) / note) if isinstance(note, str) else None
    inbox.add_message(registry, agent_id=agent.id, run_id=run_id, title=f"{agent.slug}: {summary_line(counts)}",
                      body=f"Report v{version} and a changes note were written by a cloud run.", path=path)
    return True
