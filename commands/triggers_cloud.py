"""`mia triggers deploy|undeploy|status|import-cloud-runs`: triggers that run in Cloudflare Workflows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from mia.commands.common import err_console, open_state, out_console, print_json
from mia.commands.completion import complete_agent

AgentsArg = Annotated[list[str] | None, typer.Argument(help="Agent names or ids (default: every agent).",
                                                       autocompletion=complete_agent)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def cloudflare_api(settings: Any) -> Any:
    """A Cloudflare API client for the configured account (its settings are checked first)."""
    import httpx

    from mia.tools.cloudflare import CloudflareAPI, require_cloud_settings

    require_cloud_settings(settings)
    http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
    return CloudflareAPI.from_settings(settings, http)


def _print_changes(report: Any, verb: str) -> None:
    console = err_console()
    if report.uploaded:
        console.print(f"Uploaded the Worker '{report.script}' and registered the Workflow '{report.workflow}'.")
    for change in report.triggers:
        detail = f" → {change.instance}" if change.instance else ""
        if change.horizon:
            detail += f" (planned until {change.horizon})"
        if change.terminated:
            detail += f"; terminated {len(change.terminated)} instance(s)"
        console.print(f"trigger {change.trigger_id} ({change.agent}): {change.action}{detail}", highlight=False)
    if report.deleted:
        console.print(f"Deleted the Workflow '{report.workflow}' and the Worker '{report.script}'.")
    if not report.triggers and not report.uploaded and not report.deleted:
        console.print(f"Nothing to {verb}: the cloud is up to date.")


def _change(verb: str, agents: list[str] | None, json_out: bool) -> None:
    """Deploy or undeploy through the Cloudflare API, then print what changed."""
    from mia.agents.cloud import deploy as cloud_deploy

    settings, registry = open_state()
    api = cloudflare_api(settings)
    with api.http:
        report = getattr(cloud_deploy, verb)(settings, registry, api, agents=agents or [])
    if json_out:
        print_json(asdict(report))
        return
    _print_changes(report, verb)


def deploy(agents: AgentsArg = None, json_out: JsonOpt = False) -> None:
    """Run agents' triggers in Cloudflare Workflows (idempotent; local `triggers run` then skips them)."""
    _change("deploy", agents, json_out)


def undeploy(agents: AgentsArg = None, json_out: JsonOpt = False) -> None:
    """Stop agents' cloud triggers (terminate their instances) and hand them back to local cron."""
    _change("undeploy", agents, json_out)


def status(remote: Annotated[bool, typer.Option("--remote", help="Ask Cloudflare for each instance's state.")] = False,
           json_out: JsonOpt = False) -> None:
    """Show deployed triggers; with --remote, their Workflow instances' states and last errors."""
    from mia.agents.cloud.deploy import WORKFLOW_NAME, remote_status
    from mia.store.cloud import get_deployment, list_cloud_triggers

    settings, registry = open_state()
    deployment = get_deployment(registry, WORKFLOW_NAME)
    if remote:
        api = cloudflare_api(settings)
        with api.http:
            rows = remote_status(registry, api)
    else:
        rows = [{"trigger_id": r.trigger_id, "agent": r.agent, "workflow": r.workflow, "horizon": r.horizon,
                 "instance_prefix": r.id_prefix, "deployed_at": r.deployed_at} for r in list_cloud_triggers(registry)]
    data = {"workflow": WORKFLOW_NAME, "script": deployment.script if deployment else None,
            "deployed": deployment is not None, "triggers": rows}
    if json_out:
        print_json(data)
        return
    if not rows:
        err_console().print("No trigger is deployed. Deploy with: mia triggers deploy [AGENT...]")
        return
    console = out_console()
    for row in rows:
        orphaned = " · trigger removed locally" if row.get("orphaned") else ""
        plan = f"planned until {row['horizon']}" if row["horizon"] else "repeats with no end date"
        console.print(f"trigger {row['trigger_id']} · {row['agent']} · {plan}{orphaned}", highlight=False)
        for inst in row.get("instances", []):
            error = f" · {inst['error']}" if inst["error"] else ""
            console.print(f"  {inst['role']:4} {inst['slot']}  {inst['status']}{error}  ({inst['id']})",
                          highlight=False)


def import_cloud_runs(json_out: JsonOpt = False) -> None:
    """Record cloud runs found in the workspace (after `mia sync pull`) in the registry and the inbox."""
    from mia.agents.cloud.runs import record_cloud_runs

    settings, registry = open_state()
    recorded = record_cloud_runs(settings, registry)
    if json_out:
        print_json([asdict(r) for r in recorded])
        return
    for r in recorded:
        err_console().print(f"{r.agent}: cloud run {r.run_id} → {r.outcome}" + (" (inbox)" if r.notified else ""),
                            highlight=False)
    if not recorded:
        err_console().print("No new cloud runs in the workspace.")
