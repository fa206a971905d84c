"""`mia triggers deploy|undeploy|status --remote`: agents' schedules as Cloudflare Workflow instances.

Scheduling design: one Workflow instance per (trigger, slot), with the deterministic id
`trg-<trigger>-<fingerprint>-<slot>` (e.g. `trg-12-a1b2c3-20261201T090000Z`, well under the 100-character limit).
An instance sleeps until its slot (`step.sleep`; a sleeping instance does not count toward the concurrency limit
and a sleep may last up to 365 days), runs the research steps, writes the report into R2, and then creates the
instance of the next slot. Cron slots are computed here with cronsim in the trigger's time zone (the same DST
rules as `mia triggers run`) and passed as params, for up to HORIZON_DAYS or MAX_SLOTS_PER_SEGMENT slots; a later
deploy tops the chain up by creating the head of the next segment when less than half of the planned span is
left. Interval triggers compute their next slot in the Worker, so their chains never run out.

Why not the Workflow's own cron `schedules`: they are limited to 100 per account and carry no per-trigger params
(nor a time zone), and plain cron triggers are limited to 5 (Free) or 250 (Paid). With instance chains, hundreds
of triggers cost one waiting instance each (waiting instances are not "running"), each firing uses ~20 steps of
the 1,024/10,000 per instance, and a deploy creates at most one instance per trigger, well within the creation
rate limit (100/s per workflow). Completed instances are kept for the plan's retention (3 or 30 days).

Idempotency: the script is uploaded only when the content hash of script + bindings changes. Instance ids are
deterministic within a chain, `trg-<trigger>-<fingerprint>-g<generation>-<slot>`, and never reused: Workflows
keep a terminated or finished instance's id for good (409 `instance.already_exists`), so every chain that starts
after another ended (undeploy, pause → deploy → resume → deploy, a changed fingerprint) takes the trigger's next
generation, which the registry keeps beyond the chain. A create that answers "already exists" counts only when the
existing instance is live (a deploy that died after creating it); otherwise the next generation is tried, and a
refused creation is never recorded as created. A trigger whose schedule, instruction or agent settings change gets
a new fingerprint, so its old chain is terminated and a new one created.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mia.agents.cloud.worker import (
    CLASS_NAME,
    HORIZON_DAYS,
    StepPolicy,
    build_worker,
    fingerprint,
    instance_id,
    instance_prefix,
    plan_slots,
    trigger_params,
)
from mia.agents.llm.shapes import NEURONS_PER_M
from mia.agents.schedule.rules import iso, parse_utc
from mia.agents.schedule.triggers import schedule_of
from mia.errors import ServiceError, UsageError
from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store import cloud as cloud_store
from mia.store import triggers as trigger_store
from mia.store.db import Registry
from mia.tools.cloudflare import LIVE_STATUSES, CloudflareAPI, require_cloud_settings

WORKFLOW_NAME = "mia-research"
SCRIPT_NAME = "mia-agents"
MAX_KEPT_SLOTS = 4000  # planned slots remembered per trigger (for `status --remote`)
MAX_GENERATION_TRIES = 5  # ids found taken by dead instances before giving up


@dataclass
class TriggerChange:
    """What a deploy or undeploy did to one trigger."""

    trigger_id: int
    agent: str
    action: str  # created | unchanged | extended | replaced | withdrawn | undeployed | removed | nothing-due
    instance: str | None = None
    horizon: str | None = None
    terminated: list[str] = field(default_factory=list)


@dataclass
class DeployReport:
    """The summary of one `mia triggers deploy` or `undeploy`."""

    workflow: str
    script: str
    uploaded: bool = False
    deleted: bool = False
    triggers: list[TriggerChange] = field(default_factory=list)


def _scope(registry: Registry, agent_refs: Iterable[str]) -> set[str] | None:
    refs = list(agent_refs)
    return {agent_store.get_agent(registry, ref).id for ref in refs} if refs else None


def deploy(settings: Settings, registry: Registry, api: CloudflareAPI, *, agents: Iterable[str] = (),
           now: datetime | None = None, policy: StepPolicy | None = None, workflow: str = WORKFLOW_NAME,
           script: str = SCRIPT_NAME) -> DeployReport:
    """Upload the Worker if it changed, register the Workflow, and bring each trigger's chain up to date."""
    require_cloud_settings(settings)
    now = now or datetime.now(UTC)
    scope = _scope(registry, agents)
    wanted = [t for t in trigger_store.list_triggers(registry) if t.enabled and (scope is None or t.agent_id in scope)]
    deployed = {row.trigger_id: row for row in cloud_store.list_cloud_triggers(registry)}
    if not wanted and not any(scope is None or row.agent_id in scope for row in deployed.values()):
        raise UsageError("There are no enabled triggers to deploy" + (" for those agents." if scope else "."),
                         'Add one first, e.g. mia triggers add AGENT --cron "0 8 * * 1" --tz Europe/Berlin')
    report = DeployReport(workflow=workflow, script=script)
    bundle = build_worker(settings, workflow=workflow, models=list(NEURONS_PER_M), policy=policy or StepPolicy())
    current = cloud_store.get_deployment(registry, workflow)
    missing = current is not None and not api.workflow_exists(workflow)
    if missing:  # deleted outside mia, and its instances with it: every chain starts again
        for row in deployed.values():
            cloud_store.delete_cloud_trigger(registry, row.trigger_id)
        deployed = {}
    if current is None or missing or current.content_hash != bundle.content_hash:
        api.upload_script(script, bundle.metadata, bundle.script)
        api.put_workflow(workflow, class_name=CLASS_NAME, script_name=script)
        cloud_store.save_deployment(registry, workflow=workflow, script=script, account_id=api.account_id,
                                    content_hash=bundle.content_hash)
        report.uploaded = True
    for trigger in wanted:
        report.triggers.append(_deploy_trigger(registry, api, trigger, deployed.get(trigger.id), now, workflow))
    wanted_ids = {t.id for t in wanted}
    for row in deployed.values():
        if row.trigger_id not in wanted_ids and (scope is None or row.agent_id in scope):
            report.triggers.append(withdraw(registry, api, row, "withdrawn"))
    return report


def _deploy_trigger(registry: Registry, api: CloudflareAPI, trigger: trigger_store.TriggerRecord,
                    row: cloud_store.CloudTrigger | None, now: datetime, workflow: str) -> TriggerChange:
    agent = agent_store.get_agent(registry, trigger.agent_id)
    params = trigger_params(trigger, agent, "")
    fp = fingerprint(params, trigger)
    change = TriggerChange(trigger.id, agent.slug, "unchanged", horizon=row.horizon if row else None)
    if row is not None and row.fingerprint == fp:
        if not _needs_top_up(row, now):
            return change
        slots = plan_slots(schedule_of(trigger), parse_utc(row.horizon or iso(now)), now + timedelta(days=HORIZON_DAYS))
        if not slots:
            return change
        head = instance_id(row.id_prefix, slots[0])
        params["id_prefix"] = row.id_prefix
        if api.create_instance(workflow, head, {**params, "slot": slots[0], "slots": slots[1:]}) or \
                _is_live(api, workflow, head):
            change.instance = head
            _save(registry, trigger, agent.slug, workflow, fp, row.id_prefix, row.slots + slots, None, slots[-1])
            change.action, change.horizon = "extended", slots[-1]
            return change
    if row is not None:
        change.terminated = terminate_chain(api, workflow, row.id_prefix)
        cloud_store.next_generation(registry, workflow, trigger.id, _generation_of(row.id_prefix))
    slots, every = _first_segment(trigger, now)
    if not slots:
        if row is not None:
            cloud_store.delete_cloud_trigger(registry, trigger.id)
        change.action = "nothing-due"
        return change
    try:
        prefix, change.instance = _start_chain(registry, api, workflow, trigger.id, fp,
                                               {**params, "slot": slots[0], "slots": slots[1:], "every": every})
    except ServiceError:
        if row is not None:  # its old chain is terminated and no new one runs: local cron takes it back
            cloud_store.delete_cloud_trigger(registry, trigger.id)
        raise
    horizon = None if every else slots[-1]
    _save(registry, trigger, agent.slug, workflow, fp, prefix, slots, every, horizon)
    change.action, change.horizon = ("replaced" if row is not None else "created"), horizon
    return change


def _start_chain(registry: Registry, api: CloudflareAPI, workflow: str, trigger_id: int, fp: str,
                 params: dict[str, Any]) -> tuple[str, str]:
    """Create a chain's first instance under the trigger's current generation: (id prefix, instance id).

    "Already exists" is accepted only for a live instance (this very chain, from a deploy that stopped before
    recording it); an id held by a finished or terminated instance moves on to the next generation.
    """
    generation = cloud_store.get_generation(registry, workflow, trigger_id)
    for _ in range(MAX_GENERATION_TRIES):
        prefix = instance_prefix(trigger_id, fp, generation)
        iid = instance_id(prefix, params["slot"])
        if api.create_instance(workflow, iid, {**params, "id_prefix": prefix}) or _is_live(api, workflow, iid):
            return prefix, iid
        generation = cloud_store.next_generation(registry, workflow, trigger_id, generation)
    raise ServiceError(f"Cloudflare refused every new instance id for trigger {trigger_id} ('{iid}' and the "
                       f"{MAX_GENERATION_TRIES - 1} before it already exist and are not running).",
                       "Check the Workflow's instances with `mia triggers status --remote` or the dashboard, "
                       "then deploy again.", service="Cloudflare API")


def _is_live(api: CloudflareAPI, workflow: str, iid: str) -> bool:
    """Whether the instance exists and may still run (GET …/instances/{id})."""
    found = api.get_instance(workflow, iid)
    return found is not None and found.get("status") in LIVE_STATUSES


def _generation_of(prefix: str) -> int:
    """The generation in `trg-<t>-<fp>-g<n>-` (0 for prefixes made before generations existed)."""
    part = prefix.rstrip("-").rsplit("-", 1)[-1]
    return int(part[1:]) if part.startswith("g") and part[1:].isdigit() else 0


def _first_segment(trigger: trigger_store.TriggerRecord, now: datetime) -> tuple[list[str], dict[str, Any] | None]:
    """Cron and one-shot: the planned slots; interval: its first slot plus what the Worker needs for the rest."""
    schedule = schedule_of(trigger)
    if trigger.kind == "every":
        first = schedule.next_after(now)
        assert first is not None
        return [iso(first)], {"anchor": iso(first), "seconds": int(trigger.spec)}
    return plan_slots(schedule, now, now + timedelta(days=HORIZON_DAYS)), None


def _needs_top_up(row: cloud_store.CloudTrigger, now: datetime) -> bool:
    """A cron chain is extended once less than half of its planned span is left."""
    if row.every is not None or row.horizon is None:
        return False
    horizon, planned = parse_utc(row.horizon), parse_utc(row.planned_at)
    return horizon - now < (horizon - planned) / 2


def _save(registry: Registry, trigger: trigger_store.TriggerRecord, slug: str, workflow: str, fp: str, prefix: str,
          slots: list[str], every: dict[str, Any] | None, horizon: str | None) -> None:
    keep = slots[-MAX_KEPT_SLOTS:]
    cloud_store.save_cloud_trigger(registry, trigger_id=trigger.id, agent_id=trigger.agent_id, agent=slug,
                                   workflow=workflow, fingerprint=fp, id_prefix=prefix, slots=keep, every=every,
                                   horizon=horizon)


def terminate_chain(api: CloudflareAPI, workflow: str, prefix: str) -> list[str]:
    """Terminate every live instance whose id starts with `prefix` (the trigger's chain)."""
    terminated = []
    for status in LIVE_STATUSES:
        for item in api.list_instances(workflow, status):
            iid = str(item.get("id") or item.get("instance_id") or "")
            if iid.startswith(prefix) and iid not in terminated:
                api.terminate_instance(workflow, iid)
                terminated.append(iid)
    return terminated


def withdraw(registry: Registry, api: CloudflareAPI, row: cloud_store.CloudTrigger, action: str) -> TriggerChange:
    """Terminate a trigger's chain of instances and forget that it is deployed (its ids stay taken)."""
    terminated = terminate_chain(api, row.workflow, row.id_prefix)
    cloud_store.next_generation(registry, row.workflow, row.trigger_id, _generation_of(row.id_prefix))
    cloud_store.delete_cloud_trigger(registry, row.trigger_id)
    return TriggerChange(row.trigger_id, row.agent, action, terminated=terminated)


def undeploy(settings: Settings, registry: Registry, api: CloudflareAPI, *, agents: Iterable[str] = (),
             workflow: str = WORKFLOW_NAME) -> DeployReport:
    """Terminate the agents' chains, hand their triggers back to local cron; delete everything when none is left."""
    require_cloud_settings(settings)
    scope = _scope(registry, agents)
    current = cloud_store.get_deployment(registry, workflow)
    report = DeployReport(workflow=workflow, script=current.script if current else SCRIPT_NAME)
    for row in cloud_store.list_cloud_triggers(registry):
        if scope is None or row.agent_id in scope:
            report.triggers.append(withdraw(registry, api, row, "undeployed"))
    if current is not None and not cloud_store.list_cloud_triggers(registry):
        api.delete_workflow(workflow)
        api.delete_script(current.script)
        cloud_store.delete_deployment(registry, workflow)
        report.deleted = True
    return report


def remote_status(registry: Registry, api: CloudflareAPI, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each deployed trigger with the state of its last and next instance (GET .../instances/{id})."""
    now = now or datetime.now(UTC)
    rows = []
    for row in cloud_store.list_cloud_triggers(registry):
        last, upcoming = _last_and_next(row, now)
        instances = []
        for role, slot in (("last", last), ("next", upcoming)):
            if slot is None:
                continue
            iid = instance_id(row.id_prefix, slot)
            found = api.get_instance(row.workflow, iid)
            error = (found or {}).get("error") or None
            instances.append({"role": role, "id": iid, "slot": slot,
                              "status": (found or {}).get("status", "not_found"),
                              "error": error.get("message") if isinstance(error, dict) else error})
        exists = registry.one("SELECT id FROM triggers WHERE id = ?", (row.trigger_id,)) is not None
        rows.append({"trigger_id": row.trigger_id, "agent": row.agent, "workflow": row.workflow,
                     "horizon": row.horizon, "orphaned": not exists, "instances": instances})
    return rows


def _last_and_next(row: cloud_store.CloudTrigger, now: datetime) -> tuple[str | None, str | None]:
    """The latest planned slot at or before now, and the first one after it."""
    every = row.every
    if every is not None:
        anchor, step = parse_utc(every["anchor"]), timedelta(seconds=int(every["seconds"]))
        if now < anchor:
            return None, iso(anchor)
        last = anchor + step * ((now - anchor) // step)
        return iso(last), iso(last + step)
    past = [s for s in row.slots if parse_utc(s) <= now]
    future = [s for s in row.slots if parse_utc(s) > now]
    return (past[-1] if past else None), (future[0] if future else None)
