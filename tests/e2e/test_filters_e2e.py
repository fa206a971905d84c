"""Filters end to end: each service receives them as its API documents, the agent keeps them, follow-ups use them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from fakes.corpus import Article
from fakes.server import FakeServices

from .conftest import Mia
from .test_triggers_e2e import iso

FILTERS = ["--since", "2023", "--until", "2025", "--article-types", "rct,meta-analysis",
           "--trial-status", "recruiting,completed", "--trial-phase", "2,3", "--domains", "example.com,nih.gov"]


def requests_of(services: FakeServices, service: str) -> list:
    return [r for r in services.requests if r.service == service]


def test_every_service_gets_the_filters_its_api_supports(mia: Mia, mia_home: Path, services: FakeServices) -> None:
    services.corpus.add_pubmed(Article(
        pmid="99018888", title="Randomised trial of DMD treatments with givinostat", journal="Trials Journal",
        year=2024, month="Mar", authors=[("Ito", "Ken")], abstract=[("", "DMD treatments in a randomised trial.")],
        pub_types=("Journal Article", "Randomized Controlled Trial")), also_europepmc=True)
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json", *FILTERS)
    assert result.returncode == 0, result.stderr

    esearch = [r for r in requests_of(services, "pubmed") if r.path.endswith("esearch.fcgi")]
    assert esearch and all(r.query["datetype"] == ["pdat"] and r.query["mindate"] == ["2023"]
                           and r.query["maxdate"] == ["2025"] for r in esearch)
    assert all(r.query["term"][0].endswith('AND ("Randomized Controlled Trial"[pt] OR "Meta-Analysis"[pt])')
               for r in esearch)
    epmc = requests_of(services, "europepmc")
    assert epmc and all('(PUB_TYPE:"Randomized Controlled Trial" OR PUB_TYPE:"Meta-Analysis") AND '
                        "PUB_YEAR:[2023 TO 2025]" in r.query["query"][0] for r in epmc)
    trials = requests_of(services, "trials")
    assert trials and all(r.query["filter.overallStatus"] == ["RECRUITING,COMPLETED"] for r in trials)
    assert all(r.query["filter.advanced"] == ["AREA[Phase](PHASE2 OR PHASE3) AND "
                                             "AREA[StartDate]RANGE[2023-01-01,2025-12-31]"] for r in trials)
    web = requests_of(services, "perplexity")
    assert web and all(r.json["search_domain_filter"] == ["example.com", "nih.gov"]
                       and r.json["search_after_date_filter"] == "01/01/2023"
                       and r.json["search_before_date_filter"] == "12/31/2025" for r in web)

    folder = mia_home / "workspace" / "agents" / "dmd-treatments"
    sources = json.loads((folder / "sources.json").read_text())
    papers = [s for s in sources if s["kind"] in ("pubmed", "europepmc")]
    assert papers and {s["identifier"] for s in papers} == {"99018888"}  # only the RCT of 2024
    assert all(s["status"] in ("RECRUITING", "COMPLETED") for s in sources if s["kind"] == "trial")
    assert all("example.com" in s["url"] or "nih.gov" in s["url"] for s in sources if s["kind"] == "web")
    assert "Filters: 2023–2025; article types: rct, meta-analysis" in (folder / "report.md").read_text()


def test_follow_ups_keep_the_filters_and_triggers_add_changes_them(mia: Mia, services: FakeServices) -> None:
    first = mia.run("research", "DMD treatments", "--depth", "quick", "--sources", "pubmed,trials",
                    "--since", "2020", "--trial-status", "recruiting", "--json")
    assert first.returncode == 0, first.stderr
    added = mia.run("triggers", "add", "dmd-treatments", "--every", "1h", "--until", "2025", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["filters"] == {"since": 2020, "until": 2025, "trial_status": ["RECRUITING"]}
    next_due = datetime.fromisoformat(json.loads(added.stdout)["next_due"].replace("Z", "+00:00"))
    services.reset_log()
    fired = mia.run("triggers", "run", "--now", iso(next_due + timedelta(minutes=2)), "--json")
    assert fired.returncode == 0, fired.stderr
    esearch = [r for r in requests_of(services, "pubmed") if r.path.endswith("esearch.fcgi")]
    assert esearch and all(r.query["mindate"] == ["2020"] and r.query["maxdate"] == ["2025"] for r in esearch)
    trials = requests_of(services, "trials")
    assert trials and all(r.query["filter.overallStatus"] == ["RECRUITING"] for r in trials)
    assert all(r.query["filter.advanced"] == ["AREA[StartDate]RANGE[2020-01-01,2025-12-31]"] for r in trials)


def test_bad_filters_are_usage_errors_and_create_no_agent(mia: Mia, mia_home: Path) -> None:
    for args, message in ((["--since", "2025", "--until", "2020"], "--since 2025 is after --until 2020"),
                          (["--article-types", "rct,opinion"], "Unknown article type 'opinion'"),
                          (["--trial-phase", "5"], "Unknown trial phase '5'"),
                          (["--domains", "not a domain"], "is not a domain name")):
        result = mia.run("research", "DMD treatments", *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""
    assert not (mia_home / "workspace" / "agents" / "dmd-treatments").exists()
