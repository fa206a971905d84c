"""The inbox: what agents want the person to know (material changes, finished background work)."""

from __future__ import annotations

from typing import Any

from mia.store.db import Registry, utcnow


def add_message(registry: Registry, *, agent_id: str | None, run_id: str | None, title: str, body: str,
                path: str | None = None) -> int:
    """Store one inbox entry; a second entry for the same run is not added twice."""
    with registry.write() as db:
        if run_id and registry.one("SELECT id FROM inbox WHERE run_id = ?", (run_id,)):
            return int((registry.one("SELECT id FROM inbox WHERE run_id = ?", (run_id,)) or {"id": 0})["id"])
        cursor = db.execute(
            "INSERT INTO inbox (agent_id, run_id, title, body, path, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (agent_id, run_id, title, body, path, utcnow()))
        return int(cursor.lastrowid or 0)


def list_messages(registry: Registry, *, include_read: bool = False) -> list[dict[str, Any]]:
    where = "" if include_read else "WHERE i.read_at IS NULL"
    return registry.query(
        "SELECT i.id, a.slug AS agent, i.run_id, i.title, i.body, i.path, i.created_at, i.read_at "
        f"FROM inbox i LEFT JOIN agents a ON a.id = i.agent_id {where} ORDER BY i.id DESC")


def mark_read(registry: Registry, ids: list[int] | None = None) -> int:
    """Mark the given entries (or all unread) as read; returns how many changed."""
    if ids:
        marks = ",".join("?" for _ in ids)
        cursor = registry.execute(f"UPDATE inbox SET read_at = ? WHERE read_at IS NULL AND id IN ({marks})",
                                  (utcnow(), *ids))
    else:
        cursor = registry.execute("UPDATE inbox SET read_at = ? WHERE read_at IS NULL", (utcnow(),))
    return cursor.rowcount
