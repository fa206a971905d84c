"""Approvals: actions with effects outside mia wait here until a person approves or denies them."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from mia.errors import NotFoundError, UsageError
from mia.store.db import Registry, utcnow

OPEN = "pending"


class ApprovalRecord(BaseModel):
    """One row of `approvals` (with the agent's slug)."""

    id: int
    action: str
    agent_id: str | None = None
    agent: str | None = None
    status: str  # pending | approved | denied | done | failed
    summary: str
    reason: str
    payload_json: str
    requested_by: str
    after_untrusted_text: int = 0
    decision_note: str | None = None
    result_json: str | None = None
    created_at: str
    decided_at: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.payload_json))


SELECT = "SELECT p.*, a.slug AS agent FROM approvals p LEFT JOIN agents a ON a.id = p.agent_id"


def request(registry: Registry, *, action: str, agent_id: str | None, summary: str, reason: str,
            payload: dict[str, Any], requested_by: str, after_untrusted_text: bool) -> ApprovalRecord:
    """Record a pending approval; nothing happens until a person decides."""
    with registry.write() as db:
        cursor = db.execute(
            "INSERT INTO approvals (action, agent_id, status, summary, reason, payload_json, requested_by, "
            "after_untrusted_text, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
            (action, agent_id, summary, reason, json.dumps(payload), requested_by, int(after_untrusted_text),
             utcnow()))
        approval_id = int(cursor.lastrowid or 0)
    return get(registry, approval_id)


def get(registry: Registry, approval_id: int) -> ApprovalRecord:
    row = registry.one(f"{SELECT} WHERE p.id = ?", (approval_id,))
    if row is None:
        raise NotFoundError(f"No approval with id {approval_id}.", "List them with `mia approvals list`.")
    return ApprovalRecord.model_validate(row)


def list_approvals(registry: Registry, *, include_decided: bool = False) -> list[ApprovalRecord]:
    where = "" if include_decided else "WHERE p.status = 'pending'"
    return [ApprovalRecord.model_validate(r) for r in registry.query(f"{SELECT} {where} ORDER BY p.id")]


def decide(registry: Registry, approval_id: int, *, status: str, note: str | None = None,
           payload: dict[str, Any] | None = None) -> ApprovalRecord:
    """Move a pending approval to approved or denied, exactly once (a second decision is refused)."""
    with registry.write() as db:
        current = get(registry, approval_id)
        if current.status != OPEN:
            raise UsageError(f"Approval {approval_id} was already {current.status}.",
                             "Only pending approvals can be approved or denied.")
        new_payload = current.payload_json if payload is None else json.dumps(payload)
        db.execute("UPDATE approvals SET status = ?, decision_note = ?, payload_json = ?, decided_at = ? "
                   "WHERE id = ?", (status, note, new_payload, utcnow(), approval_id))
    return get(registry, approval_id)


def finish(registry: Registry, approval_id: int, *, ok: bool, result: dict[str, Any]) -> None:
    registry.execute("UPDATE approvals SET status = ?, result_json = ? WHERE id = ?",
                     ("done" if ok else "failed", json.dumps(result), approval_id))
