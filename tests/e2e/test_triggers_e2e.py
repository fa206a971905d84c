"""`mia triggers run` end to end: exactly-once under concurrency, the lock, recovery, change notes."""

from __future__ import annotations

import fcntl
import json
import signal
import sqlite3
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakes.corpus import Article
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from mia.agents.schedule.triggers import add
from mia.store.agents import create_agent
from mia.store.db import open_registry

from .conftest import MIA, Mia, base_env
from .test_crash_resume import wait_for


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def test_four_concurrent_runs_over_200_due_triggers_fire_every_slot_exactly_once(mia_home: Path) -> None:
    registry = open_registry(mia_home / "registry.db")
    created = datetime.now(UTC) - timedelta(minutes=90)
    for i in range(200):
        agent = create_agent(registry, question=f"duchenne dystrophin {i}", sources=["europepmc"], depth="quick",
                             model="", budget_usd=1.0)
        add(registry, agent_ref=agent.slug, cron=None, tz=None, every="1h", at=None, instruction="", now=created)
    registry.close()
    with FakeServices() as services:
        env = {k: v for k, v in {**base_env(mia_home), **services.env()}.items() if not k.startswith("CLOUDFLARE")}
        procs = [subprocess.Popen([MIA, "triggers", "run", "--no-lock", "--json"], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
        outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
    fired_by = [sum(1 for f in json.loads(out)["fires"] if f["action"] == "fired") for out, _ in outputs]
    db = sqlite3.connect(mia_home / "registry.db")
    per_trigger = db.execute("SELECT trigger_id, COUNT(*) FROM runs GROUP BY trigger_id").fetchall()
    assert len(per_trigger) == 200 and {n for _, n in per_trigger} == {1}
    assert db.execute("SELECT COUNT(*) FROM trigger_fires").fetchone()[0] == 200
    assert db.execute("SELECT COUNT(*) FROM runs WHERE status = 'succeeded'").fetchone()[0] == 200
    assert sum(fired_by) == 200 and sum(1 for n in fired_by if n) >= 2  # the work really was shared


def test_a_second_triggers_run_exits_at_once_while_the_first_holds_the_lock(mia: Mia, mia_home: Path) -> None:
    mia_home.mkdir(parents=True, exist_ok=True)
    with (mia_home / "triggers-run.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = mia.run("triggers", "run", timeout=20)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_a_run_killed_mid_way_is_recovered_by_the_next_triggers_run(mia_home: Path) -> None:
    llm = ResearchLLM()
    gate = threading.Event()
    llm.hold["synthesize"] = gate
    with FakeServices(llm=llm) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        proc = mia.popen("research", "DMD treatments", "--depth", "quick")
        wait_for(lambda: llm.tasks["synthesize"] == 1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        gate.set()
        result = mia.run("triggers", "run", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["recovered"]) == 1
    db = sqlite3.connect(mia_home / "registry.db")
    assert db.execute("SELECT status, outcome FROM runs").fetchone() == ("succeeded", "complete")
    assert (mia_home / "workspace" / "agents" / "dmd-treatments" / "report.md").exists()
    assert "recovered run" in (mia_home / "logs" / "triggers.log").read_text()


def test_a_follow_up_lists_exactly_what_changed_and_stays_quiet_when_nothing_did(mia_home: Path) -> None:
    with FakeServices(llm=ResearchLLM()) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        first = mia.run("research", "DMD treatments", "--depth", "quick", "--sources", "pubmed,trials", "--json")
        assert first.returncode == 0, first.stderr
        folder = mia_home / "workspace" / "agents" / "dmd-treatments"
        old = json.loads((folder / "sources.json").read_text())
        nct = next(s["identifier"] for s in old if s["kind"] == "trial")
        old_status = next(s["status"] for s in old if s["identifier"] == nct)
        added = mia.run("triggers", "add", "dmd-treatments", "--every", "1h", "--json")
        next_due = datetime.fromisoformat(json.loads(added.stdout)["next_due"].replace("Z", "+00:00"))

        trial = services.corpus.trial(nct)
        trial.status = "TERMINATED" if old_status != "TERMINATED" else "COMPLETED"
        services.corpus.add_pubmed(Article(
            pmid="99019999", title="Durable dystrophin expression after DMD gene therapy: 5-year follow-up",
            journal="Journal of Invented Results", year=2026, month="Nov", authors=[("Okafor", "Ada")],
            abstract=[("", "DMD treatments with gene therapy kept dystrophin expression for five years.")]))
        second = mia.run("triggers", "run", "--now", iso(next_due + timedelta(minutes=2)), "--json")
        assert second.returncode == 0, second.stderr
        fire = json.loads(second.stdout)["fires"][0]
        assert fire["action"] == "fired" and fire["outcome"] == "done"
        notes = sorted((folder / "changes").glob("*.md"))
        assert len(notes) == 1
        note = notes[0].read_text()
        assert "## New papers (1)" in note and "99019999" in note
        assert f"{nct}: {old_status} → {trial.status}" in note and "## Trial status changes (1)" in note
        assert "New trials" not in note and "New web" not in note
        assert (folder / "reports" / "v2.md").exists()
        inbox = json.loads(mia.run("inbox", "--json").stdout)
        assert len(inbox) == 1 and "1 new paper, 1 trial status change" in inbox[0]["title"]

        third = mia.run("triggers", "run", "--now", iso(next_due + timedelta(hours=1, minutes=2)), "--json")
        assert json.loads(third.stdout)["fires"][0]["outcome"] == "unchanged"
        notes = sorted((folder / "changes").glob("*.md"))
        assert len(notes) == 2 and "Nothing material changed since report v2" in notes[-1].read_text()
        assert not (folder / "reports" / "v3.md").exists()
        assert len(json.loads(mia.run("inbox", "--json").stdout)) == 1
        records = {json.loads(p.read_text())["outcome"]: json.loads(p.read_text()) for p in (folder / "runs").glob("*")}
        assert records["unchanged"]["report_version"] == 2  # the report stays at v2: this run wrote no v3
