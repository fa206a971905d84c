"""Output that reads well: nothing wrapped into a pipe; at a terminal, tables keep keys and times whole;
trigger times in the trigger's own time zone."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from mia.commands.app import main
from mia.commands.common import make_table
from mia.settings import SPECS


def test_nothing_is_wrapped_at_80_columns_into_a_pipe(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == len(SPECS) + 1  # one line per setting, none wrapped
    assert any(len(line) > 80 for line in lines) and "MIA_PRICES_PERPLEXITY_SEARCH_USD" in out
    assert main(["config", "set", "research.sources", "web,foo"]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("Error:") and first.endswith("(comma-separated).")


def test_at_a_terminal_a_table_wraps_other_columns_before_cutting_a_key() -> None:
    console = Console(width=80, force_terminal=True, record=True)
    rows = [(spec.key, "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/and/a/long/path", "config:/home/x/config.toml",
             "2026-11-30T08:00:00+00:00") for spec in SPECS]
    console.print(make_table(("setting", "value", "source", "when"), rows, keep=("setting", "when")))
    text = console.export_text()
    for spec in SPECS:
        assert spec.key in text
    assert text.count("2026-11-30T08:00:00+00:00") == len(SPECS)


def test_trigger_times_are_in_the_triggers_time_zone_and_a_paused_one_has_no_next_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    from mia.settings import load_settings
    from mia.store.agents import create_agent
    from mia.store.db import open_registry

    create_agent(open_registry(load_settings().registry_path), question="DMD", sources=["pubmed"], depth="quick",
                 model="", budget_usd=0.5)
    assert main(["triggers", "add", "dmd", "--cron", "0 8 * * 1", "--tz", "Europe/Berlin", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["next_due"].endswith("Z") and "T07:00:00" in data["next_due"]  # UTC in JSON (winter)
    assert main(["triggers", "list"]) == 0
    assert "08:00 CET" in capsys.readouterr().out
    assert main(["triggers", "pause", str(data["id"])]) == 0
    capsys.readouterr()
    assert main(["triggers", "list"]) == 0
    out = capsys.readouterr().out
    assert "(paused)" in out and "08:00 CET" not in out
