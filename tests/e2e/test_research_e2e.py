"""`mia research` end to end: the installed CLI against loopback fakes of every service."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from fakes.research_llm import ResearchLLM, task_of
from fakes.server import FakeServices

from .conftest import Mia

JSON_KEYS = {"agent_id", "name", "run_id", "status", "report_path", "sources", "citations_removed", "usage",
             "identifiers_removed", "quotes_verified", "quotes_unverified", "claims_reattributed"}


def citations(report: str) -> set[int]:
    body = report.split("\n## Sources", 1)[0]
    return {int(n) for n in re.findall(r"\[(\d+)\]", body)}


def registry(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(home / "registry.db")
    conn.row_factory = sqlite3.Row
    return conn


def test_a_research_run_writes_a_cited_report_and_records_its_cost(mia: Mia, mia_home: Path,
                                                                    services: FakeServices) -> None:
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == JSON_KEYS and out["status"] == "done" and out["name"] == "dmd-treatments"
    assert out["sources"] > 5 and out["usage"]["cost_usd"] > 0 and out["usage"]["input_tokens"] > 0
    folder = mia_home / "workspace" / "agents" / "dmd-treatments"
    report = (folder / "report.md").read_text()
    assert report == (folder / "reports" / "v1.md").read_text()
    sources = json.loads((folder / "sources.json").read_text())
    numbers = {s["number"] for s in sources}
    assert citations(report) and citations(report) <= numbers
    assert "Made-up reference list" not in report and "## Sources" in report
    assert {s["kind"] for s in sources} == {"web", "pubmed", "europepmc", "trial"}
    assert json.loads((folder / "evidence" / "claims.json").read_text())
    assert len(json.loads((folder / "plan.json").read_text())) == 3
    db = registry(mia_home)
    run = db.execute("SELECT * FROM runs").fetchone()
    assert run["status"] == "succeeded" and run["outcome"] == "complete"
    steps = {r["step_key"] for r in db.execute("SELECT step_key FROM run_steps WHERE status = 'done'")}
    assert {"plan", "synthesize", "verify", "write", "search/pubmed/0", "extract/0"} <= steps
    services_used = {r["service"] for r in db.execute("SELECT service FROM usage")}
    assert {"Workers AI", "Perplexity", "PubMed", "Europe PMC", "ClinicalTrials.gov"} <= services_used
    for request in services.requests:
        if request.service == "workers-ai" and "/ai/run/" in request.path:
            assert request.json and request.json["max_tokens"] > 256


def test_a_citation_to_a_source_never_retrieved_is_removed(services: FakeServices, mia: Mia,
                                                          research_llm: ResearchLLM, mia_home: Path) -> None:
    research_llm.bogus_citation = 97
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    out = json.loads(result.stdout)
    assert result.returncode == 0 and out["citations_removed"] == 1
    report = Path(out["report_path"]).read_text()
    assert "[97]" not in report and "citation removed" in report and "removed 1 citation" in report


def test_without_llm_credentials_mia_writes_a_labelled_source_digest(mia: Mia, mia_home: Path) -> None:
    env = {k: v for k, v in mia.env.items() if not k.startswith("CLOUDFLARE_")}
    result = Mia(env).run("research", "Duchenne gene therapy", "--sources", "pubmed,trials")
    assert result.returncode == 0, result.stderr
    assert "Source digest" in result.stdout and "Not synthesized" in result.stdout
    assert re.search(r"NCT\d{8}", result.stdout) and "PMID " in result.stdout
    assert "cloudflare.api_token" in result.stdout
    assert "no LLM is configured" in result.stderr and result.stdout.count("Not synthesized") == 1  # once


def test_when_retrieval_finds_nothing_mia_says_so_instead_of_reporting(mia: Mia, services: FakeServices,
                                                                      research_llm: ResearchLLM) -> None:
    research_llm.plain_queries = True
    result = mia.run("research", "xyzzyplex quuxification", "--depth", "quick", "--json")
    out = json.loads(result.stdout)
    assert result.returncode == 0 and out["status"] == "no_sources" and out["sources"] == 0
    assert "No source returned anything" in Path(out["report_path"]).read_text()
    assert not any(task_of(r.json or {}) == "synthesize" for r in services.requests if r.service == "workers-ai")


def test_the_run_completes_when_services_fail_30_percent_of_the_time(mia_home: Path) -> None:
    from .conftest import base_env

    with FakeServices(llm=ResearchLLM(), fault_rate=0.3, seed=7) as flaky:
        result = Mia({**base_env(mia_home), **flaky.env()}).run(
            "research", "DMD treatments", "--depth", "quick", "--json", timeout=240)
        faults = sum(1 for r in flaky.requests if r.status in (429, 503))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "done"
    assert faults >= 5


def test_a_budget_too_small_cuts_the_run_short_with_exit_3(mia: Mia, mia_home: Path) -> None:
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--budget", "0.012", "--json")
    out = json.loads(result.stdout)
    assert result.returncode == 3 and out["status"] == "cut_short"
    assert out["usage"]["cost_usd"] <= 0.012
    assert "cut short" in Path(out["report_path"]).read_text()


def test_a_model_the_service_rejects_is_an_error_that_leaves_nothing_behind(mia: Mia, mia_home: Path) -> None:
    result = mia.run("research", "DMD treatments", "--model", "@cf/nobody/no-such-model")
    assert result.returncode == 1 and result.stdout == ""
    assert "5007" in result.stderr and "No such model" in result.stderr and "llm.model" in result.stderr
    assert "Traceback" not in result.stderr
    assert registry(mia_home).execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0
    assert not (mia_home / "workspace" / "agents" / "dmd-treatments").exists()


def test_asking_for_web_search_without_a_key_names_the_setting(mia: Mia) -> None:
    env = {k: v for k, v in mia.env.items() if k != "PERPLEXITY_API_KEY"}
    result = Mia(env).run("research", "DMD treatments", "--sources", "web")
    assert result.returncode == 1 and "PERPLEXITY_API_KEY" in result.stderr
    assert "mia config set perplexity.api_key" in result.stderr


def test_secrets_appear_in_no_output_file_or_registry(mia: Mia, mia_home: Path, services: FakeServices) -> None:
    secrets = [services.env()["CLOUDFLARE_API_TOKEN"], services.env()["PERPLEXITY_API_KEY"]]
    runs = [mia.run("research", "DMD treatments", "--depth", "quick"),
            mia.run("research", "DMD treatments", "--depth", "quick", "--json"),
            mia.run("--debug", "research", "DMD treatments", "--model", "@cf/no/such-model"),
            mia.run("config", "show", "--json"), mia.run("doctor", "--json"), mia.run("usage", "--json")]
    texts = [r.stdout + r.stderr for r in runs]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in mia_home.rglob("*") if p.is_file()]
    assert "Traceback" in runs[2].stderr  # --debug really shows the traceback ...
    for secret in secrets:  # ... and still no secret anywhere
        assert not any(secret in text for text in texts), secret


def test_an_openai_compatible_server_can_be_the_llm(mia: Mia, services: FakeServices) -> None:
    env = {k: v for k, v in mia.env.items() if not k.startswith("CLOUDFLARE_")}
    result = Mia({**env, "MIA_LLM_PROVIDER": "openai", "MIA_LLM_MODEL": "local-model"}).run(
        "research", "DMD treatments", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "done"
    assert services.count("openai") >= 5 and services.count("workers-ai") == 0


def test_usage_shows_spend_by_service_overall_and_per_agent(mia: Mia) -> None:
    mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    mia.run("research", "Duchenne gene therapy", "--depth", "quick", "--sources", "pubmed", "--json")
    everything = json.loads(mia.run("usage", "--json").stdout)
    one = json.loads(mia.run("usage", "--agent", "duchenne-gene-therapy", "--json").stdout)
    services_all = {row["service"] for row in everything["by_service"]}
    assert {"Workers AI", "Perplexity", "PubMed"} <= services_all
    assert {row["service"] for row in one["by_service"]} == {"Workers AI", "PubMed"}
    assert 0 < one["total_cost_usd"] < everything["total_cost_usd"]


def test_citations_are_numbered_in_the_order_the_report_first_cites_them(
        mia: Mia, mia_home: Path, research_llm: ResearchLLM) -> None:
    research_llm.cite_backwards = True  # the model leads with the last source it was given
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    folder = mia_home / "workspace" / "agents" / "dmd-treatments"
    report = (folder / "report.md").read_text()
    body = report.split("\n## Sources", 1)[0]
    seen: list[int] = []
    for n in (int(x) for x in re.findall(r"\[(\d+)\]", body)):
        if n not in seen:
            seen.append(n)
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 3
    sources = json.loads((folder / "sources.json").read_text())
    assert [s["number"] for s in sources] == list(range(1, len(sources) + 1))
    retrieved = [s["retrieved"] for s in sources]
    assert sorted(retrieved) == list(range(1, len(sources) + 1)) and retrieved[0] > retrieved[1]
    listed = re.findall(r"^- \[(\d+)\] \[([^\]]+)\]", report, re.MULTILINE)
    by_number = {s["number"]: s["title"].replace("[", "(").replace("]", ")") for s in sources}
    assert [int(n) for n, _ in listed] == seen and all(by_number[int(n)] == t for n, t in listed)
    claims = json.loads((folder / "evidence" / "claims.json").read_text())
    assert all(by_number[c["source"]].rstrip(".") in c["claim"] for c in claims)
