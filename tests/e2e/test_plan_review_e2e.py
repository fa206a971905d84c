"""Plan review: the person sees the plan first, edits it in $EDITOR (scripted here) or cancels."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from .conftest import MIA, Mia
from .test_triggers_e2e import iso

EDITED = """# my plan
## Which gene therapies for DMD reached phase 3?
query: duchenne micro-dystrophin phase 3
pubmed: delandistrogene moxeparvovec

## How safe is givinostat?
query: givinostat safety duchenne
"""


def editor(tmp_path: Path, new_text: str) -> str:
    """An $EDITOR that checks it was given the drafted plan, keeps a copy, and writes `new_text` over it."""
    script = tmp_path / "editor.py"
    (tmp_path / "replacement.md").write_text(new_text)
    script.write_text(
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        f"pathlib.Path({str(tmp_path / 'seen.md')!r}).write_text(path.read_text())\n"
        f"path.write_text(pathlib.Path({str(tmp_path / 'replacement.md')!r}).read_text())\n")
    return f"{sys.executable} {script}"


def run(mia: Mia, *args: str, answers: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIA, *args], input=answers, capture_output=True, text=True, timeout=120,
                          env={**mia.env, **(env or {})})


def queries(services: FakeServices, service: str, arg: str) -> set[str]:
    return {r.query[arg][0] for r in services.requests if r.service == service and arg in r.query}


def test_an_edited_plan_is_what_is_searched_and_what_follow_ups_search_again(
        mia: Mia, mia_home: Path, services: FakeServices, research_llm: ResearchLLM, tmp_path: Path) -> None:
    result = run(mia, "research", "DMD treatments", "--depth", "quick", "--review", "--json",
                 answers="e\na\n", env={"EDITOR": editor(tmp_path, EDITED)})
    assert result.returncode == 0, result.stderr
    seen = (tmp_path / "seen.md").read_text()
    assert seen.startswith("# Research plan for: DMD treatments") and seen.count("\n## What is known about") >= 2
    assert "1. Which gene therapies for DMD reached phase 3?" in result.stderr  # shown again after the edit
    assert research_llm.tasks["plan"] == 1  # drafted once, for the review; the run did not plan again
    assert queries(services, "pubmed", "term") == {"delandistrogene moxeparvovec", "givinostat safety duchenne"}
    assert queries(services, "trials", "query.term") == {"duchenne micro-dystrophin phase 3",
                                                         "givinostat safety duchenne"}
    folder = mia_home / "workspace" / "agents" / "dmd-treatments"
    plan = json.loads((folder / "plan.json").read_text())
    assert plan == [{"question": "Which gene therapies for DMD reached phase 3?",
                     "query": "duchenne micro-dystrophin phase 3",
                     "queries": {"pubmed": "delandistrogene moxeparvovec"}},
                    {"question": "How safe is givinostat?", "query": "givinostat safety duchenne"}]
    db = sqlite3.connect(mia_home / "registry.db")
    assert db.execute("SELECT COUNT(*) FROM usage WHERE step_key = 'plan' AND agent_id IS NOT NULL").fetchone()[0]

    added = json.loads(mia.run("triggers", "add", "dmd-treatments", "--every", "1h", "--json").stdout)
    services.reset_log()
    due = datetime.fromisoformat(added["next_due"].replace("Z", "+00:00"))
    fired = mia.run("triggers", "run", "--now", iso(due + timedelta(minutes=2)), "--json")
    assert fired.returncode == 0, fired.stderr
    assert queries(services, "pubmed", "term") == {"delandistrogene moxeparvovec", "givinostat safety duchenne"}


def test_cancelling_searches_nothing_makes_no_agent_and_keeps_the_planning_spend(
        mia: Mia, mia_home: Path, services: FakeServices) -> None:
    result = run(mia, "research", "DMD treatments", "--review", answers="c\n")
    assert result.returncode == 1 and "Cancelled: nothing was searched" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert not any(r.service in ("pubmed", "europepmc", "trials", "perplexity") for r in services.requests)
    assert not (mia_home / "workspace" / "agents" / "dmd-treatments").exists()
    db = sqlite3.connect(mia_home / "registry.db")
    assert db.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM usage WHERE step_key = 'plan-review' AND agent_id IS NULL "
                      "AND cost_usd > 0").fetchone()[0] >= 1


def test_an_edit_that_does_not_read_keeps_the_plan_and_asks_again(mia: Mia, services: FakeServices,
                                                                   tmp_path: Path) -> None:
    result = run(mia, "research", "DMD treatments", "--depth", "quick", "--review", "--json", answers="e\na\n",
                 env={"EDITOR": editor(tmp_path, "## A question without a query\n")})
    assert result.returncode == 0, result.stderr
    assert "The plan was not changed: Sub-question 1 ('A question without a query') has no query." in result.stderr
    assert result.stderr.count("Search with this plan?") == 2


def test_a_saved_plan_runs_without_asking_and_without_planning(mia: Mia, services: FakeServices,
                                                               research_llm: ResearchLLM, tmp_path: Path) -> None:
    saved = tmp_path / "plan.md"
    saved.write_text(EDITED)
    result = mia.run("research", "DMD treatments", "--plan", str(saved), "--json")  # stdin: /dev/null
    assert result.returncode == 0, result.stderr
    assert research_llm.tasks["plan"] == 0
    assert queries(services, "europepmc", "query") == {"duchenne micro-dystrophin phase 3",
                                                       "givinostat safety duchenne"}
    as_json = tmp_path / "plan.json"
    as_json.write_text(json.dumps([{"question": "Q?", "query": "exon skipping"}]))
    services.reset_log()
    again = mia.run("research", "DMD exon skipping", "--plan", str(as_json), "--json")
    assert again.returncode == 0 and queries(services, "pubmed", "term") == {"exon skipping"}


def test_a_plan_file_that_does_not_read_is_a_usage_error(mia: Mia, mia_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("## Only a question\nsearch: not a field\n")
    result = mia.run("research", "DMD treatments", "--plan", str(bad))
    assert result.returncode == 2 and "Plan line 2: 'search' is neither 'query' nor a source." in result.stderr
    missing = mia.run("research", "DMD treatments", "--plan", str(tmp_path / "nope.md"))
    assert missing.returncode == 2 and "cannot be read" in missing.stderr
    assert not (mia_home / "workspace" / "agents").exists() or not any((mia_home / "workspace" / "agents").iterdir())
