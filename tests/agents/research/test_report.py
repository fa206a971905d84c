"""Citation verification and report rendering, in code: what the reader gets must be checkable."""

from __future__ import annotations

from mia.agents.research.report import clean_body, render_digest, render_report, verify_citations
from mia.models import Source


def source(n: int, kind: str = "pubmed", **extra: object) -> Source:
    return Source.model_validate({"kind": kind, "url": f"https://example.org/{n}", "title": f"Title {n}",
                                  "identifier": str(1000 + n), "number": n, **extra})


def test_citations_to_retrieved_sources_are_kept_and_others_removed_and_marked() -> None:
    verified = verify_citations("Gene therapy works [1]. It cures everyone [9]. Both [2][9].", {1, 2, 3})
    assert verified.text.startswith("Gene therapy works [1]. It cures everyone *(citation removed")
    assert "[9]" not in verified.text and "Both [2] *(citation removed" in verified.text
    assert verified.removed == 2 and verified.cited == [1, 2] and verified.removed_numbers == [9, 9]


def test_lists_and_ranges_of_citations_are_expanded() -> None:
    verified = verify_citations("See [1, 3] and [4-6] and [2–3].", {1, 2, 3, 4, 5, 6})
    assert verified.text == "See [1][3] and [4][5][6] and [2][3]."
    assert verified.removed == 0 and sorted(verified.cited) == [1, 2, 3, 4, 5, 6]


def test_a_citation_written_as_a_link_to_a_page_never_retrieved_is_removed() -> None:
    verified = verify_citations("A [7](https://example.org) link.", {1})
    assert verified.text == "A *(citation removed: not a retrieved source)* link."
    assert verified.removed == 0 and verified.identifiers_removed == 1


def test_the_models_own_title_think_block_and_reference_list_are_dropped() -> None:
    body = clean_body("<think>plan the answer</think># My title\n\nText [1].\n\n## References\n[1] Fake ref")
    assert body == "Text [1]."


def test_the_report_lists_only_cited_sources_with_their_numbers() -> None:
    sources = [source(1), source(2, kind="trial", status="RECRUITING", phases=["PHASE3"]), source(3)]
    report = render_report(question="DMD?", header="h", body="A [2].", sources=sources, cited=[2], removed=0,
                           notes=[])
    tail = report.split("## Sources", 1)[1]
    assert "- [2] [Title 2](https://example.org/2) — ClinicalTrials.gov; 1002; Phase 3; Recruiting" in tail
    assert "[1]" not in tail and "2 more retrieved source(s)" in tail


def test_a_digest_groups_trials_by_phase_and_lists_papers_newest_first() -> None:
    sources = [source(1, date="2021"), source(2, date="2025-03"),
               source(3, kind="trial", status="COMPLETED", phases=["PHASE2"]),
               source(4, kind="trial", status="RECRUITING", phases=["PHASE3"])]
    digest = render_digest(question="DMD?", header="h", sources=sources, notes=["Not synthesized."])
    assert digest.index("### Phase 3") < digest.index("### Phase 2")
    assert digest.index("Title 2") < digest.index("Title 1")
    assert "PMID 1001" in digest and "> Not synthesized." in digest


def test_a_pubmed_id_found_by_europe_pmc_is_written_as_a_pmid_in_the_source_list() -> None:
    from mia.agents.research.report import source_entry

    def entry(kind: str, identifier: str) -> str:
        return source_entry(Source(kind=kind, url="https://europepmc.org/article/MED/99010020", title="T",
                                   identifier=identifier, number=1))

    assert "— Europe PMC; PMID 99010020" in entry("europepmc", "99010020")
    assert "— PubMed; PMID 99010020" in entry("pubmed", "99010020")
    assert "— Europe PMC; PMC9900123" in entry("europepmc", "PMC9900123")
    assert "— Europe PMC; 10.5555/preprint.2025.1003" in entry("europepmc", "10.5555/preprint.2025.1003")
