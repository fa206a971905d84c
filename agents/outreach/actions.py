"""Actions with effects outside mia: each waits in `approvals` until a person approves it.

An action is registered here by name with the function that carries it out; a tool marked
`needs_approval` whose name has an action records a pending approval instead of running. Only
`approve()`, called by a person's command, ever calls an action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mia.errors import MiaError, UsageError
from mia.settings import Settings
from mia.store import approvals
from mia.store.db import Registry


@dataclass
class ActionContext:
    settings: Settings
    registry: Registry
    http: httpx.Client


Action = Callable[[ActionContext, approvals.ApprovalRecord], dict[str, Any]]
ACTIONS: dict[str, Action] = {}


def register_action(name: str, action: Action) -> None:
    ACTIONS[name] = action


def load_actions() -> None:
    """The actions mia ships register themselves when their module is imported."""
    from mia.agents.outreach import mail, mcp_calls  # noqa: F401


def approve(settings: Settings, registry: Registry, approval_id: int, *, http: httpx.Client,
            payload: dict[str, Any] | None = None) -> approvals.ApprovalRecord:
    """A person approved (maybe with an edited payload): carry the action out, once."""
    load_actions()
    record = approvals.get(registry, approval_id)
    if record.action not in ACTIONS:
        raise UsageError(f"Approval {approval_id} is for '{record.action}', which this mia cannot carry out.", None)
    if record.status == "pending":
        record = approvals.decide(registry, approval_id, status="approved", payload=payload)
    elif record.status != "approved":  # 'approved' alone means a previous attempt did not finish
        raise UsageError(f"Approval {approval_id} was already {record.status}.", None)
    try:
        result = ACTIONS[record.action](ActionContext(settings, registry, http), record)
    except MiaError as exc:
        approvals.finish(registry, approval_id, ok=False, result={"error": exc.message})
        raise
    approvals.finish(registry, approval_id, ok=True, result=result)
    return approvals.get(registry, approval_id)
