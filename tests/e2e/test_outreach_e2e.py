"""Expert outreach: nothing is sent without a person's approval; replies are filed and wake the agent."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from fakes.mail_servers import SMTPServer, imap_server, smtp_server

from mia.agents.outreach.mail import draft_email
from mia.settings import load_settings
from mia.store.db import open_registry

from .conftest import Mia

QUESTION = "Could you share when the 52-week results of the FX-101 trial will be published?"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_cli(mia: Mia, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch) -> Mia:
    for name, value in smtp.env().items():
        monkeypatch.setenv(name, value)  # the in-process drafting below sees the same settings
    return Mia({**mia.env, **smtp.env()})


def draft(agent: str | None = None, to: str = "investigator@trials.example.org") -> int:
    settings = load_settings()
    record = draft_email(settings, open_registry(settings.registry_path), agent_ref=agent, to=to,
                         subject="FX-101 52-week results", body=QUESTION, reason="The trial's results are not "
                         "public yet and the report depends on them.", requested_by="test",
                         after_untrusted_text=False)
    return record.id


def test_a_draft_is_not_sent_until_approved_and_a_denied_one_never(mail_cli: Mia, smtp: SMTPServer,
                                                                   mia_home: Path) -> None:
    first, second = draft(), draft()
    listed = json.loads(mail_cli.run("approvals", "list", "--json").stdout)
    assert [(a["id"], a["status"], a["action"]) for a in listed] == [(first, "pending", "send_email"),
                                                                     (second, "pending", "send_email")]
    assert smtp.received == []
    shown = mail_cli.run("approvals", "show", str(first))
    assert "investigator@trials.example.org" in shown.stdout and QUESTION in shown.stdout
    assert "Why: The trial's results are not public yet" in shown.stdout

    denied = mail_cli.run("approvals", "deny", str(second), "--reason", "ask the sponsor instead")
    assert denied.returncode == 0 and smtp.received == []
    refused = mail_cli.run("approvals", "approve", str(first))  # no terminal to confirm on, no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr and smtp.received == []

    sent = mail_cli.run("approvals", "approve", str(first), "--yes")
    assert sent.returncode == 0, sent.stderr
    assert len(smtp.received) == 1
    message = smtp.received[0]
    assert message["To"] == "investigator@trials.example.org" and message["Subject"] == "FX-101 52-week results"
    assert QUESTION in body_of(message) and message["Message-ID"].startswith("<")
    again = mail_cli.run("approvals", "approve", str(second), "--yes")
    assert again.returncode == 2 and "already denied" in again.stderr and len(smtp.received) == 1
    folder = mia_home / "workspace" / "inbox" / "correspondence"
    sent_copies = list(folder.glob("sent-*.eml"))
    assert len(sent_copies) == 1 and message["Message-ID"] in sent_copies[0].read_text()
    drafts = sorted(p.read_text() for p in folder.glob("draft-*.md"))
    assert any("Status: sent" in d for d in drafts) and any("denied: ask the sponsor instead" in d for d in drafts)


def test_approve_with_edit_sends_exactly_the_edited_text(mail_cli: Mia, smtp: SMTPServer, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Dear Dr Rossi,\\n\\nEdited by the person.\\n" > "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    approval = draft()
    result = Mia({**mail_cli.env, "EDITOR": str(editor)}).run("approvals", "approve", str(approval), "--edit",
                                                              "--yes")
    assert result.returncode == 0, result.stderr
    assert "Edited by the person." in result.stdout  # what will be sent is shown before it is sent
    assert body_of(smtp.received[0]).strip() == "Dear Dr Rossi,\n\nEdited by the person."


def test_a_reply_is_filed_and_wakes_the_agent_with_the_reply_as_a_source(mail_cli: Mia, smtp: SMTPServer,
                                                                         mia_home: Path) -> None:
    assert mail_cli.run("research", "DMD treatments", "--depth", "quick", "--sources", "pubmed").returncode == 0
    approval = draft(agent="dmd-treatments")
    assert mail_cli.run("approvals", "approve", str(approval), "--yes").returncode == 0
    sent_id = smtp.received[0]["Message-ID"]
    with imap_server() as imap:
        cli = Mia({**mail_cli.env, **imap.env()})
        imap.deliver(reply_to(sent_id))
        first = cli.run("inbox", "sync", "--json")
        second = cli.run("inbox", "sync", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert [(r["agent"], r["run"]) for r in report["replies"]] == [("dmd-treatments", "done")]
    assert report["ignored"] >= 1  # the mailbox's other mail is not mia's business
    assert json.loads(second.stdout)["replies"] == []
    folder = mia_home / "workspace" / "agents" / "dmd-treatments"
    assert len(list((folder / "correspondence").glob("reply-*.md"))) == 1
    sources = json.loads((folder / "sources.json").read_text())
    reply = [s for s in sources if s["kind"] == "correspondence"]
    assert len(reply) == 1 and "rossi@trials.example.org" in reply[0]["title"] and "Q3 2027" in reply[0]["snippet"]
    assert (folder / "reports" / "v2.md").exists()
    titles = [m["title"] for m in json.loads(cli.run("inbox", "--json").stdout)]
    assert any("reply from rossi@trials.example.org" in t for t in titles)


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")


def reply_to(message_id: str) -> bytes:
    return (f"From: Dr Marco Rossi <rossi@trials.example.org>\r\nTo: ada@lab.example.org\r\n"
            f"Subject: Re: FX-101 52-week results\r\nMessage-ID: <reply-1@trials.example.org>\r\n"
            f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\n"
            f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\n"
            "Thanks for asking. The 52-week results are planned for publication in Q3 2027.\r\n").encode()
