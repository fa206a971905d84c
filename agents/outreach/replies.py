"""`mia inbox sync`: replies to sent outreach mail are filed with their agent and wake it."""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

import httpx

from mia.agents.outreach.mail import MESSAGE_ALIAS, ReplySync, correspondence_dir, file_stem
from mia.agents.research.followup import follow_up_research
from mia.agents.research.pipeline import EventSink
from mia.errors import MiaError
from mia.files import write_atomic
from mia.settings import Settings
from mia.store import inbox
from mia.store.db import Registry, utcnow
from mia.tools.mail import fetch_new

MAX_REPLY_CHARS = 20_000
MSGID_RE = re.compile(r"<[^<>\s]+>")


def _state_key(settings: Settings) -> str:
    return f"imap-last-uid:{settings.imap.user}@{settings.imap.host}:{settings.imap.port}/{settings.imap.mailbox}"


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if part is not None else ""
    return str(text)[:MAX_REPLY_CHARS]


def reply_source(message: EmailMessage, reply_id: str, text: str) -> dict[str, Any]:
    """The reply as a source the follow-up run may cite (kind: correspondence)."""
    sender = parseaddr(str(message.get("From", "")))[1] or "unknown sender"
    try:
        date = parsedate_to_datetime(str(message["Date"])).astimezone(UTC).date().isoformat()
    except (TypeError, ValueError):
        date = datetime.now(UTC).date().isoformat()
    return {"kind": "correspondence", "url": f"mid:{reply_id.strip('<>')}", "identifier": reply_id,
            "title": f"Reply from {sender}: {message.get('Subject', '(no subject)')}", "date": date,
            "snippet": text[:1200]}


def sync_replies(settings: Settings, registry: Registry, *, http: httpx.Client, on_event: EventSink) -> ReplySync:
    """Read new mail, file the replies to mia's own messages, and run each agent's follow-up once."""
    key = _state_key(settings)
    row = registry.one("SELECT value FROM state WHERE key = ?", (key,))
    messages = fetch_new(settings, int(row["value"]) if row else 0)
    report = ReplySync(checked=len(messages))
    for uid, raw in messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        handled = _file_reply(settings, registry, message, uid, http=http, on_event=on_event)
        if handled:
            report.replies.append(handled)
        else:
            report.ignored += 1
        registry.execute("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                         "value = excluded.value", (key, str(uid)))
    return report


def _own_ids(registry: Registry, refs: list[str]) -> list[str]:
    """mia's Message-IDs for refs that are the ids a mail provider (Resend) gave mail it sent for mia."""
    marks = ",".join("?" for _ in refs)
    rows = registry.query(f"SELECT value FROM state WHERE key IN ({marks})", tuple(MESSAGE_ALIAS + r for r in refs))
    return [str(row["value"]) for row in rows]


def _file_reply(settings: Settings, registry: Registry, message: EmailMessage, uid: int, *, http: httpx.Client,
                on_event: EventSink) -> dict[str, Any] | None:
    refs = MSGID_RE.findall(f"{message.get('In-Reply-To', '')} {message.get('References', '')}")
    if not refs:
        return None
    refs += _own_ids(registry, refs)
    marks = ",".join("?" for _ in refs)
    sent = registry.one(f"SELECT m.*, a.slug FROM mail_messages m LEFT JOIN agents a ON a.id = m.agent_id "
                        f"WHERE m.direction = 'out' AND m.message_id IN ({marks})", tuple(refs))
    if sent is None:
        return None  # not a reply to anything mia sent
    reply_id = str(message.get("Message-ID") or f"<imap-{uid}@{settings.imap.host}>").strip()
    run_id = "reply-" + hashlib.sha256(reply_id.encode()).hexdigest()[:16]
    sender = parseaddr(str(message.get("From", "")))[1] or "unknown sender"
    if not registry.one("SELECT 1 AS x FROM mail_messages WHERE message_id = ?", (reply_id,)):
        folder = correspondence_dir(settings, sent["slug"])
        stem = file_stem("reply", reply_id, sender)
        write_atomic(folder / f"{stem}.eml", message.as_bytes())
        write_atomic(folder / f"{stem}.md", f"From: {sender}\nSubject: {message.get('Subject', '')}\n"
                                            f"In-Reply-To: {sent['message_id']}\n\n{_text_of(message)}\n")
        registry.execute(
            "INSERT INTO mail_messages (message_id, direction, agent_id, in_reply_to, counterpart, subject, path, "
            "run_id, created_at) VALUES (?, 'in', ?, ?, ?, ?, ?, ?, ?)",
            (reply_id, sent["agent_id"], sent["message_id"], sender, str(message.get("Subject", "")),
             str(folder / f"{stem}.eml"), run_id if sent["agent_id"] else None, utcnow()))
        inbox.add_message(registry, agent_id=sent["agent_id"], run_id=None,
                          title=f"{sent['slug'] or 'mia'}: reply from {sender} to \u201c{sent['subject']}\u201d",
                          body=_text_of(message)[:500], path=str(folder / f"{stem}.md"))
    outcome = _wake(settings, registry, sent, message, reply_id, run_id, http=http, on_event=on_event)
    return {"from": sender, "subject": str(message.get("Subject", "")), "agent": sent["slug"], "run": outcome}


def _wake(settings: Settings, registry: Registry, sent: dict[str, Any], message: EmailMessage, reply_id: str,
          run_id: str, *, http: httpx.Client, on_event: EventSink) -> str | None:
    """The agent's follow-up run that takes the reply into account (once: its run id comes from the reply)."""
    if not sent["agent_id"] or registry.one("SELECT 1 AS x FROM runs WHERE id = ?", (run_id,)):
        return None
    source = reply_source(message, reply_id, _text_of(message))
    instruction = (f"Take into account the reply from {source['title'].removeprefix('Reply from ')} "
                   f"to our question \u201c{sent['subject']}\u201d.")
    try:
        result = follow_up_research(settings, registry, sent["agent_id"], instruction=instruction, http=http,
                                    on_event=on_event, run_id=run_id, force_report=True, extra_sources=[source])
    except MiaError as exc:
        return f"failed: {exc.message}"
    return str(result.status)
