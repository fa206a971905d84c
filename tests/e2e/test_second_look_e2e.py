"""A second look: after extraction, gaps are named and searched again, by depth, as durable steps."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.corpus import Article, Corpus
from fakes.research_llm import GAP_FACETS, ResearchLLM
from fakes.server import FakeServices

from .conftest import Mia, base_env


def done_steps(home: Path) -> set[str]:
    db = sqlite3.connect(home / "registry.db")
    return {row[0] for row in db.execute("SELECT step_key FROM run_steps WHERE status = 'done'")}


@pytest.fixture
def gappy(mia_home: Path) -> Iterator[tuple[Mia, ResearchLLM]]:
    corpus = Corpus()
    for n, facet in enumerate(GAP_FACETS):  # papers only a follow-up search finds
        corpus.add_pubmed(Article(f"9903000{n}", f"{facet.capitalize()}: a phase 2 study", "Gap Journal", 2024,
                                  "May", [("Ng", "Li")], [("", f"In this study {facet} raised muscle function.")]))
    llm = ResearchLLM()
    with FakeServices(corpus=corpus, llm=llm) as fake:
        yield Mia({**base_env(mia_home), **fake.env()}), llm


def test_a_standard_run_searches_again_where_the_evidence_has_gaps(gappy: tuple[Mia, ResearchLLM],
                                                                   mia_home: Path) -> None:
    mia, llm = gappy
    llm.gap_queries = 2
    result = mia.run("research", "DMD treatments", "--depth", "standard", "--json")
    assert result.returncode == 0, result.stderr
    folder = Path(json.loads(result.stdout)["report_path"]).parent
    plan = json.loads((folder / "plan.json").read_text())
    assert len(plan) == 5 + 2 and [sq["query"] for sq in plan[5:]] == list(GAP_FACETS[:2])
    assert llm.tasks["gaps"] == 1  # standard: one round
    assert {"gaps/1", "search/pubmed/5", "search/pubmed/6", "extract/5", "extract/6"} <= done_steps(mia_home)
    sources = {s["identifier"] for s in json.loads((folder / "sources.json").read_text())}
    assert {"99030000", "99030001"} <= sources
    claims = json.loads((folder / "evidence" / "claims.json").read_text())
    assert {c["sub_question"] for c in claims} >= {5, 6}  # the new sub-questions found evidence
    report = (folder / "report.md").read_text()
    assert "Second look (round 1): searched again for 'utrophin modulators'; 'vamorolone'" in report
    assert {e["sub_question"] for e in json.loads((folder / "search_log.json").read_text())} == set(range(1, 8))


def test_a_deep_run_looks_twice_and_stops_early_when_nothing_is_missing(gappy: tuple[Mia, ResearchLLM]) -> None:
    mia, llm = gappy
    llm.gap_queries = 1
    result = mia.run("research", "DMD treatments", "--depth", "deep", "--json")
    assert result.returncode == 0, result.stderr
    assert llm.tasks["gaps"] == 2  # deep: two rounds, each finding something new
    llm.gap_queries = 0
    again = mia.run("research", "DMD treatments", "--depth", "deep", "--json")
    assert again.returncode == 0 and llm.tasks["gaps"] == 3  # one look that found nothing missing


def test_a_quick_run_takes_no_second_look(gappy: tuple[Mia, ResearchLLM]) -> None:
    mia, llm = gappy
    llm.gap_queries = 2
    assert mia.run("research", "DMD treatments", "--depth", "quick").returncode == 0
    assert llm.tasks["gaps"] == 0


def test_a_run_killed_after_its_second_look_resumes_without_looking_or_searching_again(
        gappy: tuple[Mia, ResearchLLM], mia_home: Path) -> None:
    import signal
    import threading
    import time

    mia, llm = gappy
    llm.gap_queries = 1
    gate = threading.Event()
    llm.hold["synthesize"] = gate
    proc = mia.popen("research", "DMD treatments", "--depth", "standard", "--json")
    deadline = time.monotonic() + 60
    while llm.tasks["synthesize"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = done_steps(mia_home)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    gate.set()
    assert {"gaps/1", "search/pubmed/5", "extract/5"} <= before and "synthesize" not in before
    resumed = mia.run("agents", "resume", "dmd-treatments", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert llm.tasks["gaps"] == 1 and llm.tasks["extract"] == 6  # finished steps were not asked again
    plan = json.loads((Path(json.loads(resumed.stdout)["report_path"]).parent / "plan.json").read_text())
    assert [sq["query"] for sq in plan[5:]] == [GAP_FACETS[0]]
