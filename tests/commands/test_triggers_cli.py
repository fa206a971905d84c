"""`mia triggers` and `mia inbox` as a user types them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mia.commands.app import main
from mia.settings import load_settings
from mia.store.agents import create_agent
from mia.store.db import open_registry
from mia.store.inbox import add_message

TRIGGER_KEYS = {"id", "agent", "kind", "schedule", "spec", "tz", "instruction", "enabled", "next_due",
                "last_slot", "deployed", "created_at"}


@pytest.fixture(autouse=True)
def agent() -> str:
    registry = open_registry(load_settings().registry_path)
    return create_agent(registry, question="DMD treatments", sources=["trials"], depth="quick", model="",
                        budget_usd=1.0).slug


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_pause_resume_remove(capsys: pytest.CaptureFixture[str], agent: str) -> None:
    code, out, _ = run(capsys, "triggers", "add", agent, "--cron", "0 8 * * 1", "--tz", "Europe/Berlin",
                       "--instruction", "look for new phase 3 results", "--json")
    added = json.loads(out)
    assert code == 0 and added["created"] is True and set(added) == TRIGGER_KEYS | {"created", "filters"}
    assert added["schedule"] == "cron '0 8 * * 1' (Europe/Berlin)" and added["next_due"].endswith(":00:00Z")
    _, out, _ = run(capsys, "triggers", "add", agent, "--cron", "0 8 * * 1", "--tz", "Europe/Berlin",
                    "--instruction", "look for new phase 3 results", "--json")
    assert json.loads(out)["created"] is False and json.loads(out)["id"] == added["id"]
    assert run(capsys, "triggers", "pause", str(added["id"]))[0] == 0
    _, out, _ = run(capsys, "triggers", "list", "--json")
    assert [t["enabled"] for t in json.loads(out)] == [False]
    assert run(capsys, "triggers", "resume", str(added["id"]))[0] == 0
    _, out, _ = run(capsys, "triggers", "show", str(added["id"]), "--json")
    assert json.loads(out)["enabled"] is True and json.loads(out)["fires"] == []
    assert run(capsys, "triggers", "remove", str(added["id"]))[0] == 0
    assert json.loads(run(capsys, "triggers", "list", "--json")[1]) == []


@pytest.mark.parametrize(("args", "message"), [
    (["ghost-agent", "--every", "1h"], "No research agent named 'ghost-agent'"),
    (["{agent}", "--cron", "not a cron"], "not a valid cron expression"),
    (["{agent}", "--cron", "0 8 * * *", "--tz", "Atlantis/Capital"], "Unknown time zone 'Atlantis/Capital'"),
    (["{agent}", "--at", "2001-01-01T09:00"], "in the past"),
])
def test_bad_triggers_are_clear_errors_that_add_nothing(capsys: pytest.CaptureFixture[str], agent: str,
                                                        args: list[str], message: str) -> None:
    code, out, err = run(capsys, "triggers", "add", *[a.format(agent=agent) for a in args])
    assert code in (1, 2) and out == "" and message in err and "Traceback" not in err
    assert json.loads(run(capsys, "triggers", "list", "--json")[1]) == []


def test_a_run_is_quiet_and_a_dry_run_says_nothing_is_due(capsys: pytest.CaptureFixture[str], agent: str) -> None:
    run(capsys, "triggers", "add", agent, "--every", "6h")
    code, out, err = run(capsys, "triggers", "run", "--no-lock")
    assert code == 0 and out == "" and err == ""  # cron mails whatever is printed
    code, out, err = run(capsys, "triggers", "run", "--dry-run")  # a person asked: say so (issue 15)
    assert code == 0 and out.startswith("nothing due; next: ") and err == ""


def test_inbox_lists_unread_and_marks_read(capsys: pytest.CaptureFixture[str]) -> None:
    registry = open_registry(load_settings().registry_path)
    add_message(registry, agent_id=None, run_id="r1", title="dmd: 1 new paper", body="b", path=None)
    add_message(registry, agent_id=None, run_id="r1", title="duplicate for the same run", body="b")
    _, out, _ = run(capsys, "inbox", "--json")
    assert [m["title"] for m in json.loads(out)] == ["dmd: 1 new paper"]
    assert run(capsys, "inbox", "read")[0] == 0
    assert json.loads(run(capsys, "inbox", "--json")[1]) == []
    assert len(json.loads(run(capsys, "inbox", "--all", "--json")[1])) == 1


def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in `crontab` on PATH that keeps the table in a file, as the real one does per user."""
    table = tmp_path / "crontab.txt"
    script = tmp_path / "bin" / "crontab"
    script.parent.mkdir()
    script.write_text(f"""#!/bin/sh
if [ "$1" = "-l" ]; then [ -f {table} ] && cat {table} && exit 0; echo "no crontab for user" >&2; exit 1; fi
if [ "$1" = "-" ]; then cat > {table}; exit 0; fi
exit 2
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return table


def test_install_cron_prints_applies_idempotently_and_removes(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = fake_crontab(tmp_path, monkeypatch)
    table.write_text("0 3 * * * backup.sh\n")
    code, out, _ = run(capsys, "triggers", "install-cron")
    line = out.strip()
    assert code == 0 and line.startswith("*/5 * * * * MIA_HOME=") and "triggers run" in line
    assert f"MIA_HOME={load_settings().home}" in line and "# mia triggers run" in line
    assert table.read_text() == "0 3 * * * backup.sh\n"  # printing changes nothing
    run(capsys, "triggers", "install-cron", "--apply")
    run(capsys, "triggers", "install-cron", "--apply")
    lines = table.read_text().splitlines()
    assert lines == ["0 3 * * * backup.sh", line]
    run(capsys, "triggers", "install-cron", "--remove")
    assert table.read_text().splitlines() == ["0 3 * * * backup.sh"]
