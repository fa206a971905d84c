"""Search filters: parsed from the command line, checked in code where a service cannot filter."""

from __future__ import annotations

import pytest

from mia.errors import UsageError
from mia.filters import SearchFilters, merge_filters, parse_filters
from mia.models import Source


def test_command_line_values_become_the_services_vocabulary() -> None:
    f = parse_filters(since=2020, article_types="RCT, review", trial_status="recruiting,active",
                      trial_phase="early1,2,3", domains="https://www.nih.gov/x,fda.gov", exclude_domains="reddit.com")
    assert f.publication_types() == ["Randomized Controlled Trial", "Review"]
    assert f.trial_status == ["RECRUITING", "ACTIVE_NOT_RECRUITING"]
    assert f.trial_phase == ["EARLY_PHASE1", "PHASE2", "PHASE3"]
    assert f.domains == ["nih.gov", "fda.gov"] and f.exclude_domains == ["reddit.com"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"since": 1500}, "is not a publication year"),
    ({"since": 2024, "until": 2020}, "is after"),
    ({"trial_status": "paused"}, "Unknown trial status 'paused'"),
    ({"domains": ",".join(f"d{i}.org" for i in range(21))}, "at most 20"),
])
def test_wrong_values_say_what_to_give(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_filters(**kwargs)  # type: ignore[arg-type]
    assert caught.value.hint


def test_code_checks_years_trial_facts_and_web_domains() -> None:
    f = SearchFilters(since=2020, until=2024, trial_status=["RECRUITING"], trial_phase=["PHASE3"],
                      domains=["nih.gov"], exclude_domains=["old.nih.gov"])
    keeps = f.keeps
    assert keeps(Source(kind="pubmed", url="u", title="t", date="2021-05"))
    assert not keeps(Source(kind="pubmed", url="u", title="t", date="2019"))
    assert keeps(Source(kind="pubmed", url="u", title="t"))  # undated: nothing says it is out of range
    assert keeps(Source(kind="trial", url="u", title="t", status="RECRUITING", phases=["PHASE2", "PHASE3"]))
    assert not keeps(Source(kind="trial", url="u", title="t", status="COMPLETED", phases=["PHASE3"]))
    assert keeps(Source(kind="web", url="https://www.nih.gov/news", title="t"))
    assert not keeps(Source(kind="web", url="https://old.nih.gov/news", title="t"))
    assert not keeps(Source(kind="web", url="https://example.com/nih.gov", title="t"))


def test_filters_given_later_replace_only_their_own_kind() -> None:
    merged = merge_filters(SearchFilters(since=2020, trial_status=["RECRUITING"]), SearchFilters(until=2024))
    assert merged == SearchFilters(since=2020, until=2024, trial_status=["RECRUITING"])
    assert merged.describe() == "Filters: 2020–2024; trial status: recruiting"
