"""The pieces of an export: citation links in HTML, names and dates for reference managers."""

from __future__ import annotations

from mia.agents.research.export import check_format, link_citations
from mia.agents.research.references import cite_key, date_parts, report_sources, split_name
from mia.models import Source


def test_only_citations_in_text_become_links_and_only_the_first_gets_the_back_anchor() -> None:
    rendered = '<p>A [1] and [1][2], <code>x[1]</code>, <a href="u">[2]</a>, [9]</p>'
    out = link_citations(rendered, {1, 2})
    assert out.count('href="#src-1"') == 2 and out.count('id="cite-1"') == 1
    assert "<code>x[1]</code>" in out and '<a href="u">[2]</a>' in out and "[9]" in out
    assert 'href="#src-9"' not in out


def test_names_split_into_family_and_initials_and_groups_stay_whole() -> None:
    assert split_name("Mendell JR") == ("Mendell", "J. R.")
    assert split_name("van der Berg AB") == ("van der Berg", "A. B.")
    assert split_name("DMD Cardiac Registry Group") is None


def test_dates_and_keys() -> None:
    assert date_parts("2024-05-02") == [2024, 5, 2] and date_parts("2023") == [2023] and date_parts(None) == []
    taken: set[str] = set()
    a = Source(kind="pubmed", url="u1", title="t", authors=["Smith J"], date="2020")
    assert [cite_key(a, taken) for _ in range(3)] == ["smith2020", "smith2020a", "smith2020b"]


def test_an_older_report_is_matched_to_sources_by_url_not_by_todays_numbers() -> None:
    today = [Source(kind="web", url="https://b", title="B", number=1),
             Source(kind="web", url="https://a", title="A", number=2)]
    old = "# Q\n\nText [1].\n\n## Sources\n\n- [1] [A](https://a) — Web\n"
    assert [(s.number, s.title) for s in report_sources(old, today)] == [(1, "A")]


def test_format_names_are_forgiving() -> None:
    assert check_format("BIB") == "bibtex" and check_format("csl-json") == "csljson" and check_format("htm") == "html"
