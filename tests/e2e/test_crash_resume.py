"""A research run survives SIGKILL: resume finishes it without paying twice for finished steps."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from pathlib import Path

from fakes.research_llm import ResearchLLM, task_of
from fakes.server import FakeServices

from .conftest import Mia, base_env


def done_steps(home: Path) -> set[str]:
    db = home / "registry.db"
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return {r[0] for r in conn.execute("SELECT step_key FROM run_steps WHERE status = 'done'")}
    except sqlite3.OperationalError:
        return set()


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def llm_tasks(services: FakeServices) -> list[str]:
    return [task_of(r.json or {}) for r in services.requests if r.service == "workers-ai" and r.status == 200]


def esearch_terms(services: FakeServices) -> list[str]:
    return [r.query["term"][0] for r in services.requests if r.path.endswith("esearch.fcgi") and r.status == 200]


def test_killed_inside_the_search_stage_resumes_without_planning_again(mia_home: Path) -> None:
    llm = ResearchLLM()
    with FakeServices(llm=llm, latency={"pubmed": 1.5}) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        proc = mia.popen("research", "DMD treatments", "--depth", "quick", "--json")
        wait_for(lambda: "plan" in done_steps(mia_home) and "search/trials/0" in done_steps(mia_home))
        before = done_steps(mia_home)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert "write" not in before and not any(s.startswith("search/pubmed") for s in before)

        notice = mia.run("agents", "list")
        assert "was interrupted" in notice.stderr and "mia agents resume dmd-treatments" in notice.stderr

        resumed = mia.run("agents", "resume", "dmd-treatments", "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["status"] == "done"
        tasks = llm_tasks(services)
        assert tasks.count("plan") == 1  # the finished plan step was not paid for again
        trial_queries = [r.query["query.term"][0] for r in services.requests
                         if r.service == "trials" and r.status == 200]
        plan = json.loads((mia_home / "workspace" / "agents" / "dmd-treatments" / "plan.json").read_text())
        assert sorted(set(trial_queries)) == sorted(sq["query"] for sq in plan)
        for step in (s for s in before if s.startswith("search/trials/")):
            query = plan[int(step.rsplit("/", 1)[1])]["query"]
            assert trial_queries.count(query) == 1  # a search that had finished was not sent again


def test_killed_while_writing_the_report_resumes_with_only_that_step_again(mia_home: Path) -> None:
    llm = ResearchLLM()
    gate = threading.Event()
    llm.hold["synthesize"] = gate
    with FakeServices(llm=llm) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        proc = mia.popen("research", "DMD treatments", "--depth", "quick", "--json")
        wait_for(lambda: llm.tasks["synthesize"] == 1)
        before = done_steps(mia_home)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        gate.set()
        searches_before = len(esearch_terms(services))
        assert {"plan", "extract/0", "search/pubmed/2"} <= before and "synthesize" not in before

        resumed = mia.run("agents", "resume", "dmd-treatments", "--json")
        assert resumed.returncode == 0, resumed.stderr
        out = json.loads(resumed.stdout)
        assert out["status"] == "done" and Path(out["report_path"]).exists()
        tasks = llm_tasks(services)
        assert tasks.count("plan") == 1 and tasks.count("extract") == 3
        assert tasks.count("synthesize") == 2  # the step in flight ran again; nothing else did
        assert len(esearch_terms(services)) == searches_before == 3
        db = sqlite3.connect(mia_home / "registry.db")
        assert db.execute("SELECT status, attempts FROM runs").fetchone() == ("succeeded", 2)
