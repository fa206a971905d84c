"""`mia triggers run`: recover abandoned runs, find due triggers, claim each slot once, wake the agents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mia.agents.schedule.rules import Schedule, build_schedule, iso, parse_utc
from mia.errors import MiaError
from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store import runs as run_store
from mia.store import triggers as trigger_store
from mia.store.db import Registry

Runner = Callable[[trigger_store.TriggerRecord, str], str]  # (trigger, run_id) -> outcome
Log = Callable[[str], None]


@dataclass
class Fire:
    """What happened to one due trigger in this pass."""

    trigger_id: int
    agent: str
    slot: str
    coalesced: int
    action: str  # fired | would-fire | missed | skipped-running | lost-race | failed
    run_id: str | None = None
    outcome: str | None = None
    message: str = ""


@dataclass
class Pass:
    """The summary of one `mia triggers run`."""

    recovered: list[str] = field(default_factory=list)
    fires: list[Fire] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for f in self.fires if f.action == action)


def schedule_of(trigger: trigger_store.TriggerRecord) -> Schedule:
    anchor = parse_utc(trigger.created_at) if trigger.kind == "every" else None
    return Schedule(trigger.kind, trigger.spec, trigger.tz, anchor)


def add(registry: Registry, *, agent_ref: str, cron: str | None, tz: str | None, every: str | None,
        at: str | None, instruction: str, now: datetime | None = None) -> tuple[trigger_store.TriggerRecord, bool]:
    """Validate and register a trigger; registering the same one twice returns the existing one."""
    now = now or datetime.now(UTC)
    agent = agent_store.get_agent(registry, agent_ref)
    schedule = build_schedule(cron=cron, tz=tz, every=every, at=at, now=now)
    if schedule.kind == "every":  # an interval is the same in every time zone: one trigger, whatever its zone
        same = trigger_store.same_interval(registry, agent_id=agent.id, spec=schedule.spec,
                                           instruction=instruction.strip())
        if same is not None:
            return same, False
    anchor = now.replace(microsecond=0)
    first = Schedule(schedule.kind, schedule.spec, schedule.tz, anchor).next_after(now)
    record, created = trigger_store.add_trigger(
        registry, agent_id=agent.id, kind=schedule.kind, spec=schedule.spec, tz=schedule.tz,
        instruction=instruction.strip(), next_due=iso(first) if first else None,
        created_at=anchor.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    return record, created


def run_id_for(trigger_id: int, slot: str) -> str:
    """One durable run per (trigger, slot): a retry of the slot is the same run."""
    return f"trg-{trigger_id}-{slot.replace(':', '').replace('-', '')}"


def evaluate(registry: Registry, trigger: trigger_store.TriggerRecord, now: datetime, grace_minutes: int
             ) -> tuple[str | None, int, str | None, bool]:
    """(latest due slot, slots coalesced, next due after now, still enabled) for one trigger."""
    schedule = schedule_of(trigger)
    after = parse_utc(trigger.last_slot or trigger.created_at)
    latest, count = schedule.slots(after, now)
    upcoming = schedule.next_after(now)
    enabled = upcoming is not None
    if latest is None:
        return None, 0, iso(upcoming) if upcoming else None, enabled
    if now - latest > schedule.grace(grace_minutes):
        return iso(latest), -count, iso(upcoming) if upcoming else None, enabled  # negative: too late, missed
    return iso(latest), count, iso(upcoming) if upcoming else None, enabled


def run_pass(settings: Settings, registry: Registry, *, now: datetime, runner: Runner, log: Log,
             recover: Callable[[run_store.RunRecord], str] | None = None, dry_run: bool = False,
             grace_minutes: int = 0) -> Pass:
    """Recover, then fire every due trigger once; `runner` does the follow-up run of a claimed slot."""
    result = Pass()
    if not dry_run and recover is not None:
        for run in run_store.abandoned_runs(registry):
            try:
                outcome = recover(run)
                log(f"recovered run {run.id}: {outcome}")
                result.recovered.append(run.id)
            except MiaError as exc:
                log(f"recovering run {run.id} failed: {exc.message}")
        for orphan in orphaned_fires(registry):
            trigger = trigger_store.get_trigger(registry, int(orphan["trigger_id"]))
            try:
                log(f"re-fired orphaned slot run {orphan['run_id']}: {runner(trigger, orphan['run_id'])}")
                result.recovered.append(orphan["run_id"])
            except MiaError as exc:
                log(f"re-firing {orphan['run_id']} failed: {exc.message}")
    owner = run_store.owner_id()
    for trigger in trigger_store.due_triggers(registry, iso(now)):
        fire = _one(registry, trigger, now=now, grace=grace_minutes, owner=owner, runner=runner, dry_run=dry_run)
        if fire is not None:
            result.fires.append(fire)
            if not dry_run:
                log(f"trigger {fire.trigger_id} ({fire.agent}) slot {fire.slot} coalesced={abs(fire.coalesced)} "
                    f"{fire.action}" + (f" run={fire.run_id} outcome={fire.outcome}" if fire.run_id else "")
                    + (f" {fire.message}" if fire.message else ""))
    return result


def _one(registry: Registry, trigger: trigger_store.TriggerRecord, *, now: datetime, grace: int, owner: str,
         runner: Runner, dry_run: bool) -> Fire | None:
    slot, count, next_due, enabled = evaluate(registry, trigger, now, grace)
    if slot is None:
        if not dry_run:
            trigger_store.update_trigger(registry, trigger.id, next_due=next_due, enabled=1 if enabled else 0)
        return None
    fire = Fire(trigger.id, trigger.agent, slot, count, "would-fire")
    if count < 0:
        fire.action = "would-miss" if dry_run else "missed"
        if not dry_run:
            trigger_store.claim_slot(registry, trigger.id, slot=slot, coalesced=-count, owner=owner, run_id=None,
                                     next_due=next_due, enabled=enabled)
        return fire
    if dry_run:
        return fire
    if trigger_store.running_run(registry, trigger.id):
        fire.action = "skipped-running"
        return fire
    fire.run_id = run_id_for(trigger.id, slot)
    if not trigger_store.claim_slot(registry, trigger.id, slot=slot, coalesced=count, owner=owner,
                                    run_id=fire.run_id, next_due=next_due, enabled=enabled):
        fire.action, fire.run_id = "lost-race", None
        return None  # another process took this slot: not ours to report
    try:
        fire.outcome = runner(trigger, fire.run_id)
        fire.action = "fired"
    except MiaError as exc:
        fire.action, fire.message = "failed", exc.message
    return fire


def orphaned_fires(registry: Registry) -> list[dict[str, str]]:
    """Slots claimed by a process that died before it created the run: fired again by recovery."""
    return registry.query(
        "SELECT f.trigger_id, f.run_id FROM trigger_fires f LEFT JOIN runs r ON r.id = f.run_id "
        "WHERE f.run_id IS NOT NULL AND r.id IS NULL")
