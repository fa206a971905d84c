"""Reports you can trust whatever the model does (#13): identifiers, quotes, duplicates, weak answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from mia.identifiers import url_keys
from mia.models import Source

from .conftest import Mia
from .test_research_e2e import registry

AUDIT_KEYS = {"identifiers_removed", "quotes_verified", "quotes_unverified", "claims_reattributed"}


def research(mia: Mia, *extra: str) -> tuple[dict[str, object], str]:
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json", *extra)
    assert result.stdout, result.stderr
    out = json.loads(result.stdout)
    return out, Path(str(out["report_path"])).read_text()


def test_invented_links_and_ids_never_reach_the_report(mia: Mia, research_llm: ResearchLLM,
                                                       mia_home: Path) -> None:
    research_llm.invented_ids = True
    out, report = research(mia)
    body = report.split("\n## Sources", 1)[0]
    for invented in ("journal.example", "10.5555/abc.123", "example.org/page", "38999999", "NCT09999999", "[99]"):
        assert invented not in body
    assert out["identifiers_removed"] == 5 and out["citations_removed"] == 1, out
    assert body.count("*(citation removed: not a retrieved source)*") == 6
    assert "removed 1 citation(s) and 5 link(s) or identifier(s)" in report
    trial = re.search(r"The trial (NCT\d{8}) \[\d+\] is registered here \[(\d+)\]", body)
    assert trial, body  # a link to a retrieved trial page becomes that source's number
    sources = json.loads((mia_home / "workspace" / "agents" / out["name"] / "sources.json").read_text())
    assert next(s for s in sources if s["number"] == int(trial.group(2)))["identifier"] == trial.group(1)
    record = json.loads((mia_home / "workspace" / "agents" / str(out["name"]) / "runs" /
                         f"{out['run_id']}.json").read_text())
    assert record["identifiers_removed"] == 5 and record["citations_removed"] == 1


@pytest.mark.parametrize(("quotes", "verified", "unverified", "reattributed"), [
    ("real", "all", 0, 0),
    ("wrong_source", "all", 0, "some"),
    ("invented", 0, "all", 0),
    ("missing", 0, "all", 0),
])
def test_quotes_are_checked_against_the_sources_text(mia: Mia, research_llm: ResearchLLM, mia_home: Path,
                                                     quotes: str, verified: object, unverified: object,
                                                     reattributed: object) -> None:
    research_llm.quotes = quotes
    out, report = research(mia)
    assert set(out) >= AUDIT_KEYS
    claims = json.loads((mia_home / "workspace" / "agents" / str(out["name"]) / "evidence" / "claims.json")
                        .read_text())
    total = len(claims)
    assert total > 0
    expect = {"all": total, "some": None}
    for key, want in (("quotes_verified", verified), ("quotes_unverified", unverified),
                      ("claims_reattributed", reattributed)):
        if want == "some":
            assert 0 < int(out[key]) <= total, (key, out)  # type: ignore[call-overload]
        else:
            assert out[key] == expect.get(want, want), (key, out)  # type: ignore[arg-type]
    if quotes == "wrong_source":
        moved = [c for c in claims if c["quote_check"] == "reattributed"]
        assert moved and all(c["source"] != c["cited_as"] for c in moved)
    if quotes in ("invented", "missing"):
        assert {c["quote_check"] for c in claims} == {"not_found"}
        assert ("quote was not found" if quotes == "invented" else "they gave no quote") in report


def test_a_document_found_by_two_services_gets_one_number(research_llm: ResearchLLM, mia_home: Path) -> None:
    from fakes.corpus import Corpus

    from .conftest import base_env

    corpus = Corpus()
    dupes = corpus.add_cross_service_duplicates()
    with FakeServices(llm=research_llm, corpus=corpus) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        out, _ = research(mia)
    sources = json.loads((mia_home / "workspace" / "agents" / str(out["name"]) / "sources.json").read_text())
    records = [Source.model_validate(s) for s in sources]
    for url in dupes:
        same = [s for s in records if s.keys & url_keys(url)]
        assert len(same) == 1, (url, [s.url for s in same])  # one number for the document
        if "utm_" not in url:
            assert same[0].kind != "web" and url in [same[0].url, *same[0].aliases]  # structured record first
    assert len({s.number for s in records}) == len(records)


def test_two_sub_questions_with_the_same_query_cost_one_search(mia: Mia, research_llm: ResearchLLM,
                                                               services: FakeServices, mia_home: Path) -> None:
    research_llm.plain_queries = True  # every sub-question searches the question as typed
    out, _ = research(mia)
    db = registry(mia_home)
    paid = db.execute("SELECT COUNT(*) FROM usage WHERE service = 'Perplexity'").fetchone()[0]
    assert paid == 1 and services.count("perplexity") == 1


def test_a_service_that_failed_in_a_follow_up_is_not_a_change(mia_home: Path) -> None:
    from datetime import datetime, timedelta

    from fakes.corpus import Trial

    from .conftest import base_env
    from .test_triggers_e2e import iso

    with FakeServices(llm=ResearchLLM()) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        first = mia.run("research", "DMD treatments", "--depth", "quick", "--sources", "pubmed,trials", "--json")
        assert first.returncode == 0, first.stderr
        folder = mia_home / "workspace" / "agents" / "dmd-treatments"
        papers = {s["identifier"] for s in json.loads((folder / "sources.json").read_text()) if s["kind"] == "pubmed"}
        assert papers
        added = json.loads(mia.run("triggers", "add", "dmd-treatments", "--every", "1h", "--json").stdout)
        due = datetime.fromisoformat(added["next_due"].replace("Z", "+00:00"))
        services.corpus.add_trial(Trial(
            nct_id="NCT99999998", status="RECRUITING", phases=["PHASE2"], sponsor="Invented Bio",
            brief_title="DMD treatments: a new gene therapy trial", official_title="A new DMD gene therapy trial",
            conditions=["Duchenne Muscular Dystrophy"], summary="DMD treatments with gene therapy."))
        services.fail_next("pubmed", 400, 400, 400)  # an error page for each of the three searches
        second = mia.run("triggers", "run", "--now", iso(due + timedelta(minutes=2)), "--json")
        assert json.loads(second.stdout)["fires"][0]["outcome"] == "done", second.stderr
        note = sorted((folder / "changes").glob("*.md"))[-1].read_text()
        assert "Could not be checked this time: PubMed" in note and "New papers" not in note
        assert "NCT99999998" in note
        kept = {s["identifier"] for s in json.loads((folder / "sources.json").read_text()) if s["kind"] == "pubmed"}
        assert papers <= kept  # carried forward, not dropped
        third = mia.run("triggers", "run", "--now", iso(due + timedelta(hours=1, minutes=2)), "--json")
        assert json.loads(third.stdout)["fires"][0]["outcome"] == "unchanged", third.stdout
        last = sorted((folder / "changes").glob("*.md"))[-1].read_text()
        assert "New papers" not in last and "Could not be checked" not in last


@pytest.mark.parametrize(("switch", "status", "words"), [
    ({"uncited": True}, "uncited", "Nothing in this report is cited"),
    ({"quotes": "empty_claims"}, "no_evidence", "every evidence extraction came back empty"),
    ({"quotes": "missing"}, "no_evidence", "every evidence extraction came back empty"),
    ({"quotes": "invented"}, "no_evidence", "without a quote found in its source"),
])
def test_a_weak_answer_is_not_done(mia: Mia, research_llm: ResearchLLM, switch: dict[str, object], status: str,
                                   words: str) -> None:
    for name, value in switch.items():
        setattr(research_llm, name, value)
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    out = json.loads(result.stdout)
    assert result.returncode == 3 and out["status"] == status, (result.returncode, out)
    report = Path(out["report_path"]).read_text()
    assert words in report
    shown = mia.run("agents", "show", str(out["name"]), "--json")
    assert json.loads(shown.stdout)["status"] == status
    if status == "no_evidence":
        assert "Source digest" in report and research_llm.tasks["synthesize"] == 0  # nothing paid for nothing


def test_a_plan_answered_in_prose_twice_falls_back_to_the_question_as_typed(mia: Mia, research_llm: ResearchLLM,
                                                                           mia_home: Path) -> None:
    research_llm.prose_plans = 2
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    out = json.loads(result.stdout)
    assert result.returncode == 0 and out["status"] == "done", result.stderr
    plan = json.loads((mia_home / "workspace" / "agents" / str(out["name"]) / "plan.json").read_text())
    assert [p["query"] for p in plan] == ["DMD treatments"]
    assert "searched the question as typed" in Path(out["report_path"]).read_text()


def test_json_after_chatter_and_an_example_block_is_understood(mia: Mia, research_llm: ResearchLLM) -> None:
    research_llm.chatty_json = True
    out, report = research(mia)
    assert out["status"] == "done" and research_llm.tasks["plan-repair"] == 0
    assert research_llm.tasks["extract-repair"] == 0 and out["quotes_verified"]


@pytest.mark.parametrize(("end", "status", "words"), [
    ("length", "truncated", "The report was cut off"),
    ("think", "not_synthesized", "no answer once its reasoning was removed"),
])
def test_a_cut_or_empty_synthesis_is_said_with_the_setting_that_fixes_it(mia: Mia, research_llm: ResearchLLM,
                                                                         end: str, status: str, words: str) -> None:
    research_llm.synthesis_end = end
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    out = json.loads(result.stdout)
    assert result.returncode == 3 and out["status"] == status, (out, result.stderr[-2000:])
    report = Path(out["report_path"]).read_text()
    assert words in report and "llm.max_tokens" in report
    if status == "truncated":  # the fake restarts its answer when asked to continue: kept once, not three times
        assert report.count("has shown that") == 1
    if status == "not_synthesized":
        assert "Source digest" in report


@pytest.mark.parametrize(("switch", "extra", "words"), [
    ({"uncited": True}, (), "Nothing in this report is cited"),
    ({}, ("--budget", "0.012"), "cut short by the budget"),
    ({"quotes": "missing"}, (), "they gave no quote"),
    ({"synthesis_end": "length"}, (), "The report was cut off"),
])
def test_exit_3_is_explained_on_stderr_not_only_in_the_file(mia: Mia, research_llm: ResearchLLM,
                                                             switch: dict[str, object], extra: tuple[str, ...],
                                                             words: str) -> None:
    for name, value in switch.items():
        setattr(research_llm, name, value)
    result = mia.run("research", "DMD treatments", "--depth", "quick", *extra)
    assert result.returncode == 3, result.stderr
    notices = [line for line in result.stderr.splitlines() if line.startswith("! ")]
    assert any(words in line for line in notices), result.stderr


def test_a_synthesis_over_the_context_window_shrinks_and_is_written(research_llm: ResearchLLM,
                                                                    mia_home: Path) -> None:
    from .conftest import base_env

    # The model's window is 5,500 tokens but mia was told 100,000: the first synthesis prompt is refused.
    with FakeServices(llm=research_llm, context_limit=5500) as services:
        mia = Mia({**base_env(mia_home), **services.env(), "MIA_LLM_CONTEXT_TOKENS": "100000"})
        result = mia.run("research", "DMD treatments", "--depth", "deep", "--json")
        statuses = [r.status for r in services.requests if r.service == "workers-ai"]
    out = json.loads(result.stdout)
    assert result.returncode == 0 and out["status"] == "done", (out, result.stderr[-2000:])
    assert statuses.count(413) == 1 and statuses[-1] == 200 and research_llm.tasks["synthesize"] == 1


def test_an_extraction_over_the_context_window_reads_fewer_sources_instead_of_failing_the_run(
        research_llm: ResearchLLM, mia_home: Path) -> None:
    from .conftest import base_env

    # 3,000 tokens: the plan fits; an extraction of eight sources (plus 2,048 for the answer) does not, nor does
    # the second look's prompt: each is an error that used to fail the run (and its resume, the same way).
    with FakeServices(llm=research_llm, context_limit=3000) as services:
        mia = Mia({**base_env(mia_home), **services.env()})
        result = mia.run("research", "DMD treatments", "--depth", "deep", "--json")
        refused = [r for r in services.requests if r.service == "workers-ai" and r.status == 413]
    out = json.loads(result.stdout)
    assert result.returncode in (0, 3) and int(out["quotes_verified"]) > 0, (out, result.stderr[-2000:])
    assert refused  # the context errors happened, and were answered by shrinking or skipping


def test_when_mia_knows_the_context_an_extraction_is_fitted_before_it_is_sent(research_llm: ResearchLLM,
                                                                               mia_home: Path) -> None:
    from .conftest import base_env

    # A 2,000-token server, and mia is told its size: extraction prompts leave out their lowest-ranked
    # sources before sending, so no request is refused (and none is paid for twice).
    with FakeServices(llm=research_llm, context_limit=2000) as services:
        mia = Mia({**base_env(mia_home), **services.env(), "MIA_LLM_CONTEXT_TOKENS": "2000"})
        result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
        refused = [r for r in services.requests if r.service == "workers-ai" and r.status == 413]
    out = json.loads(result.stdout)
    assert result.returncode in (0, 3) and int(out["quotes_verified"]) > 0, (out, result.stderr[-2000:])
    assert refused == []


def test_a_follow_up_report_gets_the_same_identifier_audit(mia: Mia, research_llm: ResearchLLM,
                                                           mia_home: Path) -> None:
    first, _ = research(mia)
    research_llm.invented_ids = True
    again = mia.run("agents", "rerun", str(first["name"]), "--json")
    assert again.stdout, again.stderr
    out = json.loads(again.stdout)
    report = Path(str(out["report_path"])).read_text()
    body = report.split("\n## Sources", 1)[0]
    assert "journal.example" not in body and "NCT09999999" not in body and "38999999" not in body
    assert out["identifiers_removed"] == 5 and "5 link(s) or identifier(s)" in report


def test_pubmeds_200_with_an_error_is_retried_not_taken_for_an_empty_answer(mia: Mia, services: FakeServices,
                                                                             mia_home: Path) -> None:
    services.esearch_backend_errors = 2  # NCBI's search backend fails twice, answering HTTP 200 with ERROR
    out, _ = research(mia, "--sources", "pubmed")
    assert out["status"] == "done" and out["sources"] > 0
    esearch = [r for r in services.requests if r.service == "pubmed" and r.path.endswith("esearch.fcgi")]
    assert len(esearch) == 3 + 2 and services.esearch_backend_errors == 0
