"""Durable runs in the registry: leases, checkpointed steps and usage (RELIABILITY.md §1.3)."""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mia.errors import NotFoundError, RunConflict
from mia.models import Usage
from mia.store.db import Registry, utcnow

MAX_ATTEMPTS = 5
FINISHED = ("succeeded", "failed", "cancelled")
CLOSED = ("succeeded", "cancelled")  # a failed run may be resumed until MAX_ATTEMPTS


class RunRecord(BaseModel):
    """One row of `runs`."""

    id: str
    agent_id: str
    kind: str
    params_json: str
    code_version: str
    status: str
    stage: str | None = None
    outcome: str | None = None
    origin: str = "local"
    owner: str | None = None
    lease_until: str | None = None
    attempts: int = 0
    error: str | None = None
    created_at: str
    updated_at: str
    finished_at: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(json.loads(self.params_json))


def _proc_start(pid: int) -> str:
    """The process start time from /proc (guards against pid reuse), or '' where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def owner_id() -> str:
    """Who holds a lease: host, pid and the process start time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_proc_start(pid)}"


def owner_alive(owner: str) -> bool:
    """False when the owner is a process on this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: only the lease expiry can tell
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not start or _proc_start(pid) == start


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def create_run(registry: Registry, *, agent_id: str, kind: str, params: dict[str, Any], code_version: str,
               run_id: str | None = None, origin: str = "local") -> RunRecord:
    """Insert a queued run; an explicit run id makes creation idempotent."""
    now = utcnow()
    row = {"id": run_id or uuid.uuid4().hex[:16], "agent_id": agent_id, "kind": kind,
           "params_json": json.dumps(params, sort_keys=True), "code_version": code_version,
           "status": "queued", "origin": origin, "attempts": 0, "created_at": now, "updated_at": now}
    with registry.write() as db:
        db.table("runs").insert(row, ignore=True)
    return get_run(registry, str(row["id"]))


def get_run(registry: Registry, run_id: str) -> RunRecord:
    row = registry.one("SELECT * FROM runs WHERE id = ?", (run_id,))
    if row is None:
        raise NotFoundError(f"No run '{run_id}'.", "List an agent's runs with `mia agents show AGENT`.")
    return RunRecord.model_validate(row)


def latest_run(registry: Registry, agent_id: str) -> RunRecord | None:
    row = registry.one("SELECT * FROM runs WHERE agent_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                       (agent_id,))
    return RunRecord.model_validate(row) if row else None


def claim_run(registry: Registry, run_id: str, owner: str, *, lease_seconds: float) -> RunRecord:
    """Take the run's lease, or raise RunConflict while a live process holds it."""
    with registry.write():
        run = get_run(registry, run_id)
        if run.status in CLOSED:
            raise RunConflict(f"Run '{run_id}' has already {run.status}.", None)
        held = run.owner and run.owner != owner and run.lease_until and run.lease_until > utcnow()
        if held and owner_alive(str(run.owner)):
            raise RunConflict(
                f"Another mia process ({run.owner}) is working on this run.",
                "Wait for it to finish; if it died, its lease expires within a minute and you can resume then.",
            )
        registry.db.execute(
            "UPDATE runs SET owner = ?, lease_until = ?, status = 'running', attempts = attempts + 1, "
            "updated_at = ? WHERE id = ?", (owner, _later(lease_seconds), utcnow(), run_id))
    return get_run(registry, run_id)


def renew_lease(registry: Registry, run_id: str, owner: str, *, lease_seconds: float) -> bool:
    """Extend the lease if we still hold it; False means it was lost."""
    cursor = registry.execute("UPDATE runs SET lease_until = ? WHERE id = ? AND owner = ? AND status = 'running'",
                              (_later(lease_seconds), run_id, owner))
    return cursor.rowcount == 1


def release_run(registry: Registry, run_id: str, owner: str) -> None:
    """Give up the lease without finishing (e.g. on Ctrl+C), so a resume can claim it at once."""
    registry.execute("UPDATE runs SET owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND owner = ?",
                     (utcnow(), run_id, owner))


def set_stage(registry: Registry, run_id: str, stage: str) -> None:
    registry.execute("UPDATE runs SET stage = ?, updated_at = ? WHERE id = ?", (stage, utcnow(), run_id))


def finish_run(registry: Registry, run_id: str, *, status: str, outcome: str | None = None,
               error: str | None = None) -> None:
    now = utcnow()
    registry.execute(
        "UPDATE runs SET status = ?, outcome = ?, error = ?, owner = NULL, lease_until = NULL, "
        "updated_at = ?, finished_at = ? WHERE id = ?", (status, outcome, error, now, now, run_id))


def abandoned_runs(registry: Registry) -> list[RunRecord]:
    """Runs marked running whose owner is gone (dead local process or expired lease), or never started."""
    rows = registry.query("SELECT * FROM runs WHERE status IN ('running', 'queued') ORDER BY created_at")
    now = utcnow()
    fresh = _later(-60)
    found = []
    for row in rows:
        run = RunRecord.model_validate(row)
        if run.status == "queued" and run.owner is None and run.created_at > fresh:
            continue  # just created: whoever created it is about to claim it
        if run.owner is None or (run.lease_until or "") < now or not owner_alive(run.owner):
            found.append(run)
    return found


def step_row(registry: Registry, run_id: str, step_key: str) -> dict[str, Any] | None:
    return registry.one("SELECT * FROM run_steps WHERE run_id = ? AND step_key = ?", (run_id, step_key))


def step_started(registry: Registry, run_id: str, step_key: str) -> int:
    """Mark a step as in flight (attempt + 1); returns the attempt number."""
    with registry.write() as db:
        row = step_row(registry, run_id, step_key)
        attempt = (row["attempt"] if row else 0) + 1
        seq = row["seq"] if row else (registry.one(
            "SELECT COUNT(*) AS n FROM run_steps WHERE run_id = ?", (run_id,)) or {"n": 0})["n"]
        db.execute(
            "INSERT INTO run_steps (run_id, step_key, seq, status, attempt, started_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(run_id, step_key) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, "
            "started_at = excluded.started_at, error = NULL",
            (run_id, step_key, seq, "running", attempt, utcnow()))
    return int(attempt)


def step_done(registry: Registry, run_id: str, step_key: str, output: Any) -> None:
    registry.execute(
        "UPDATE run_steps SET status = 'done', output_json = ?, finished_at = ? WHERE run_id = ? AND step_key = ?",
        (json.dumps(output), utcnow(), run_id, step_key))


def step_failed(registry: Registry, run_id: str, step_key: str, error: str) -> None:
    registry.execute(
        "UPDATE run_steps SET status = 'failed', error = ?, finished_at = ? WHERE run_id = ? AND step_key = ?",
        (error, utcnow(), run_id, step_key))


def run_steps(registry: Registry, run_id: str) -> list[dict[str, Any]]:
    return registry.query("SELECT * FROM run_steps WHERE run_id = ? ORDER BY seq", (run_id,))


def record_usage(registry: Registry, usage: Usage, *, run_id: str | None, agent_id: str | None,
                 step_key: str | None) -> None:
    row = {**usage.model_dump(), "run_id": run_id, "agent_id": agent_id, "step_key": step_key,
           "created_at": utcnow()}
    # Plain SQL: this runs for every remote call, and sqlite-utils' insert re-reads the table's schema each time.
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    registry.execute(f"INSERT INTO usage ({columns}) VALUES ({marks})", tuple(row.values()))


SPEND_MARKS = ("discarded-run", "deleted-agent")


def keep_spend(registry: Registry, agent_id: str, *, mark: str = "discarded-run") -> None:
    """Before an agent is deleted: its usage rows stay, without agent or run, their step marked `MARK:`
    (`discarded-run` for a first run that learned nothing, `deleted-agent` for `mia agents delete`), so
    `mia usage` totals keep every paid call (spend is never erased)."""
    if mark not in SPEND_MARKS:
        raise ValueError(f"unknown spend mark {mark!r}")
    registry.execute(
        "UPDATE usage SET agent_id = NULL, run_id = NULL, step_key = ? || ':' || COALESCE(step_key, '') "
        "WHERE agent_id = ? OR run_id IN (SELECT id FROM runs WHERE agent_id = ?)", (mark, agent_id, agent_id))


def run_spend(registry: Registry, run_id: str) -> dict[str, float]:
    row = registry.one(
        "SELECT COALESCE(SUM(cost_usd), 0) AS cost_usd, COALESCE(SUM(input_tokens), 0) AS input_tokens, "
        "COALESCE(SUM(output_tokens), 0) AS output_tokens, COALESCE(SUM(requests), 0) AS requests "
        "FROM usage WHERE run_id = ?", (run_id,)) or {}
    return {k: float(v) for k, v in row.items()}
