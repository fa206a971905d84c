"""Triggers in the registry, and the exactly-once claim of a (trigger, slot)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mia.errors import NotFoundError
from mia.store.db import Registry, utcnow


class TriggerRecord(BaseModel):
    """One row of `triggers` (with its agent's slug)."""

    id: int
    agent_id: str
    agent: str = ""
    kind: str
    spec: str
    tz: str
    instruction: str
    enabled: int
    next_due: str | None = None
    last_slot: str | None = None
    deployed: int = 0
    created_at: str
    updated_at: str

    @property
    def state(self) -> str:
        """cloud (deployed to Workflows), on, or paused."""
        return "cloud" if self.deployed else ("on" if self.enabled else "paused")


SELECT = "SELECT t.*, a.slug AS agent FROM triggers t JOIN agents a ON a.id = t.agent_id"


def add_trigger(registry: Registry, *, agent_id: str, kind: str, spec: str, tz: str, instruction: str,
                next_due: str | None, created_at: str | None = None) -> tuple[TriggerRecord, bool]:
    """Insert a trigger; the same agent, schedule and instruction again returns the existing one."""
    now = created_at or utcnow()
    with registry.write() as db:
        cursor = db.execute(
            "INSERT OR IGNORE INTO triggers (agent_id, kind, spec, tz, instruction, enabled, next_due, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
            (agent_id, kind, spec, tz, instruction, next_due, now, now))
        created = cursor.rowcount == 1
    row = registry.one(f"{SELECT} WHERE t.agent_id = ? AND t.kind = ? AND t.spec = ? AND t.tz = ? "
                       "AND t.instruction = ?", (agent_id, kind, spec, tz, instruction))
    assert row is not None
    return TriggerRecord.model_validate(row), created


def same_interval(registry: Registry, *, agent_id: str, spec: str, instruction: str) -> TriggerRecord | None:
    """The agent's interval trigger with this spec and instruction, in any time zone (an interval has none)."""
    row = registry.one(f"{SELECT} WHERE t.agent_id = ? AND t.kind = 'every' AND t.spec = ? AND t.instruction = ? "
                       "ORDER BY t.id LIMIT 1", (agent_id, spec, instruction))
    return TriggerRecord.model_validate(row) if row else None


def get_trigger(registry: Registry, trigger_id: int) -> TriggerRecord:
    row = registry.one(f"{SELECT} WHERE t.id = ?", (trigger_id,))
    if row is None:
        raise NotFoundError(f"No trigger with id {trigger_id}.", "List them with `mia triggers list`.")
    return TriggerRecord.model_validate(row)


def list_triggers(registry: Registry, agent_id: str | None = None) -> list[TriggerRecord]:
    where, params = ("WHERE t.agent_id = ?", (agent_id,)) if agent_id else ("", ())
    return [TriggerRecord.model_validate(r) for r in registry.query(f"{SELECT} {where} ORDER BY t.id", params)]


def update_trigger(registry: Registry, trigger_id: int, **fields: Any) -> None:
    allowed = {"enabled", "next_due", "last_slot", "deployed"}
    assert set(fields) <= allowed, fields
    sql = ", ".join(f"{name} = ?" for name in fields)
    registry.execute(f"UPDATE triggers SET {sql}, updated_at = ? WHERE id = ?",
                     (*fields.values(), utcnow(), trigger_id))


def remove_trigger(registry: Registry, trigger_id: int) -> None:
    registry.execute("DELETE FROM triggers WHERE id = ?", (trigger_id,))


def due_triggers(registry: Registry, now: str, limit: int = 1000) -> list[TriggerRecord]:
    """Enabled local triggers whose next slot is due, found through the (enabled, next_due) index."""
    rows = registry.query(f"{SELECT} WHERE t.enabled = 1 AND t.next_due <= ? AND t.deployed = 0 "
                          "ORDER BY t.next_due LIMIT ?", (now, limit))
    return [TriggerRecord.model_validate(r) for r in rows]


def claim_slot(registry: Registry, trigger_id: int, *, slot: str, coalesced: int, owner: str, run_id: str | None,
               next_due: str | None, enabled: bool = True) -> bool:
    """Claim (trigger, slot) exactly once: the primary key decides, inside one BEGIN IMMEDIATE.

    With run_id None the slot is recorded as missed (too late to run) and the trigger moves on.
    """
    with registry.write() as db:
        row = registry.one("SELECT last_slot FROM triggers WHERE id = ?", (trigger_id,))
        if row is None or (row["last_slot"] and row["last_slot"] >= slot):
            return False
        cursor = db.execute(
            "INSERT OR IGNORE INTO trigger_fires (trigger_id, slot, run_id, claimed_by, claimed_at, coalesced) "
            "VALUES (?, ?, ?, ?, ?, ?)", (trigger_id, slot, run_id, owner, utcnow(), coalesced))
        if cursor.rowcount != 1:
            return False
        db.execute("UPDATE triggers SET last_slot = ?, next_due = ?, enabled = ?, updated_at = ? WHERE id = ?",
                   (slot, next_due, 1 if enabled else 0, utcnow(), trigger_id))
    return True


def running_run(registry: Registry, trigger_id: int) -> dict[str, Any] | None:
    """The trigger's run that is still queued or running, if any."""
    return registry.one("SELECT id, owner, lease_until, status FROM runs WHERE trigger_id = ? "
                        "AND status IN ('queued', 'running') ORDER BY created_at DESC LIMIT 1", (trigger_id,))


def fires(registry: Registry, trigger_id: int) -> list[dict[str, Any]]:
    return registry.query("SELECT * FROM trigger_fires WHERE trigger_id = ? ORDER BY slot", (trigger_id,))
