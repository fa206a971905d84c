"""The registry: migrations (twice, and from two processes at once), WAL, foreign keys, leases."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mia.errors import RunConflict
from mia.store import runs
from mia.store.agents import create_agent, delete_agent
from mia.store.db import migrations, open_registry


def test_migrations_apply_once_and_again_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    first = open_registry(path)
    applied = [m.name for m in migrations.build().applied(first.db)]
    first.close()
    second = open_registry(path)
    assert [m.name for m in migrations.build().applied(second.db)] == applied
    assert migrations.pending(second.conn) == []
    assert applied and applied[0] == "m001_initial"
    assert second.one("PRAGMA journal_mode")["journal_mode"] == "wal"
    assert second.one("PRAGMA foreign_keys")["foreign_keys"] == 1
    assert {"agents", "runs", "run_steps", "usage", "messages", "triggers"} <= set(second.db.table_names())


def test_two_processes_migrating_a_new_registry_at_once_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from mia.store.db import open_registry
        time.sleep(max(0.0, {__import__('time').time() + 1.0} - time.time()))
        reg = open_registry(Path({str(path)!r}))
        print(reg.one("SELECT COUNT(*) AS n FROM _sqlite_migrations")["n"])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path) for _ in range(4)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outputs]
    counts = {out.strip() for out, _ in outputs}
    assert counts == {str(len(migrations.functions))}


def test_deleting_an_agent_cascades_to_runs_steps_and_usage(tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "r.db")
    agent = create_agent(reg, question="DMD treatments", sources=["pubmed"], depth="quick", model="m",
                         budget_usd=1.0)
    run = runs.create_run(reg, agent_id=agent.id, kind="research", params={}, code_version="t")
    runs.step_started(reg, run.id, "plan")
    delete_agent(reg, agent.id)
    assert reg.one("SELECT COUNT(*) AS n FROM runs")["n"] == 0
    assert reg.one("SELECT COUNT(*) AS n FROM run_steps")["n"] == 0


def test_derived_agent_names_get_a_suffix_and_explicit_names_must_be_free(tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "r.db")
    kw = {"sources": ["pubmed"], "depth": "quick", "model": "m", "budget_usd": 1.0}
    assert create_agent(reg, question="DMD treatments?", **kw).slug == "dmd-treatments"
    assert create_agent(reg, question="DMD treatments!", **kw).slug == "dmd-treatments-2"
    with pytest.raises(Exception, match="already exists"):
        create_agent(reg, question="x", slug="dmd-treatments", **kw)


def test_a_live_lease_cannot_be_taken_but_a_dead_owners_can(tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "r.db")
    agent = create_agent(reg, question="q", sources=["pubmed"], depth="quick", model="m", budget_usd=1.0)
    run = runs.create_run(reg, agent_id=agent.id, kind="research", params={}, code_version="t")
    me = runs.owner_id()
    runs.claim_run(reg, run.id, me, lease_seconds=60)
    with pytest.raises(RunConflict):
        runs.claim_run(reg, run.id, me.replace(":", ":9", 1) + "x", lease_seconds=60)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = me.split(":")[0]
    reg.execute("UPDATE runs SET owner = ? WHERE id = ?", (f"{host}:{dead.stdout.strip()}:1", run.id))
    assert [r.id for r in runs.abandoned_runs(reg)] == [run.id]
    claimed = runs.claim_run(reg, run.id, me, lease_seconds=60)
    assert claimed.owner == me and claimed.attempts == 2
