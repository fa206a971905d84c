"""The plan as text: what the person edits reads back as the same plan, and mistakes name their line."""

from __future__ import annotations

import pytest

from mia.agents.research.planning import check_plan, plan_from_text, plan_to_text, query_for
from mia.errors import UsageError

PLAN = [{"question": "Which gene therapies reached phase 3?", "query": "micro-dystrophin phase 3",
         "queries": {"pubmed": "delandistrogene[tiab]", "trials": "SRP-9001"}},
        {"question": "Is givinostat safe?", "query": "givinostat safety"}]


def test_the_text_form_reads_back_as_the_same_plan() -> None:
    text = plan_to_text("DMD treatments", PLAN)
    assert text.startswith("# Research plan for: DMD treatments") and "pubmed: delandistrogene[tiab]" in text
    assert plan_from_text(text) == PLAN


def test_each_source_gets_its_own_query_or_the_shared_one() -> None:
    assert query_for(PLAN[0], "pubmed") == "delandistrogene[tiab]" and query_for(PLAN[0], "web") == \
        "micro-dystrophin phase 3"
    assert query_for(PLAN[1], "trials") == "givinostat safety"


@pytest.mark.parametrize(("text", "message"), [
    ("query: before any question\n", "Plan line 1 is not understood"),
    ("## Q?\nquery: a\nscholar: b\n", "Plan line 3: 'scholar' is neither 'query' nor a source"),
    ("# only comments\n", "The plan has no sub-questions"),
    ("## Q?\n", "has no query"),
    ("## Q?\nquery: " + "x" * 301 + "\n", "at most 300 are sent"),
])
def test_mistakes_in_the_text_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_from_text(text)


def test_a_source_query_alone_is_enough_and_a_json_plan_is_checked_the_same_way() -> None:
    assert plan_from_text("## Q?\npubmed: only pubmed\n") == [
        {"question": "Q?", "query": "only pubmed", "queries": {"pubmed": "only pubmed"}}]
    with pytest.raises(UsageError, match="at most 12"):
        check_plan([{"question": f"Q{i}?", "query": "q"} for i in range(13)])
