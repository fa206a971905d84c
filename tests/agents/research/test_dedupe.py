"""One source, one number: the same document from two services is numbered once, its metadata merged."""

from __future__ import annotations

from typing import Any

import pytest

from mia.agents.research.dedupe import collate, unique_queries


def raw(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "url": url, "title": extra.pop("title", url), **extra}


@pytest.mark.parametrize(("first", "second"), [
    (raw("pubmed", "https://pubmed.ncbi.nlm.nih.gov/123/", identifier="123", date="2024"),
     raw("web", "https://pubmed.ncbi.nlm.nih.gov/123", snippet="a longer web snippet")),
    (raw("trial", "https://clinicaltrials.gov/study/NCT01234567", identifier="NCT01234567", status="RECRUITING"),
     raw("web", "https://www.clinicaltrials.gov/study/NCT01234567?tab=history")),
    (raw("europepmc", "https://europepmc.org/article/MED/555", identifier="555", aliases=["10.5555/Abc"]),
     raw("web", "https://doi.org/10.5555/abc")),
    (raw("web", "https://example.org/news?utm_source=feed&utm_medium=rss"),
     raw("web", "https://www.example.org/news/")),
    (raw("web", "https://pubmed.ncbi.nlm.nih.gov/777/", title="Web copy"),
     raw("europepmc", "https://europepmc.org/article/MED/777", identifier="777", date="2023")),
])
def test_the_same_document_from_two_services_gets_one_number(first: dict[str, Any],
                                                             second: dict[str, Any]) -> None:
    tasks = [(0, "a", "q"), (1, "b", "q")]
    sources, by_subq = collate(tasks, [{"sources": [first]}, {"sources": [second]}])
    assert len(sources) == 1 and sources[0].number == 1
    assert by_subq == {0: [1], 1: [1]}
    merged = sources[0]
    kinds = {first["kind"], second["kind"]}
    if kinds != {"web"}:
        assert merged.kind != "web" and merged.identifier  # the structured record is the primary one
        assert merged.date or merged.status or merged.snippet or merged.aliases


def test_merging_fills_gaps_and_keeps_the_other_url_as_an_alias() -> None:
    sources, _ = collate([(0, "web", "q"), (0, "pubmed", "q")], [
        {"sources": [raw("web", "https://pubmed.ncbi.nlm.nih.gov/9/", snippet="long snippet from the web page")]},
        {"sources": [raw("pubmed", "https://pubmed.ncbi.nlm.nih.gov/9/", identifier="9", date="2022",
                         snippet="short")]}])
    (merged,) = sources
    assert merged.kind == "pubmed" and merged.date == "2022" and merged.snippet.startswith("long")


def test_two_sub_questions_with_the_same_query_share_one_search() -> None:
    tasks = [(0, "pubmed", "DMD gene therapy"), (1, "pubmed", "dmd  Gene therapy"), (1, "trials", "DMD gene therapy")]
    assert unique_queries(tasks) == {0: 0, 1: 0, 2: 2}
