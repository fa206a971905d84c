"""Running an agent again in place: `mia agents rerun`, `mia research` offering it, hints that work."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from fakes.server import FakeServices

from mia.commands.app import main

from .conftest import Mia


def slugs(home: Path) -> list[str]:
    return [r[0] for r in sqlite3.connect(home / "registry.db").execute("SELECT slug FROM agents ORDER BY slug")]


def test_rerun_writes_the_next_report_version_of_the_same_agent(mia: Mia, mia_home: Path) -> None:
    assert mia.run("research", "DMD treatments", "--depth", "quick", "--json").returncode == 0
    again = mia.run("agents", "rerun", "dmd-treatments", "--instruction", "new phase 3 results", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["name"] == "dmd-treatments"
    assert (mia_home / "workspace" / "agents" / "dmd-treatments" / "reports" / "v2.md").exists()
    assert slugs(mia_home) == ["dmd-treatments"]


def test_every_hint_points_at_a_command_that_works(mia: Mia) -> None:
    assert mia.run("research", "DMD treatments", "--depth", "quick", "--json").returncode == 0
    taken = mia.run("research", "Other question", "--name", "dmd-treatments")
    assert taken.returncode == 2 and "mia agents rerun dmd-treatments" in taken.stderr
    nothing = mia.run("agents", "resume", "dmd-treatments")
    assert nothing.returncode == 1 and "mia agents rerun dmd-treatments" in nothing.stderr
    same = mia.run("research", "dmd  Treatments", "--depth", "quick", "--json")
    assert same.returncode == 0 and "mia agents rerun dmd-treatments" in same.stderr


def test_research_at_a_terminal_offers_to_run_the_existing_agent_again(
        services: FakeServices, monkeypatch: pytest.MonkeyPatch, mia_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in services.env().items():
        monkeypatch.setenv(key, value)
    assert main(["research", "DMD treatments", "--depth", "quick", "--json"]) == 0
    monkeypatch.setattr("mia.commands.common.interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    capsys.readouterr()
    assert main(["research", "DMD treatments", "--depth", "quick", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "already researches this question" in err and json.loads(out)["name"] == "dmd-treatments"
    assert slugs(mia_home) == ["dmd-treatments"]
    assert (mia_home / "workspace" / "agents" / "dmd-treatments" / "reports" / "v2.md").exists()
