"""Expert outreach: drafts that wait for a person's approval, mail that is sent only then, and replies
that wake the agent. Nothing leaves mia without an approval, and no text from the web or from a reply
can approve anything: only `approve()`, called by a person's command, does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mia.agents.outreach.actions import ActionContext, register_action
from mia.agents.outreach.actions import approve as approve_action
from mia.errors import UsageError
from mia.files import write_atomic
from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store import approvals
from mia.store.db import Registry, utcnow
from mia.store.workspace import Workspace, slugify
from mia.tools.mail import OutgoingMail, build_sender, from_address, new_message_id

MESSAGE_ALIAS = "mail.alias:"  # state key prefix: a Message-ID the provider gave a sent mail -> mia's own

EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
MAX_BODY = 20_000


def file_stem(kind: str, message_id: str, label: str) -> str:
    """A unique, readable file name: kind, time, a hash of the Message-ID, and a label."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:6]
    return f"{kind}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{digest}-{slugify(label)[:40]}"


def correspondence_dir(settings: Settings, slug: str | None) -> Path:
    workspace = Workspace(settings.workspace_root)
    return (workspace.agent_dir(slug) if slug else workspace.resolve("inbox")) / "correspondence"


def check_draft(to: str, subject: str, body: str) -> None:
    if not EMAIL_RE.match(to.strip()):
        raise UsageError(f"'{to}' is not an e-mail address.", "Give one address, e.g. investigator@example.org.")
    if not subject.strip() or "\n" in subject:
        raise UsageError("The subject is empty or spans several lines.", "Give a one-line subject.")
    if not body.strip() or len(body) > MAX_BODY:
        raise UsageError(f"The body must have between 1 and {MAX_BODY:,} characters.", None)


def render_draft(payload: dict[str, Any], status: str) -> str:
    return (f"To: {payload['to']}\nSubject: {payload['subject']}\nMessage-ID: {payload['message_id']}\n"
            f"Status: {status}\nWhy: {payload['reason']}\n\n{payload['body']}\n")


def draft_email(settings: Settings, registry: Registry, *, agent_ref: str | None, to: str, subject: str,
                body: str, reason: str, requested_by: str, after_untrusted_text: bool) -> approvals.ApprovalRecord:
    """Write the draft into the agent's correspondence/ and ask for approval; it never sends itself."""
    check_draft(to, subject, body)
    agent = agent_store.get_agent(registry, agent_ref) if agent_ref else None
    message_id = new_message_id(settings.mail.from_address or "mia@mia.local")
    folder = correspondence_dir(settings, agent.slug if agent else None)
    path = folder / f"{file_stem('draft', message_id, subject)}.md"
    payload = {"to": to.strip(), "subject": subject.strip(), "body": body, "reason": reason.strip(),
               "message_id": message_id, "draft_path": str(path), "agent": agent.slug if agent else None}
    write_atomic(path, render_draft(payload, "waiting for approval"))
    return approvals.request(
        registry, action="send_email", agent_id=agent.id if agent else None,
        summary=f"Send an e-mail to {payload['to']}: \u201c{payload['subject']}\u201d", reason=reason.strip(),
        payload=payload, requested_by=requested_by, after_untrusted_text=after_untrusted_text)


def _send_email(ctx: ActionContext, record: approvals.ApprovalRecord) -> dict[str, Any]:
    """Send an approved draft once: a message already recorded as sent is not sent again."""
    payload = record.payload
    if ctx.registry.one("SELECT 1 AS x FROM mail_messages WHERE message_id = ?", (payload["message_id"],)):
        return {"message_id": payload["message_id"], "already_sent": True}
    mail = OutgoingMail(from_address(ctx.settings), payload["to"], payload["subject"], payload["body"],
                        payload["message_id"])
    delivered_as = build_sender(ctx.settings, ctx.http).send(mail)
    folder = correspondence_dir(ctx.settings, payload.get("agent"))
    sent = folder / f"{file_stem('sent', mail.message_id, payload['subject'])}.eml"
    write_atomic(sent, mail.to_email().as_bytes())
    write_atomic(Path(payload["draft_path"]), render_draft(payload, f"sent {utcnow()}"))
    ctx.registry.execute(
        "INSERT INTO mail_messages (message_id, direction, agent_id, approval_id, counterpart, subject, path, "
        "created_at) VALUES (?, 'out', ?, ?, ?, ?, ?, ?)",
        (mail.message_id, record.agent_id, record.id, mail.to, mail.subject, str(sent), utcnow()))
    if delivered_as != mail.message_id:  # the provider gave the mail its own Message-ID: replies may cite either
        ctx.registry.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                             (MESSAGE_ALIAS + delivered_as, mail.message_id))
    return {"message_id": mail.message_id, "path": str(sent),
            **({"delivered_as": delivered_as} if delivered_as != mail.message_id else {})}


register_action("send_email", _send_email)


def approve(settings: Settings, registry: Registry, approval_id: int, *, http: httpx.Client,
            body: str | None = None) -> approvals.ApprovalRecord:
    """A person approved an e-mail (optionally with an edited body): send it, once."""
    record = approvals.get(registry, approval_id)
    payload = None
    if body is not None and record.action == "send_email":
        payload = record.payload
        check_draft(payload["to"], payload["subject"], body)
        payload["body"] = body
    return approve_action(settings, registry, approval_id, http=http, payload=payload)


def deny(settings: Settings, registry: Registry, approval_id: int, *, note: str) -> approvals.ApprovalRecord:
    """A person said no: recorded with the reason; the draft says so."""
    record = approvals.decide(registry, approval_id, status="denied", note=note or "denied")
    payload = record.payload
    if record.action == "send_email" and payload.get("draft_path"):
        write_atomic(Path(payload["draft_path"]), render_draft(payload, f"denied: {note or 'no reason given'}"))
    return record


@dataclass
class ReplySync:
    """What `mia inbox sync` found."""

    checked: int = 0
    replies: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0
