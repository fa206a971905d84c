"""`mia triggers`: wake research agents on a schedule (cron runs `mia triggers run`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mia.commands import filter_options as fo
from mia.commands.common import err_console, make_table, open_state, out_console, print_json
from mia.commands.completion import complete_agent, complete_trigger

app = typer.Typer(help="Schedules that wake research agents (cron runs `mia triggers run`).",
                  no_args_is_help=True)


def trigger_json(t: Any) -> dict[str, Any]:
    """The stable JSON shape of one trigger (documented in the README)."""
    from mia.agents.schedule.triggers import schedule_of

    return {"id": t.id, "agent": t.agent, "kind": t.kind, "schedule": schedule_of(t).describe(), "spec": t.spec,
            "tz": t.tz, "instruction": t.instruction, "enabled": bool(t.enabled), "next_due": t.next_due,
            "last_slot": t.last_slot, "deployed": bool(t.deployed), "created_at": t.created_at}


def local_time(stamp: str | None, tz: str) -> str:
    """A stored UTC time in the trigger's time zone, e.g. '2026-12-01 09:00 CET'; '-' for none."""
    if not stamp:
        return "-"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    when = datetime.fromisoformat(stamp).astimezone(ZoneInfo(tz or "UTC"))
    return when.strftime("%Y-%m-%d %H:%M ") + (when.tzname() or tz)


def next_run(t: Any) -> str:
    """When the trigger fires next, in its own time zone; a paused trigger shows none."""
    return local_time(t.next_due, t.tz) if t.enabled else "- (paused)"


@app.command("add")
def add(
    agent: Annotated[str, typer.Argument(help="Agent name or id.", autocompletion=complete_agent)],
    cron: Annotated[str | None, typer.Option("--cron", help='Cron expression, e.g. "0 8 * * 1".')] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone of the schedule (default UTC).")] = None,
    every: Annotated[str | None, typer.Option("--every", help="Interval: 30m, 6h, 1d, 2w.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="One time, e.g. 2026-12-01T09:00.")] = None,
    instruction: Annotated[str, typer.Option("--instruction", help="What to look for when it wakes.")] = "",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    since: fo.Since = None,
    until: fo.Until = None,
    article_types: fo.ArticleTypes = None,
    trial_status: fo.TrialStatus = None,
    trial_phase: fo.TrialPhase = None,
    domains: fo.Domains = None,
    exclude_domains: fo.ExcludeDomains = None,
) -> None:
    """Add a trigger to an agent (adding the same one twice returns the existing trigger).

    Filters given here replace the agent's stored ones of the same kind; every follow-up searches with them.
    """
    from mia.agents.schedule.triggers import add as add_trigger
    from mia.filters import SearchFilters, merge_filters
    from mia.store import agents as agent_store

    given = fo.filters_from(since, until, article_types, trial_status, trial_phase, domains, exclude_domains)
    _, registry = open_state()
    record, created = add_trigger(registry, agent_ref=agent, cron=cron, tz=tz, every=every, at=at,
                                  instruction=instruction)
    owner = agent_store.get_agent(registry, agent)
    filters = SearchFilters.model_validate(owner.filter_settings)
    if not given.is_empty():
        filters = merge_filters(filters, given)
        agent_store.set_filters(registry, owner.id, filters.model_dump(exclude_defaults=True))
    if json_out:
        print_json({**trigger_json(record), "created": created,
                    "filters": filters.model_dump(exclude_defaults=True)})
        return
    if not given.is_empty():
        err_console().print(f"{owner.slug}: {filters.describe()}")
    verb = "Added" if created else "Already there:"
    if not created and record.kind == "every" and record.tz != (tz or "UTC"):
        verb = f"Same schedule ({trigger_json(record)['schedule']} is the same in every time zone), already there:"
    err_console().print(f"{verb} trigger {record.id} for {record.agent}: {trigger_json(record)['schedule']}, "
                        f"next {next_run(record) if record.next_due else 'never'}")


@app.command("list")
def list_(agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.",
                                                    autocompletion=complete_agent)] = None,
          json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List triggers with their next due time."""
    from mia.agents.schedule.triggers import schedule_of
    from mia.store.agents import get_agent
    from mia.store.triggers import list_triggers

    _, registry = open_state()
    agent_id = get_agent(registry, agent).id if agent else None
    triggers = list_triggers(registry, agent_id)
    if json_out:
        print_json([trigger_json(t) for t in triggers])
        return
    if not triggers:
        err_console().print("No triggers. Add one with: mia triggers add AGENT --every 1d")
        return
    out_console().print(make_table(
        ("id", "agent", "schedule", "state", "next run", "instruction"),
        ((str(t.id), t.agent, schedule_of(t).describe(), t.state, next_run(t), t.instruction[:50])
         for t in triggers), keep=("id", "agent", "next run")))


@app.command("show")
def show(trigger_id: Annotated[int, typer.Argument(help="Trigger id.", autocompletion=complete_trigger)],
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show one trigger and its fired slots."""
    from mia.store.triggers import fires, get_trigger

    _, registry = open_state()
    trigger = get_trigger(registry, trigger_id)
    data = {**trigger_json(trigger), "fires": fires(registry, trigger_id)}
    if json_out:
        print_json(data)
        return
    console = out_console()
    console.print(f"trigger {data['id']} · {data['agent']} · {data['schedule']} · "
                  f"{'on' if data['enabled'] else 'paused'} · next {next_run(trigger)}")
    if data["instruction"]:
        console.print(f"instruction: {data['instruction']}")
    for fire in data["fires"]:
        what = f"run {fire['run_id']}" if fire["run_id"] else "missed"
        console.print(f"  {fire['slot']} · {what} · {fire['coalesced']} slot(s)")


def _set_enabled(trigger_id: int, enabled: bool) -> None:
    from datetime import UTC, datetime

    from mia.agents.schedule.rules import iso
    from mia.agents.schedule.triggers import schedule_of
    from mia.store.triggers import get_trigger, update_trigger

    _, registry = open_state()
    trigger = get_trigger(registry, trigger_id)
    upcoming = schedule_of(trigger).next_after(datetime.now(UTC)) if enabled else None
    # Resuming starts from now: slots that passed while paused are skipped, not fired late.
    fields: dict[str, Any] = {"enabled": 1 if enabled else 0}
    if enabled:
        fields.update(next_due=iso(upcoming) if upcoming else None, last_slot=iso(datetime.now(UTC)))
    update_trigger(registry, trigger_id, **fields)
    err_console().print(f"Trigger {trigger_id} {'resumed' if enabled else 'paused'}.")
    if trigger.deployed and not enabled:
        err_console().print("It still runs in the cloud: `mia triggers deploy` withdraws it from there (or "
                            f"`mia triggers undeploy {trigger.agent}` stops all of that agent's cloud triggers).")


@app.command("pause")
def pause(trigger_id: Annotated[int, typer.Argument(help="Trigger id.", autocompletion=complete_trigger)]) -> None:
    """Stop a trigger from firing until resumed."""
    _set_enabled(trigger_id, False)


@app.command("resume")
def resume(trigger_id: Annotated[int, typer.Argument(help="Trigger id.", autocompletion=complete_trigger)]) -> None:
    """Let a paused trigger fire again (from the next slot on)."""
    _set_enabled(trigger_id, True)


@app.command("remove")
def remove(trigger_id: Annotated[int, typer.Argument(help="Trigger id.", autocompletion=complete_trigger)]) -> None:
    """Delete a trigger (one deployed to the cloud is stopped there first)."""
    from mia.store.cloud import get_cloud_trigger
    from mia.store.triggers import get_trigger, remove_trigger

    settings, registry = open_state()
    get_trigger(registry, trigger_id)
    deployed = get_cloud_trigger(registry, trigger_id)
    if deployed is not None:  # otherwise its chain would go on firing (and costing) with nothing local to show
        from mia.agents.cloud.deploy import withdraw
        from mia.commands.triggers_cloud import cloudflare_api

        api = cloudflare_api(settings)
        with api.http:
            change = withdraw(registry, api, deployed, "removed")
        err_console().print(f"Stopped trigger {trigger_id} in the cloud ({len(change.terminated)} instance(s) "
                            "terminated).")
    remove_trigger(registry, trigger_id)
    err_console().print(f"Removed trigger {trigger_id}.")
