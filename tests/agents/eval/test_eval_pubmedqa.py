"""The PubMedQA eval scores research runs in code: exact figures for a scripted model on five questions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.eval_llm import EvalLLM, Script
from fakes.server import FakeServices

from mia.agents.eval.dataset import load_items, select
from mia.agents.eval.runner import delete_eval_agents, run_pubmedqa, validate_options
from mia.agents.eval.score import figures, score_item
from mia.errors import MissingCredentialError, UsageError
from mia.settings import load_settings
from mia.store import agents as agent_store
from mia.store.db import open_registry
from mia.tui.data import agent_rows

FIRST_FIVE = select("test", 5)
WORD = {"yes": "Yes", "no": "No", "maybe": "Uncertain"}
WRONG = {"yes": "No", "no": "Yes", "maybe": "Yes"}
SCRIPTS = [
    Script(pmid=FIRST_FIVE[0].pmid, verdict=WORD[FIRST_FIVE[0].label]),  # right, gold cited, quotes verbatim
    Script(pmid=FIRST_FIVE[1].pmid, verdict=WRONG[FIRST_FIVE[1].label]),  # wrong verdict
    Script(pmid=FIRST_FIVE[2].pmid, verdict=WRONG[FIRST_FIVE[2].label], cite="other"),  # wrong; gold not cited
    # Quotes found nowhere: no verified evidence, so no report is synthesised (a digest): no verdict, nothing cited.
    Script(pmid=FIRST_FIVE[3].pmid, verdict=None, quotes="invented"),
    Script(pmid=FIRST_FIVE[4].pmid, verdict=WORD[FIRST_FIVE[4].label], bogus_citation=True),  # right; 1 removed
]


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServices]:
    llm = EvalLLM({item.question: script for item, script in zip(FIRST_FIVE, SCRIPTS, strict=True)})
    with FakeServices(llm=llm) as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield fake


def test_the_shipped_data_set_has_the_official_test_split_and_a_dev_split() -> None:
    items = load_items()
    assert len(items) == 1000 and sum(i.split == "test" for i in items) == 500
    assert [i.pmid for i in select("test", 3)] == [i.pmid for i in FIRST_FIVE[:3]]  # a fixed order
    assert {i.label for i in select("test", 50)} == {"yes", "no", "maybe"}  # a fair sample, not the file's order
    assert {i.label for i in items} == {"yes", "no", "maybe"} and select("dev", 1)[0].split == "dev"


def test_five_scripted_questions_give_exact_figures(services: FakeServices, mia_home: Path) -> None:
    settings = load_settings()
    registry = open_registry(settings.registry_path)
    options = validate_options(split="test", n=5, offline=True, model=None, budget=1.0)
    with httpx.Client(timeout=30) as http:
        record = run_pubmedqa(settings, registry, options, http=http, on_event=lambda kind, data: None)
    got = record["figures"]
    assert {k: got[k] for k in ("questions", "accuracy", "answered", "gold_retrieved", "gold_cited", "claims",
                                "quotes_verified", "identifiers_removed", "errors")} == {
        "questions": 5, "accuracy": 0.4, "answered": 0.8, "gold_retrieved": 1.0, "gold_cited": 0.6, "claims": 25,
        "quotes_verified": 0.8, "identifiers_removed": 1, "errors": 0}
    spent = registry.one("SELECT SUM(cost_usd) AS c FROM usage")["c"]
    assert spent > 0 and got["cost_per_question"] == round(spent / 5, 6) and got["seconds_per_question"] > 0
    label = {"Yes": "yes", "No": "no", "Uncertain": "maybe"}
    assert [i["verdict"] for i in record["items"]] == [label[s.verdict] if s.verdict else None for s in SCRIPTS]
    assert [i["status"] for i in record["items"]] == ["done", "done", "done", "no_evidence", "done"]
    saved = json.loads(Path(record["path"]).read_text())
    assert Path(record["path"]).parent == mia_home / "evals" and saved["figures"] == got
    assert saved["model"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast" and saved["mia_version"]
    # Eval agents are not the user's: not listed by default, and gone in one call.
    assert agent_store.list_agents(registry) == [] and agent_rows(registry) == []
    assert len(agent_store.list_agents(registry, purpose="eval")) == 5
    assert delete_eval_agents(settings, registry) == 5
    assert agent_store.list_agents(registry, purpose=None) == []
    assert not any((mia_home / "workspace" / "agents").iterdir())


def test_the_scorer_reads_the_verdict_and_the_cited_gold_article_from_what_the_run_wrote() -> None:
    sources = [{"number": 1, "identifier": "111", "title": "Other", "snippet": "Nothing here."},
               {"number": 2, "identifier": "222", "title": "Gold", "snippet": "Mortality fell by a third."}]
    claims = [{"claim": "c", "source": 2, "quote": "mortality FELL by a third"},
              {"claim": "c", "source": 1, "quote": "mortality fell by a third"}]  # the wrong source's text
    report = ("# Q\n\n_h_\n\n**Bottom line:** No — it did not [2].\n\n## Sources\n\n- [1] other")
    score = score_item(pmid="222", label="no", report=report, sources=sources, claims=claims, identifiers_removed=0,
                       cost_usd=0.01, seconds=2.0, status="done")
    assert (score.verdict, score.correct, score.gold_retrieved, score.gold_cited) == ("no", True, True, True)
    assert score.quotes_verified == 1
    cited_only_in_list = score_item(pmid="111", label="no", report=report, sources=sources, claims=[],
                                    identifiers_removed=0, cost_usd=0.0, seconds=1.0, status="done")
    assert cited_only_in_list.gold_retrieved and not cited_only_in_list.gold_cited
    assert figures([score, cited_only_in_list])["quotes_verified"] == 0.5
    marked = [{"claim": "c", "source": 2, "quote": "Mortality fell", "quote_check": "not_found"},
              {"claim": "c", "source": 1, "quote": "x", "quote_check": "reattributed"}]
    by_the_runs_marks = score_item(pmid="222", label="yes", report=report, sources=sources, claims=marked,
                                   identifiers_removed=2, cost_usd=0.0, seconds=1.0, status="done")
    assert by_the_runs_marks.quotes_verified == 1 and not by_the_runs_marks.correct


def test_bad_options_are_usage_errors_and_no_llm_is_a_missing_credential(mia_home: Path) -> None:
    with pytest.raises(UsageError, match="split"):
        validate_options(split="train", n=5, offline=True, model=None, budget=None)
    with pytest.raises(UsageError, match="between 1 and 500"):
        validate_options(split="dev", n=501, offline=True, model=None, budget=None)
    with pytest.raises(UsageError, match="budget"):
        validate_options(split="dev", n=5, offline=True, model=None, budget=0)
    settings = load_settings()
    with httpx.Client() as http, pytest.raises(MissingCredentialError, match="needs an LLM"):
        run_pubmedqa(settings, open_registry(settings.registry_path),
                     validate_options(split="dev", n=1, offline=True, model=None, budget=None),
                     http=http, on_event=lambda kind, data: None)
    assert not (mia_home / "evals").exists()
