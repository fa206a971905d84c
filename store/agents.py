"""Research agents in the registry: named, persistent records with a workspace folder each."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel

from mia.errors import NotFoundError, UsageError
from mia.store.db import Registry, utcnow
from mia.store.workspace import check_slug, slugify

AGENT_COLUMNS = ("id", "slug", "question", "status", "parent_id", "sources", "depth", "model", "budget_usd",
                 "report_version", "last_run_id", "last_run_at", "created_at", "updated_at", "purpose")
PURPOSES = ("research", "eval")


class AgentRecord(BaseModel):
    """One row of `agents`."""

    id: str
    slug: str
    question: str
    status: str
    parent_id: str | None = None
    sources: str
    depth: str
    model: str
    budget_usd: float
    report_version: int = 0
    last_run_id: str | None = None
    last_run_at: str | None = None
    created_at: str
    updated_at: str
    purpose: str = "research"  # "eval": made by `mia eval`, hidden from the user's lists
    filters: str = "{}"  # JSON of mia.filters.SearchFilters: what this agent lets into its searches

    @property
    def filter_settings(self) -> dict[str, Any]:
        """The stored filters as a dict ({} when none, or when the JSON is unreadable)."""
        try:
            value = json.loads(self.filters or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def source_list(self) -> list[str]:
        return [s for s in self.sources.split(",") if s]


def _unique_slug(registry: Registry, base: str) -> str:
    taken = {row["slug"] for row in registry.query(
        "SELECT slug FROM agents WHERE slug = ? OR slug LIKE ?", (base, f"{base}-%"))}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_agent(
    registry: Registry,
    *,
    question: str,
    sources: list[str],
    depth: str,
    model: str,
    budget_usd: float,
    slug: str | None = None,
    parent_id: str | None = None,
    purpose: str = "research",
    filters: dict[str, Any] | None = None,
) -> AgentRecord:
    """Insert a new agent; an explicit slug must be free, a derived one gets a -2, -3 suffix if needed."""
    now = utcnow()
    with registry.write() as db:
        if slug is not None:
            check_slug(slug)
            if registry.one("SELECT 1 AS x FROM agents WHERE slug = ?", (slug,)):
                raise UsageError(f"An agent named '{slug}' already exists.",
                                 f"Run it again with `mia agents rerun {slug}`, or pick another --name.")
        else:
            slug = _unique_slug(registry, slugify(question))
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex[:12], "slug": slug, "question": question, "status": "new",
            "parent_id": parent_id, "sources": ",".join(sources), "depth": depth, "model": model,
            "budget_usd": budget_usd, "report_version": 0, "last_run_id": None, "last_run_at": None,
            "created_at": now, "updated_at": now, "purpose": purpose, "filters": json.dumps(filters or {}),
        }
        db.table("agents").insert(row)
    return AgentRecord.model_validate(row)


def get_agent(registry: Registry, ref: str) -> AgentRecord:
    """An agent by slug, or by id (a unique id prefix of at least 4 characters works too)."""
    row = registry.one("SELECT * FROM agents WHERE slug = ? OR id = ?", (ref, ref))
    if row is None:
        row = registry.by_id_prefix("agents", ref)
    if row is None:
        raise NotFoundError(f"No research agent named '{ref}'.", "List your agents with `mia agents list`.")
    return AgentRecord.model_validate(row)


def interrupted_ids(registry: Registry) -> set[str]:
    """Agents whose latest run stopped without finishing (Ctrl+C, a killed process, a lost lease)."""
    from mia.store.runs import abandoned_runs

    return {run.agent_id for run in abandoned_runs(registry)}


def shown_status(status: str, agent_id: str, interrupted: set[str]) -> str:
    """The status a person sees: a stage name of a run that died reads 'interrupted'."""
    return "interrupted" if agent_id in interrupted else status


def same_question(registry: Registry, question: str) -> AgentRecord | None:
    """The newest agent asked `question` (ignoring case and runs of spaces), or None."""
    wanted = " ".join(question.split()).casefold()
    for row in registry.query("SELECT * FROM agents WHERE purpose = 'research' ORDER BY created_at DESC"):
        if " ".join(row["question"].split()).casefold() == wanted:
            return AgentRecord.model_validate(row)
    return None


def list_agents(registry: Registry, *, purpose: str | None = "research") -> list[AgentRecord]:
    """The user's agents, oldest first; `purpose="eval"` gives the eval's agents instead, None gives all."""
    if purpose is None:
        rows = registry.query("SELECT * FROM agents ORDER BY created_at")
    else:
        rows = registry.query("SELECT * FROM agents WHERE purpose = ? ORDER BY created_at", (purpose,))
    return [AgentRecord.model_validate(r) for r in rows]


def set_status(registry: Registry, agent_id: str, status: str, **fields: Any) -> None:
    """Update an agent's status (and any other columns given)."""
    assignments = {"status": status, "updated_at": utcnow(), **fields}
    unknown = set(assignments) - set(AGENT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown agent columns: {sorted(unknown)}")
    sql = ", ".join(f"{name} = ?" for name in assignments)
    registry.execute(f"UPDATE agents SET {sql} WHERE id = ?", (*assignments.values(), agent_id))


def set_filters(registry: Registry, agent_id: str, filters: dict[str, Any]) -> None:
    """Store the agent's filters (a SearchFilters dump); follow-up runs search with them."""
    with registry.write() as db:
        db.execute("UPDATE agents SET filters = ?, updated_at = ? WHERE id = ?",
                   (json.dumps(filters), utcnow(), agent_id))


def delete_agent(registry: Registry, agent_id: str) -> None:
    """Delete the agent's row; runs, steps, usage and triggers go with it (ON DELETE CASCADE): call
    `runs.keep_spend` first to keep its usage rows."""
    registry.execute("DELETE FROM agents WHERE id = ?", (agent_id,))
