"""Conversations with the Interaction Agent: every message (user, assistant, tool, event) and their cost."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel

from mia.errors import NotFoundError
from mia.models import Usage
from mia.store.db import Registry, utcnow

DEFAULT_TITLE = "New conversation"
TITLE_CHARS = 60
ROLES = ("user", "assistant", "tool", "event")


class ConversationRecord(BaseModel):
    """One row of `conversations`."""

    id: str
    title: str
    created_at: str
    updated_at: str


class MessageRecord(BaseModel):
    """One row of `messages`; `tool_calls_json` holds an assistant's calls or a tool result's call."""

    id: int
    conversation_id: str
    role: str
    content: str
    tool_calls_json: str | None = None
    created_at: str

    @property
    def tool_calls(self) -> Any:
        """The decoded `tool_calls_json` (a list for assistant messages, a dict for tool results), or None."""
        return json.loads(self.tool_calls_json) if self.tool_calls_json else None


def new_conversation(title: str = DEFAULT_TITLE) -> ConversationRecord:
    """A conversation that is not saved yet: its row is written with its first message (see add_message)."""
    now = utcnow()
    return ConversationRecord(id=uuid.uuid4().hex[:12], title=title, created_at=now, updated_at=now)


def create_conversation(registry: Registry, title: str = DEFAULT_TITLE) -> ConversationRecord:
    """Start a new, empty conversation and save it at once."""
    record = new_conversation(title)
    with registry.write() as db:
        db.table("conversations").insert(record.model_dump())
    return record


def get_conversation(registry: Registry, ref: str) -> ConversationRecord:
    """A conversation by id (a unique prefix of at least 4 characters works too)."""
    row = registry.one("SELECT * FROM conversations WHERE id = ?", (ref,))
    if row is None:
        row = registry.by_id_prefix("conversations", ref)
    if row is None:
        raise NotFoundError(f"No conversation '{ref}'.", "List conversations with `mia chat --list`.")
    return ConversationRecord.model_validate(row)


def latest_conversation(registry: Registry) -> ConversationRecord | None:
    """The conversation with messages that was updated most recently, if any."""
    row = registry.one("SELECT * FROM conversations c WHERE EXISTS (SELECT 1 FROM messages m WHERE "
                       "m.conversation_id = c.id) ORDER BY updated_at DESC, rowid DESC LIMIT 1")
    return ConversationRecord.model_validate(row) if row else None


def list_conversations(registry: Registry) -> list[dict[str, Any]]:
    """Every conversation that has messages, newest first, with its message count."""
    return registry.query(
        "SELECT * FROM (SELECT c.id, c.title, c.created_at, c.updated_at, c.rowid AS seq, "
        "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS messages "
        "FROM conversations c) WHERE messages > 0 ORDER BY updated_at DESC, seq DESC")


def add_message(registry: Registry, conversation_id: str, role: str, content: str, *,
                tool_calls: Any = None) -> MessageRecord:
    """Append a message; the first user message also names an untitled conversation."""
    if role not in ROLES:
        raise ValueError(f"unknown message role {role!r}")
    now = utcnow()
    row: dict[str, Any] = {"conversation_id": conversation_id, "role": role, "content": content,
                           "tool_calls_json": None if tool_calls is None else json.dumps(tool_calls),
                           "created_at": now}
    with registry.write() as db:
        db.execute("INSERT OR IGNORE INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                   (conversation_id, DEFAULT_TITLE, now, now))  # a new conversation is saved with its first message
        cursor = db.execute(
            "INSERT INTO messages (conversation_id, role, content, tool_calls_json, created_at) "
            "VALUES (?, ?, ?, ?, ?)", tuple(row.values()))
        row["id"] = cursor.lastrowid
        db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        if role == "user":
            db.execute("UPDATE conversations SET title = ? WHERE id = ? AND title = ?",
                       (title_for(content), conversation_id, DEFAULT_TITLE))
    return MessageRecord.model_validate(row)


def title_for(text: str) -> str:
    """A one-line title from the first thing the person said."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1].rstrip() + "…"


def messages(registry: Registry, conversation_id: str, *, limit: int | None = None,
             after_id: int = 0) -> list[MessageRecord]:
    """A conversation's messages in order: all of them, the last `limit`, or those after `after_id`."""
    sql = "SELECT * FROM messages WHERE conversation_id = ? AND id > ? ORDER BY id DESC"
    params: tuple[Any, ...] = (conversation_id, after_id)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    rows = registry.query(sql, params)
    return [MessageRecord.model_validate(r) for r in reversed(rows)]


def message_count(registry: Registry, conversation_id: str) -> int:
    """How many messages a conversation holds."""
    row = registry.one("SELECT COUNT(*) AS n FROM messages WHERE conversation_id = ?", (conversation_id,))
    return int((row or {"n": 0})["n"])


def has_tool_results(registry: Registry, conversation_id: str) -> bool:
    """Whether text returned by tools (the web, reports, files) is already part of this conversation."""
    return registry.one("SELECT 1 AS x FROM messages WHERE conversation_id = ? AND role = 'tool' LIMIT 1",
                        (conversation_id,)) is not None


def record_usage(registry: Registry, usage: Usage, *, conversation_id: str) -> None:
    """Record what one of the conversation's remote calls cost (no agent, no run)."""
    now = utcnow()
    row = {**usage.model_dump(), "run_id": None, "agent_id": None, "step_key": None,
           "conversation_id": conversation_id, "created_at": now}
    with registry.write() as db:
        db.execute("INSERT OR IGNORE INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                   (conversation_id, DEFAULT_TITLE, now, now))
        db.table("usage").insert(row)


def conversation_spend(registry: Registry, conversation_id: str) -> dict[str, float]:
    """Tokens and dollars a conversation's own calls cost so far."""
    row = registry.one(
        "SELECT COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens, "
        "COALESCE(SUM(cost_usd), 0) AS cost_usd FROM usage WHERE conversation_id = ?", (conversation_id,)) or {}
    return {k: float(v) for k, v in row.items()}
