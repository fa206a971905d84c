"""Trigger scheduling: DST, outages coalesced, misses, one-shots, overlap, exactly-once claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mia.agents.schedule.rules import Schedule, build_schedule
from mia.agents.schedule.triggers import add, run_pass
from mia.errors import UsageError
from mia.settings import load_settings
from mia.store import runs as run_store
from mia.store import triggers as trigger_store
from mia.store.agents import create_agent
from mia.store.db import Registry, open_registry


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return open_registry(tmp_path / "registry.db")


@pytest.fixture
def agent(registry: Registry) -> str:
    return create_agent(registry, question="DMD treatments", sources=["trials"], depth="quick", model="",
                        budget_usd=1.0).slug


def ticks(start: datetime, end: datetime, every: timedelta = timedelta(minutes=5)) -> list[datetime]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += every
    return out


def simulate(registry: Registry, moments: list[datetime], grace: int = 0) -> list[tuple[int, str, int]]:
    fired: list[tuple[int, str, int]] = []
    settings = load_settings()
    for moment in moments:
        result = run_pass(settings, registry, now=moment, runner=lambda t, run_id: "done", log=lambda _: None,
                          grace_minutes=grace)
        fired += [(f.trigger_id, f.slot, f.coalesced) for f in result.fires if f.action == "fired"]
    return fired


def test_a_0130_new_york_job_fires_once_on_the_fall_back_day(registry: Registry, agent: str) -> None:
    created = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    trigger, _ = add(registry, agent_ref=agent, cron="30 1 * * *", tz="America/New_York", every=None, at=None,
                     instruction="", now=created)
    registry.execute("UPDATE triggers SET created_at = ? WHERE id = ?", ("2026-10-31T12:00:00.000Z", trigger.id))
    fired = simulate(registry, ticks(datetime(2026, 11, 1, 3, 0, tzinfo=UTC), datetime(2026, 11, 1, 9, 0, tzinfo=UTC)))
    assert [slot for _, slot, _ in fired] == ["2026-11-01T05:30:00Z"]  # 01:30 EDT, not again at 01:30 EST


def test_a_0130_new_york_job_fires_once_on_the_spring_forward_day(registry: Registry, agent: str) -> None:
    created = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    trigger, _ = add(registry, agent_ref=agent, cron="30 1 * * *", tz="America/New_York", every=None, at=None,
                     instruction="", now=created)
    registry.execute("UPDATE triggers SET created_at = ? WHERE id = ?", ("2026-03-07T12:00:00.000Z", trigger.id))
    fired = simulate(registry, ticks(datetime(2026, 3, 8, 4, 0, tzinfo=UTC), datetime(2026, 3, 8, 10, 0, tzinfo=UTC)))
    assert [slot for _, slot, _ in fired] == ["2026-03-08T06:30:00Z"]  # 01:30 EST, before the jump


def test_a_job_in_the_skipped_hour_fires_right_after_the_jump() -> None:
    schedule = Schedule("cron", "30 2 * * *", "America/New_York")
    slot = schedule.next_after(datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert slot == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_a_three_hour_outage_gives_one_coalesced_run_per_trigger(registry: Registry, agent: str) -> None:
    start = datetime(2026, 11, 22, 9, 58, tzinfo=UTC)
    ids = []
    for instruction in ("new trials", "new papers"):
        trigger, _ = add(registry, agent_ref=agent, cron="0 * * * *", tz=None, every=None, at=None,
                         instruction=instruction, now=start)
        ids.append(trigger.id)
    before = simulate(registry, ticks(start, datetime(2026, 11, 22, 10, 5, tzinfo=UTC)))
    assert sorted(slot for _, slot, _ in before) == ["2026-11-22T10:00:00Z"] * 2
    after = simulate(registry, ticks(datetime(2026, 11, 22, 13, 10, tzinfo=UTC), datetime(2026, 11, 22, 13, 30,
                                                                                         tzinfo=UTC)))
    assert sorted(after) == [(ids[0], "2026-11-22T13:00:00Z", 3), (ids[1], "2026-11-22T13:00:00Z", 3)]
    for trigger_id in ids:
        fires = trigger_store.fires(registry, trigger_id)
        assert [(f["slot"], f["coalesced"]) for f in fires] == [("2026-11-22T10:00:00Z", 1),
                                                                ("2026-11-22T13:00:00Z", 3)]


def test_a_slot_later_than_the_grace_window_is_recorded_as_missed(registry: Registry, agent: str) -> None:
    start = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    trigger, _ = add(registry, agent_ref=agent, cron="0 8 * * *", tz=None, every=None, at=None, instruction="",
                     now=start)
    fired = simulate(registry, [datetime(2026, 11, 22, 21, 0, tzinfo=UTC)])  # 13 h late, daily grace is 12 h
    assert fired == []
    fires = trigger_store.fires(registry, trigger.id)
    assert [(f["slot"], f["run_id"]) for f in fires] == [("2026-11-22T08:00:00Z", None)]
    assert trigger_store.get_trigger(registry, trigger.id).next_due == "2026-11-23T08:00:00Z"


def test_a_one_shot_trigger_fires_once_and_then_disables_itself(registry: Registry, agent: str) -> None:
    start = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    trigger, _ = add(registry, agent_ref=agent, cron=None, tz="Europe/Berlin", every=None,
                     at="2026-11-22T09:00", instruction="", now=start)
    fired = simulate(registry, ticks(datetime(2026, 11, 22, 7, 55, tzinfo=UTC), datetime(2026, 11, 22, 9, 0,
                                                                                        tzinfo=UTC)))
    assert fired == [(trigger.id, "2026-11-22T08:00:00Z", 1)]
    record = trigger_store.get_trigger(registry, trigger.id)
    assert record.enabled == 0 and record.next_due is None


def test_a_trigger_whose_previous_run_is_still_going_is_skipped(registry: Registry, agent: str) -> None:
    start = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    trigger, _ = add(registry, agent_ref=agent, cron=None, tz=None, every="1h", at=None, instruction="", now=start)
    agent_id = registry.one("SELECT id FROM agents")["id"]
    run = run_store.create_run(registry, agent_id=agent_id, kind="follow-up", params={}, code_version="t")
    run_store.claim_run(registry, run.id, run_store.owner_id(), lease_seconds=600)
    registry.execute("UPDATE runs SET trigger_id = ? WHERE id = ?", (trigger.id, run.id))
    result = run_pass(load_settings(), registry, now=start + timedelta(hours=1, minutes=1),
                      runner=lambda t, r: "done", log=lambda _: None)
    assert [f.action for f in result.fires] == ["skipped-running"]
    assert trigger_store.fires(registry, trigger.id) == []


def test_adding_the_same_trigger_twice_returns_the_existing_one(registry: Registry, agent: str) -> None:
    first, created = add(registry, agent_ref=agent, cron="0  8 * * 1", tz="Europe/Berlin", every=None, at=None,
                         instruction="look for new phase 3 results")
    again, created_again = add(registry, agent_ref=agent, cron="0 8 * * 1", tz="Europe/Berlin", every=None,
                               at=None, instruction=" look for new phase 3 results ")
    assert created and not created_again and first.id == again.id
    assert len(trigger_store.list_triggers(registry)) == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cron": "61 * * * *"}, "not a valid cron expression"),
    ({"cron": "0 8 * * 1", "tz": "Mars/Olympus"}, "Unknown time zone"),
    ({"at": "2020-01-01T09:00"}, "in the past"),
    ({"every": "30s"}, "not an interval"),
    ({"every": "1m"}, "too often"),
    ({}, "exactly one schedule"),
    ({"cron": "0 8 * * *", "every": "1h"}, "exactly one schedule"),
])
def test_bad_schedules_are_clear_errors(kwargs: dict[str, str], message: str) -> None:
    args = {"cron": None, "tz": None, "every": None, "at": None, **kwargs}
    with pytest.raises(UsageError, match=message):
        build_schedule(now=datetime(2026, 11, 22, tzinfo=UTC), **args)
