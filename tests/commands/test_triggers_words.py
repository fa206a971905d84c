"""Triggers a person adds and checks: same schedule across time zones, cron as often as --every allows,
and a dry run that says when the next one is."""

from __future__ import annotations

import json

import pytest

from mia.commands.app import main
from mia.settings import load_settings
from mia.store.agents import create_agent
from mia.store.db import open_registry


@pytest.fixture(autouse=True)
def agent() -> None:
    create_agent(open_registry(load_settings().registry_path), question="DMD", sources=["pubmed"], depth="quick",
                 model="", budget_usd=0.5)


def test_an_interval_differing_only_in_time_zone_is_the_same_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triggers", "add", "dmd", "--every", "6h", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["triggers", "add", "dmd", "--every", "6h", "--tz", "Asia/Tokyo"]) == 0
    assert "Same schedule" in capsys.readouterr().err
    assert main(["triggers", "list", "--json"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == [first["id"]]


@pytest.mark.parametrize("cron", ["*/2 * * * *", "0,1 8 * * *", "* * * * *"])
def test_a_cron_firing_more_often_than_every_allows_is_refused(capsys: pytest.CaptureFixture[str], cron: str) -> None:
    assert main(["triggers", "add", "dmd", "--cron", cron]) == 2
    err = capsys.readouterr().err
    assert "too often" in err and "5m" in err


def test_a_dry_run_with_nothing_due_says_when_the_next_run_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triggers", "run", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == "nothing due; next: none scheduled"
    assert main(["triggers", "add", "dmd", "--cron", "0 8 * * 1", "--tz", "Europe/Berlin"]) == 0
    capsys.readouterr()
    assert main(["triggers", "run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nothing due; next: ") and "08:00 CE" in out and "dmd" in out
