"""`mia doctor` against the loopback fakes: all green, missing credentials, and offline."""

from __future__ import annotations

import json

from .conftest import Mia


def test_doctor_is_green_when_every_service_answers(mia: Mia) -> None:
    result = mia.run("doctor", "--json")
    report = json.loads(result.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert result.returncode == 0 and report["ok"] and not report["offline"]
    assert statuses["Workers AI (LLM)"] == "ok" and statuses["Perplexity (web search)"] == "ok"
    assert statuses["PubMed"] == statuses["Europe PMC"] == statuses["ClinicalTrials.gov"] == "ok"


def test_doctor_fails_with_the_fix_when_the_llm_token_is_wrong(mia: Mia) -> None:
    result = mia.run("doctor", extra_env={"CLOUDFLARE_API_TOKEN": "wrong-token-123456"})
    assert result.returncode == 1
    assert "FAIL  Workers AI (LLM)" in result.stdout and "401" in result.stdout
    assert "mia config set cloudflare.api_token" in result.stdout
    assert "wrong-token-123456" not in result.stdout + result.stderr


def test_doctor_says_it_is_offline_and_does_not_crash(mia: Mia) -> None:
    closed = "http://127.0.0.1:9"
    env = {"MIA_CLOUDFLARE_API_BASE_URL": closed, "MIA_PERPLEXITY_BASE_URL": closed, "MIA_PUBMED_BASE_URL": closed,
           "MIA_EUROPEPMC_BASE_URL": closed, "MIA_CLINICALTRIALS_BASE_URL": closed}
    result = mia.run("doctor", extra_env=env)
    assert result.returncode == 1 and "looks offline" in result.stdout
    assert "Traceback" not in result.stderr
    assert "could not be reached" in result.stdout
