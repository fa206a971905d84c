"""`mia agents`: list, show, delete and resume research agents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mia.commands.common import confirm_or_cancel, err_console, make_table, open_state, out_console, print_json
from mia.commands.completion import complete_agent

if TYPE_CHECKING:
    from mia.settings import Settings
    from mia.store.agents import AgentRecord
    from mia.store.db import Registry

app = typer.Typer(help="List, inspect, resume, run again and delete research agents.", no_args_is_help=True)


def agent_json(settings: Settings, registry: Registry, agent: AgentRecord,
               interrupted: set[str] | None = None) -> dict[str, Any]:
    """The stable JSON shape of one agent (documented in the README)."""
    from mia.store.agents import interrupted_ids, shown_status
    from mia.store.workspace import Workspace

    interrupted = interrupted_ids(registry) if interrupted is None else interrupted

    spend = registry.one("SELECT COALESCE(SUM(cost_usd), 0) AS cost FROM usage WHERE agent_id = ?", (agent.id,))
    report = Workspace(settings.workspace_root).agent_dir(agent.slug) / "report.md"
    return {
        "id": agent.id, "name": agent.slug, "question": agent.question,
        "status": shown_status(agent.status, agent.id, interrupted),
        "sources": agent.source_list, "depth": agent.depth, "model": agent.model or None,
        "budget_usd": agent.budget_usd, "cost_usd": round(float((spend or {"cost": 0})["cost"]), 6),
        "report_version": agent.report_version, "report_path": str(report) if report.exists() else None,
        "last_run_id": agent.last_run_id, "last_run_at": agent.last_run_at, "created_at": agent.created_at,
    }


@app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List research agents with their status and cost."""
    from mia.store.agents import interrupted_ids, list_agents

    settings, registry = open_state()
    interrupted = interrupted_ids(registry)
    rows = [agent_json(settings, registry, a, interrupted) for a in list_agents(registry)]
    if json_out:
        print_json(rows)
        return
    if not rows:
        err_console().print('No research agents yet. Start one with: mia research "DMD treatments"')
        return
    out_console().print(make_table(
        ("name", "status", "report", "cost", "last run", "question"),
        ((r["name"], r["status"], f"v{r['report_version']}" if r["report_version"] else "-", f"${r['cost_usd']:.4f}",
          (r["last_run_at"] or "-")[:16].replace("T", " "), r["question"][:60]) for r in rows),
        keep=("name", "status", "last run")))


@app.command("show")
def show(agent: Annotated[str, typer.Argument(help="Agent name or id.", autocompletion=complete_agent)],
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show one agent: its question, status, runs, and where its report is."""
    from mia.agents.research.service import STATUS_BY_OUTCOME
    from mia.money import usd
    from mia.store.agents import get_agent

    settings, registry = open_state()
    record = get_agent(registry, agent)
    data = agent_json(settings, registry, record)
    runs = registry.query(
        "SELECT r.id, r.status, r.stage, r.outcome, r.origin, r.error, r.created_at, r.finished_at, "
        "ROUND(COALESCE((SELECT SUM(cost_usd) FROM usage u WHERE u.run_id = r.id), 0), 6) AS cost_usd "
        "FROM runs r WHERE r.agent_id = ? ORDER BY r.created_at", (record.id,))
    data["runs"] = runs
    from mia.agents.research.documents import library_of

    data["files"] = library_of(settings, record).entries()
    if json_out:
        print_json(data)
        return
    console = out_console()
    console.print(f"{data['name']}  ({data['id']})  status: {data['status']}")
    console.print(f"question: {data['question']}")
    console.print(f"sources: {', '.join(data['sources'])} · depth {data['depth']} · budget {usd(data['budget_usd'])}"
                  f" · spent {usd(data['cost_usd'])}")
    console.print(f"report: {data['report_path'] or '(none yet)'}")
    for entry in data["files"]:
        parts = "page(s)" if entry["kind"] == "pdf" else "section(s)"
        size = f"{entry['bytes'] / 1e6:.1f} MB" if entry["bytes"] >= 1e6 else f"{max(entry['bytes'] // 1000, 1)} kB"
        console.print(f"  file {entry['name']} · {entry['pages']} {parts} · {size} · added {entry['added_at'][:10]}")
    for run in runs:
        error = f" · error: {run['error']}" if run["error"] else ""
        outcome = STATUS_BY_OUTCOME.get(run["outcome"], run["outcome"]) if run["outcome"] else None
        console.print(f"  run {run['id']} · {run['status']} ({outcome or run['stage'] or '-'}) · "
                      f"{run['created_at'][:16]} · ${run['cost_usd']:.4f}{error}")


@app.command("delete")
def delete(agent: Annotated[str, typer.Argument(help="Agent name or id.", autocompletion=complete_agent)],
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
           remote: Annotated[bool, typer.Option("--remote", help="Also delete its copy in R2.")] = False) -> None:
    """Delete an agent: its registry rows and its workspace folder (and with --remote, its R2 objects)."""
    from mia.store.agents import delete_agent, get_agent
    from mia.store.runs import keep_spend
    from mia.store.workspace import Workspace

    settings, registry = open_state()
    record = get_agent(registry, agent)
    if not yes:
        where = " and its copy in R2" if remote else ""
        confirm_or_cancel(f"Delete agent '{record.slug}' and its folder of reports{where}?")
    if remote:  # first, so a failure leaves everything in place to retry
        from mia.store.mirror import delete_remote_agent

        removed = delete_remote_agent(settings, registry, record.slug)
        err_console().print(f"Deleted {removed} object(s) of '{record.slug}' from R2.")
    _stop_cloud_triggers(settings, registry, record)
    keep_spend(registry, record.id, mark="deleted-agent")  # `mia usage` keeps what it cost
    delete_agent(registry, record.id)
    Workspace(settings.workspace_root).remove_agent(record.slug)
    err_console().print(f"Deleted agent '{record.slug}'.")


def _stop_cloud_triggers(settings: Any, registry: Any, record: Any) -> None:
    """Stop the agent's triggers that run in Cloudflare Workflows, as `triggers remove` does: else their
    chains go on firing (and costing) for an agent that no longer exists here."""
    from mia.store.cloud import list_cloud_triggers

    deployed = [row for row in list_cloud_triggers(registry) if row.agent_id == record.id]
    if not deployed:
        return
    from mia.agents.cloud.deploy import withdraw
    from mia.commands.triggers_cloud import cloudflare_api

    api = cloudflare_api(settings)
    with api.http:
        for row in deployed:
            change = withdraw(registry, api, row, "removed")
            err_console().print(f"Stopped trigger {row.trigger_id} in the cloud ({len(change.terminated)} "
                                "instance(s) terminated).")


@app.command("export")
def export(agent: Annotated[str, typer.Argument(help="Agent name or id.", autocompletion=complete_agent)],
           output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="NAME.tar.gz or NAME.zip (default: ./AGENT-DATE-TIME.tar.gz).")] = None,
           json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Write a portable archive of an agent: every file of its folder plus its registry rows as JSON.

    For moving or backing up an agent. To share a report (HTML, DOCX, PDF) or cite its sources (BibTeX,
    RIS, CSL-JSON), use `mia export AGENT --format FORMAT`.
    """
    from mia.store.export import export_agent

    settings, registry = open_state(notice=False)
    if output is not None:
        output = output.expanduser().absolute()
        if not output.parent.is_dir():
            from mia.errors import UsageError

            raise UsageError(f"The folder {output.parent} does not exist, so the archive cannot be written there.",
                             f"Create it first (mkdir -p '{output.parent}') or choose another --output.")
    result = export_agent(settings, registry, agent, output)
    if json_out:
        print_json({"path": str(result.path), "name": result.agent, "files": result.files, "bytes": result.bytes})
    else:
        err_console().print(f"Exported '{result.agent}' ({result.files} files) to {result.path}")


@app.command("resume")
def resume(agent: Annotated[str, typer.Argument(help="Agent name or id.", autocompletion=complete_agent)],
           json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False) -> None:
    """Finish an interrupted run; steps that already finished are not repeated (or paid for)."""
    from mia.agents.research.service import resume_research
    from mia.commands.research import _run, show_result

    settings, registry = open_state(notice=False)
    result = _run(lambda http, on_event: resume_research(settings, registry, agent, http=http,
                                                        on_event=on_event), settings, json_out, quiet)
    show_result(result, json_out=json_out, quiet=quiet)


@app.command("rerun")
def rerun(agent: Annotated[str, typer.Argument(help="Agent name or id.")],
          instruction: Annotated[str, typer.Option(
              "--instruction", "-i", help="What to look into this time, e.g. \"new phase 3 results\".")] = "",
          json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False) -> None:
    """Run an existing agent again: it searches its plan anew (plus the instruction) and writes a new report."""
    settings, registry = open_state(notice=False)
    rerun_agent(settings, registry, agent, instruction=instruction, json_out=json_out, quiet=quiet)


def rerun_agent(settings: Settings, registry: Registry, ref: str, *, instruction: str, json_out: bool,
                quiet: bool) -> None:
    """A follow-up run of `ref` (as the chat's ask_agent does), shown like `mia research`; refuses while one runs."""
    from mia.agents.research.followup import follow_up_research
    from mia.commands.research import _run, show_result
    from mia.errors import RunConflict
    from mia.store.agents import get_agent
    from mia.store.runs import abandoned_runs, latest_run

    record = get_agent(registry, ref)
    last = latest_run(registry, record.id)
    if last is not None and last.status in ("running", "queued"):
        if any(run.id == last.id for run in abandoned_runs(registry)):
            raise RunConflict(f"Agent '{record.slug}' has an interrupted run.",
                              f"Continue it with `mia agents resume {record.slug}` (finished steps are not repeated).")
        raise RunConflict(f"Agent '{record.slug}' is running now.",
                          f"Wait for it to finish; `mia agents show {record.slug}` shows how far it is.")
    result = _run(lambda http, on_event: follow_up_research(
        settings, registry, record.slug, instruction=instruction, http=http, on_event=on_event,
        force_report=True), settings, json_out, quiet, slug=record.slug)
    show_result(result, json_out=json_out, quiet=quiet)
