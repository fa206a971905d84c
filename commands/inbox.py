"""`mia inbox`: what agents found worth telling you."""

from __future__ import annotations

from typing import Annotated

import typer

from mia.commands.common import err_console, open_state, out_console, print_json

app = typer.Typer(help="Notifications from agents: material changes found by triggers.")


@app.callback(invoke_without_command=True)
def inbox(ctx: typer.Context,
          include_read: Annotated[bool, typer.Option("--all", help="Include entries already read.")] = False,
          json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List unread notifications (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    from mia.store.inbox import list_messages

    _, registry = open_state()
    rows = list_messages(registry, include_read=include_read)
    if json_out:
        print_json(rows)
        return
    if not rows:
        err_console().print("Inbox is empty.")
        return
    console = out_console()
    for r in rows:
        mark = " " if r["read_at"] else "•"
        console.print(f"{mark} [{r['id']}] {r['created_at'][:16]}  {r['title']}", highlight=False)
        if r["path"]:
            console.print(f"      {r['path']}", highlight=False)


@app.command("read")
def read(ids: Annotated[list[int] | None, typer.Argument(help="Entry ids (default: all unread).")] = None) -> None:
    """Mark entries as read."""
    from mia.errors import NotFoundError
    from mia.store.inbox import mark_read

    _, registry = open_state()
    if ids:
        known = {row["id"] for row in registry.query(
            f"SELECT id FROM inbox WHERE id IN ({','.join('?' for _ in ids)})", tuple(ids))}
        missing = [i for i in ids if i not in known]
        if missing:
            raise NotFoundError(f"No inbox entr{'y' if len(missing) == 1 else 'ies'} with id "
                                f"{', '.join(map(str, missing))}; nothing was marked.",
                                "`mia inbox --all` lists the entries with their ids.")
    n = mark_read(registry, ids or None)
    err_console().print(f"Marked {n} entr{'y' if n == 1 else 'ies'} as read.")


@app.command("sync")
def sync(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Read the IMAP mailbox: file replies to mia's mail with their agent and wake it."""
    import httpx

    from mia.agents.outreach.replies import sync_replies

    settings, registry = open_state()
    with httpx.Client(timeout=httpx.Timeout(settings.llm.timeout, connect=10.0)) as http:
        report = sync_replies(settings, registry, http=http, on_event=lambda kind, data: None)
    if json_out:
        print_json({"checked": report.checked, "replies": report.replies, "ignored": report.ignored})
        return
    console = err_console()
    console.print(f"Checked {report.checked} new message(s): {len(report.replies)} repl(y/ies) filed.")
    for reply in report.replies:
        console.print(f"  {reply['agent'] or '-'}: reply from {reply['from']} → {reply['run'] or 'filed'}")
