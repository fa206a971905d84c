"""The pipeline per sub-question (#16): a sub-question's extraction starts once its own searches are in, so one
slow source of one sub-question holds back no other extraction; numbering does not depend on timing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from fakes.research_llm import ResearchLLM, task_of
from fakes.server import FakeServices, RecordedRequest

from .conftest import Mia, base_env
from .test_crash_resume import done_steps, wait_for

SLOW = ("europepmc", "corticosteroids")  # the third sub-question's Europe PMC search (ResearchLLM's facets)
SLOW_S = 3.0


def extractions(services: FakeServices) -> list[RecordedRequest]:
    return [r for r in services.requests if r.service == "workers-ai" and task_of(r.json or {}) == "extract"]


def outputs(home: Path) -> tuple[str, str, str]:
    folder = home / "workspace" / "agents" / "dmd-treatments"
    return ((folder / "sources.json").read_text(), (folder / "evidence" / "claims.json").read_text(),
            (folder / "report.md").read_text())


def test_the_other_sub_questions_extract_while_one_slow_search_is_still_out(mia_home: Path) -> None:
    with FakeServices(llm=ResearchLLM(sub_questions=3), slow_queries={SLOW: SLOW_S}) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        result = mia.run("research", "DMD treatments", "--sources", "pubmed,europepmc", "--depth", "quick")
        assert result.returncode == 0, result.stderr
        slow = [r for r in services.requests if r.service == "europepmc" and "corticosteroids" in str(r.query)]
        assert len(slow) == 1
        done = extractions(services)
        assert len(done) == 3
        early = [r for r in done if r.started < slow[0].finished]
        # The two sub-questions whose searches were in did not wait for the slow one; the third did.
        assert len(early) == 2, [(r.started, slow[0].finished) for r in done]
        assert all("corticosteroids" not in r.json["messages"][-1]["content"] for r in early)


def test_a_run_killed_mid_pipeline_resumes_to_the_same_sources_claims_and_report(tmp_path: Path) -> None:
    fresh_home, killed_home = tmp_path / "fresh" / "home", tmp_path / "killed" / "home"
    with FakeServices(llm=ResearchLLM(sub_questions=3), slow_queries={SLOW: SLOW_S}) as services:
        fresh = Mia({**base_env(fresh_home), **services.env()})
        result = fresh.run("research", "DMD treatments", "--sources", "pubmed,europepmc", "--depth", "quick")
        assert result.returncode == 0, result.stderr

        killed = Mia({**base_env(killed_home), **services.env()})
        proc = killed.popen("research", "DMD treatments", "--sources", "pubmed,europepmc", "--depth", "quick")
        wait_for(lambda: {"extract/0", "extract/1"} <= done_steps(killed_home))
        before = done_steps(killed_home)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert "search/europepmc/2" not in before and "extract/2" not in before  # killed mid-pipeline
        paid = len(extractions(services))
        resumed = killed.run("agents", "resume", "dmd-treatments", "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["status"] == "done"
        assert len(extractions(services)) == paid + 1  # only the third sub-question's extraction was left
    assert outputs(killed_home) == outputs(fresh_home)
    sources = json.loads(outputs(fresh_home)[0])
    assert [s["number"] for s in sources] == list(range(1, len(sources) + 1))
