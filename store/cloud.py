"""What mia deployed to Cloudflare Workflows: the script's content hash and each trigger's instance chain."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from mia.store.db import Registry, utcnow


class Deployment(BaseModel):
    """One uploaded Worker script and its Workflow (one row per workflow name)."""

    workflow: str
    script: str
    account_id: str
    content_hash: str
    deployed_at: str
    updated_at: str


class CloudTrigger(BaseModel):
    """A trigger running in the cloud: its instance-id prefix, planned cron slots or interval, and horizon."""

    trigger_id: int
    agent_id: str
    agent: str
    workflow: str
    fingerprint: str
    id_prefix: str
    slots_json: str = "[]"
    every_json: str | None = None
    horizon: str | None = None
    planned_at: str
    deployed_at: str
    updated_at: str

    @property
    def slots(self) -> list[str]:
        return list(json.loads(self.slots_json))

    @property
    def every(self) -> dict[str, Any] | None:
        return dict(json.loads(self.every_json)) if self.every_json else None


def get_deployment(registry: Registry, workflow: str) -> Deployment | None:
    row = registry.one("SELECT * FROM cloud_deployments WHERE workflow = ?", (workflow,))
    return Deployment.model_validate(row) if row else None


def save_deployment(registry: Registry, *, workflow: str, script: str, account_id: str, content_hash: str) -> None:
    now = utcnow()
    registry.execute(
        "INSERT INTO cloud_deployments (workflow, script, account_id, content_hash, deployed_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(workflow) DO UPDATE SET script = excluded.script, "
        "account_id = excluded.account_id, content_hash = excluded.content_hash, updated_at = excluded.updated_at",
        (workflow, script, account_id, content_hash, now, now))


def delete_deployment(registry: Registry, workflow: str) -> None:
    registry.execute("DELETE FROM cloud_deployments WHERE workflow = ?", (workflow,))


def list_cloud_triggers(registry: Registry) -> list[CloudTrigger]:
    rows = registry.query("SELECT * FROM cloud_triggers ORDER BY trigger_id")
    return [CloudTrigger.model_validate(r) for r in rows]


def get_cloud_trigger(registry: Registry, trigger_id: int) -> CloudTrigger | None:
    row = registry.one("SELECT * FROM cloud_triggers WHERE trigger_id = ?", (trigger_id,))
    return CloudTrigger.model_validate(row) if row else None


def save_cloud_trigger(registry: Registry, *, trigger_id: int, agent_id: str, agent: str, workflow: str,
                       fingerprint: str, id_prefix: str, slots: list[str], every: dict[str, Any] | None,
                       horizon: str | None) -> None:
    """Insert or replace a trigger's chain, and mark the trigger deployed so `mia triggers run` skips it."""
    now = utcnow()
    with registry.write() as db:
        db.execute(
            "INSERT INTO cloud_triggers (trigger_id, agent_id, agent, workflow, fingerprint, id_prefix, slots_json, "
            "every_json, horizon, planned_at, deployed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(trigger_id) DO UPDATE SET agent_id = excluded.agent_id, agent = excluded.agent, "
            "workflow = excluded.workflow, fingerprint = excluded.fingerprint, id_prefix = excluded.id_prefix, "
            "slots_json = excluded.slots_json, every_json = excluded.every_json, horizon = excluded.horizon, "
            "planned_at = excluded.planned_at, updated_at = excluded.updated_at",
            (trigger_id, agent_id, agent, workflow, fingerprint, id_prefix, json.dumps(slots),
             json.dumps(every) if every else None, horizon, now, now, now))
        db.execute("UPDATE triggers SET deployed = 1, updated_at = ? WHERE id = ?", (now, trigger_id))


def delete_cloud_trigger(registry: Registry, trigger_id: int) -> None:
    """Forget a trigger's chain and hand the trigger back to the local `mia triggers run`."""
    now = utcnow()
    with registry.write() as db:
        db.execute("DELETE FROM cloud_triggers WHERE trigger_id = ?", (trigger_id,))
        db.execute("UPDATE triggers SET deployed = 0, updated_at = ? WHERE id = ?", (now, trigger_id))


def record_cloud_fire(registry: Registry, trigger_id: int, slot: str, run_id: str) -> None:
    """Note that a cloud run fired this (trigger, slot), so `mia triggers show` lists it; once only."""
    if not slot or registry.one("SELECT id FROM triggers WHERE id = ?", (trigger_id,)) is None:
        return
    registry.execute(
        "INSERT OR IGNORE INTO trigger_fires (trigger_id, slot, run_id, claimed_by, claimed_at, coalesced) "
        "VALUES (?, ?, ?, 'cloud', ?, 1)", (trigger_id, slot, run_id, utcnow()))


def _generation_key(workflow: str, trigger_id: int) -> str:
    return f"cloud.generation.{workflow}.{trigger_id}"


def get_generation(registry: Registry, workflow: str, trigger_id: int) -> int:
    """The instance-id generation the trigger's next chain in `workflow` starts with (0 at first).

    Kept in the `state` table, so it outlives the trigger's cloud_triggers row: ids of an ended chain stay
    taken in Workflows, and a chain started again must use new ones.
    """
    row = registry.one("SELECT value FROM state WHERE key = ?", (_generation_key(workflow, trigger_id),))
    return int(row["value"]) if row and str(row["value"]).isdigit() else 0


def next_generation(registry: Registry, workflow: str, trigger_id: int, after: int) -> int:
    """Move the trigger's generation past `after` (never backwards) and return the new one."""
    with registry.write() as db:
        row = db.execute("SELECT value FROM state WHERE key = ?", (_generation_key(workflow, trigger_id),)).fetchone()
        current = int(row[0]) if row and str(row[0]).isdigit() else 0
        value = max(current, after + 1)
        db.execute("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (_generation_key(workflow, trigger_id), str(value)))
    return value
