"""`mia doctor`: is everything the research agent needs in place?"""

from __future__ import annotations

from typing import Annotated

import typer

from mia.commands.common import print_json

ICON = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]", "skip": "[dim]-[/dim]"}


def doctor(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check settings, the registry and each service; exit 1 when the main job is missing something."""
    import httpx

    from mia.commands.common import load_settings
    from mia.store.db import open_registry
    from mia.tools.health import Check, offline, run_checks

    settings = load_settings()
    checks: list[Check] = []
    try:
        open_registry(settings.registry_path).close()
        checks.append(Check("Registry", "ok", str(settings.registry_path)))
    except Exception as exc:  # the doctor reports; it does not crash
        checks.append(Check("Registry", "fail", str(exc), "Point MIA_HOME at a writable folder."))
    with httpx.Client(timeout=httpx.Timeout(8.0, connect=4.0)) as http:
        checks += run_checks(settings, http)
    is_offline = offline(checks)
    failed = any(c.status == "fail" for c in checks)
    if json_out:
        print_json({"ok": not failed, "offline": is_offline,
                    "checks": [{"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix}
                               for c in checks]})
    else:
        from rich.table import Table

        from mia.commands.common import out_console

        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("check", "status", "detail", "fix"):
            table.add_column(column, overflow="fold")
        for c in checks:
            table.add_row(c.name, ICON[c.status], c.detail, c.fix)
        console = out_console()
        console.print(table)
        if is_offline:
            console.print("[yellow]No service could be reached: this machine looks offline.[/yellow] "
                          "Local commands (agents, usage, config) still work.")
    if failed:
        raise typer.Exit(1)
