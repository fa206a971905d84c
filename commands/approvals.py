"""`mia approvals`: see exactly what an agent wants to do outside mia, and say yes or no."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from mia.commands.common import confirm_or_cancel, err_console, open_state, out_console, print_json
from mia.commands.completion import complete_approval

app = typer.Typer(help="Actions that need your approval (e-mail drafts and other effects outside mia).",
                  no_args_is_help=True)


def approval_json(record: Any) -> dict[str, Any]:
    """The stable JSON shape of one approval (documented in the README)."""
    return {"id": record.id, "action": record.action, "agent": record.agent, "status": record.status,
            "summary": record.summary, "reason": record.reason, "payload": record.payload,
            "requested_by": record.requested_by, "after_untrusted_text": bool(record.after_untrusted_text),
            "decision_note": record.decision_note, "created_at": record.created_at, "decided_at": record.decided_at}


def _show(record: Any) -> None:
    console = out_console()
    console.print(f"Approval {record.id} · {record.status} · requested by {record.requested_by}"
                  + (f" for agent {record.agent}" if record.agent else ""), highlight=False)
    if record.after_untrusted_text:
        console.print("! Requested after reading text from the web or a reply: check that it is what "
                      "you want, not what that text asked for.")
    console.print(f"Why: {record.reason}", highlight=False)
    payload = record.payload
    if record.action == "send_email":
        console.print(f"To:      {payload['to']}\nSubject: {payload['subject']}\n", highlight=False, markup=False)
        console.print(payload["body"], highlight=False, markup=False)
    else:
        console.print(f"{record.summary}\n{payload}", highlight=False, markup=False)


@app.command("list")
def list_(include_decided: Annotated[bool, typer.Option("--all", help="Include decided approvals.")] = False,
          json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List pending approvals."""
    from mia.store.approvals import list_approvals

    _, registry = open_state()
    rows = list_approvals(registry, include_decided=include_decided)
    if json_out:
        print_json([approval_json(r) for r in rows])
        return
    if not rows:
        err_console().print("Nothing waits for your approval.")
    for r in rows:
        flag = " [!]" if r.after_untrusted_text else ""
        out_console().print(f"{r.id:>4}  {r.status:<8} {r.summary}{flag}", highlight=False, markup=False)


@app.command("show")
def show(approval_id: Annotated[int, typer.Argument(help="Approval id.", autocompletion=complete_approval)],
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show exactly what would be done, and why the agent wants it."""
    from mia.store.approvals import get

    _, registry = open_state()
    record = get(registry, approval_id)
    if json_out:
        print_json(approval_json(record))
    else:
        _show(record)


def _edit(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
        fh.write(text)
        path = Path(fh.name)
    try:
        result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        if result.returncode != 0:
            from mia.errors import UsageError

            raise UsageError(f"The editor ({editor}) exited with {result.returncode}; nothing was approved.", None)
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)


@app.command("approve")
def approve(approval_id: Annotated[int, typer.Argument(help="Approval id.", autocompletion=complete_approval)],
            edit: Annotated[bool, typer.Option("--edit", help="Edit the message in $EDITOR first.")] = False,
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask again.")] = False) -> None:
    """Approve: shows what will be sent, asks to confirm, then carries it out."""
    import httpx

    from mia.agents.outreach.mail import approve as approve_action
    from mia.errors import UsageError
    from mia.store.approvals import get

    settings, registry = open_state()
    record = get(registry, approval_id)
    if record.status not in ("pending", "approved"):
        raise UsageError(f"Approval {approval_id} was already {record.status}.", None)
    body = _edit(record.payload["body"]) if edit and record.action == "send_email" else None
    if body is not None:
        record = record.model_copy(update={"payload_json": json.dumps({**record.payload, "body": body})})
    _show(record)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("Approving needs a confirmation and there is no terminal to ask on.",
                             f"Read it with `mia approvals show {approval_id}`, then run it again with --yes.")
        confirm_or_cancel("Send it?" if record.action == "send_email" else "Run it?")
    with httpx.Client(timeout=30) as http:
        done = approve_action(settings, registry, approval_id, http=http, body=body)
    err_console().print(f"Approval {approval_id}: {done.status}.")


@app.command("deny")
def deny(approval_id: Annotated[int, typer.Argument(help="Approval id.", autocompletion=complete_approval)],
         reason: Annotated[str, typer.Option("--reason", help="Why not (kept with the approval).")] = "") -> None:
    """Deny: nothing is done, and the reason is recorded."""
    from mia.agents.outreach.mail import deny as deny_action

    settings, registry = open_state()
    deny_action(settings, registry, approval_id, note=reason)
    err_console().print(f"Approval {approval_id}: denied.")
