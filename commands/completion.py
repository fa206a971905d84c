"""Shell completion of agent names, trigger ids and approval ids (`mia --install-completion`).

Each function runs only when the shell asks for completions, so its imports stay inside it and
`mia --help` pays nothing. The registry is only read, never created, and any failure completes nothing.
"""

from __future__ import annotations

from typing import Any

MAX_HELP = 60


def _rows(sql: str) -> list[dict[str, Any]]:
    """Rows of a read-only query on the registry; [] when there is none yet or it cannot be read."""
    try:
        import sqlite3

        from mia.settings import load_settings

        path = load_settings({}).registry_path
        if not path.exists():
            return []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql)]
    except Exception:  # a completion must never print a traceback into the shell
        return []


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= MAX_HELP else text[: MAX_HELP - 1] + "…"


def complete_agent(incomplete: str) -> list[tuple[str, str]]:
    """Agent names starting with what was typed, each with its question."""
    rows = _rows("SELECT slug, question FROM agents ORDER BY slug")
    return [(r["slug"], _short(r["question"])) for r in rows if r["slug"].startswith(incomplete)]


def complete_trigger(incomplete: str) -> list[tuple[str, str]]:
    """Trigger ids starting with what was typed, each with its agent and schedule."""
    rows = _rows("SELECT t.id, a.slug, t.kind, t.spec, t.instruction FROM triggers t "
                 "LEFT JOIN agents a ON a.id = t.agent_id ORDER BY t.id")
    return [(str(r["id"]), _short(f"{r['slug']} · {r['kind']} {r['spec']}" +
                                  (f" · {r['instruction']}" if r["instruction"] else "")))
            for r in rows if str(r["id"]).startswith(incomplete)]


def complete_approval(incomplete: str) -> list[tuple[str, str]]:
    """Approval ids starting with what was typed, pending ones first, each with its summary."""
    rows = _rows("SELECT id, status, summary FROM approvals ORDER BY status != 'pending', id DESC")
    return [(str(r["id"]), _short(f"{r['status']} · {r['summary']}")) for r in rows
            if str(r["id"]).startswith(incomplete)]
