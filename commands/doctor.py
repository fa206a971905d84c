"""`mia doctor`: is everything the research agent needs in place?"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mia.commands.common import print_json

STYLE = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red"), "skip": ("-", "dim")}


def doctor(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check settings, the registry and each service; exit 1 when the main job is missing something."""
    import httpx

    from mia.commands.common import load_settings
    from mia.store.db import open_registry
    from mia.tools.health import Check, offline, run_checks
    from mia.tools.mcp_client import mcp_server_checks

    settings = load_settings()
    checks: list[Check] = []
    try:
        open_registry(settings.registry_path).close()
        checks.append(Check("Registry", "ok", str(settings.registry_path)))
    except Exception as exc:  # the doctor reports; it does not crash
        checks.append(Check("Registry", "fail", str(exc), "Point MIA_HOME at a writable folder."))
    with httpx.Client(timeout=httpx.Timeout(8.0, connect=4.0)) as http:
        services = run_checks(settings, http, extra=mcp_server_checks(settings))
    llm_service = services[0]  # the LLM's reachability comes first; the model checks follow it when it answered
    checks += [llm_service, *_model_checks(settings, llm_service), *services[1:]]
    is_offline = offline(checks)
    failed = any(c.status == "fail" for c in checks)
    if json_out:
        print_json({"ok": not failed, "offline": is_offline,
                    "checks": [{"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix}
                               for c in checks]})
    else:
        from rich.text import Text

        from mia.commands.common import out_console

        console = out_console()
        for c in checks:
            label, style = STYLE[c.status]
            console.print(Text.assemble((f"{label:>4}", style), "  ", (c.name, "bold"), f": {c.detail}"))
            if c.fix and c.status != "ok":
                console.print(Text(f"      fix: {c.fix}"))
        if is_offline:
            console.print("No service could be reached: this machine looks offline. "
                          "Local commands (agents, usage, config) still work.")
    if failed:
        raise typer.Exit(1)


def _model_checks(settings: Any, llm_service: Any) -> list[Any]:
    """The configured model's checks (exists, context, JSON output) when its service answered."""
    if llm_service.status != "ok":
        return []
    import httpx

    from mia.agents.llm.health import llm_checks

    with httpx.Client(timeout=httpx.Timeout(settings.llm.timeout, connect=4.0)) as http:
        return llm_checks(settings, http)
