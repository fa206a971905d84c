"""The search log says what was searched where, with how many hits and when, failures included."""

from __future__ import annotations

from mia.agents.research.search_log import build_log, render_summary

TASKS = [(0, "pubmed", "dmd gene therapy"), (0, "trials", "dmd gene therapy"), (1, "europepmc", "dmd steroids")]
SERVICES = {"pubmed": "PubMed", "trials": "ClinicalTrials.gov", "europepmc": "Europe PMC"}


def test_every_search_is_logged_with_its_hits_and_failures_with_their_reason() -> None:
    outputs = [{"sources": [{}, {}], "total": 1843, "searched_at": "2026-11-30T08:00:00Z"}, None,
               {"sources": [{}], "total": None, "searched_at": "2026-11-30T08:00:01Z"}]
    log = build_log(TASKS, outputs, SERVICES, {1: ("failed", "ClinicalTrials.gov answered HTTP 503")})
    assert log[0] == {"sub_question": 1, "source": "pubmed", "service": "PubMed", "query": "dmd gene therapy",
                      "status": "ok", "results": 2, "total": 1843, "searched_at": "2026-11-30T08:00:00Z"}
    assert log[1]["status"] == "failed" and log[1]["error"] == "ClinicalTrials.gov answered HTTP 503"
    summary = render_summary(log)
    assert summary.startswith("## Searches") and "3 searches on 2026-11-30" in summary
    assert '- "dmd gene therapy" — PubMed 2 of 1,843; ClinicalTrials.gov failed' in summary
    assert '- "dmd steroids" — Europe PMC 1' in summary and "search_log.json" in summary
