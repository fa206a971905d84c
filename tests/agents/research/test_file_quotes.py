"""Quotes from a person's own document are checked against the whole text of the cited page."""

from __future__ import annotations

from pathlib import Path

from fakes.documents import make_pdf

from mia.agents.research.evidence import check_against_sources
from mia.tools.local_files import FileLibrary, FileSearch, page_text_of

FILLER = " ".join(f"Background sentence {n} about natural history cohorts." for n in range(40))


def test_a_quote_from_the_cited_page_is_verified_even_beyond_the_passage_shown(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "protocol.pdf", [
        "Eligibility criteria for boys aged 4 to 7.",
        f"Primary endpoint: dystrophin expression at week 48. {FILLER} Serious adverse events were not seen."])
    library = FileLibrary(tmp_path / "agent")
    library.add([pdf], max_bytes=10_000_000)
    [source] = [s for s in FileSearch(library).search("dystrophin endpoint", max_results=2).sources
                if s.title == "protocol.pdf, p. 2"]
    source.number = 1
    assert "Serious adverse events" not in source.snippet  # the page is longer than the passage shown
    assert "Serious adverse events were not seen" in (page_text_of(source.url) or "")
    claims = [{"claim": "No SAEs", "source": 1, "quote": "Serious adverse events were not seen."},
              {"claim": "Endpoint", "source": 1, "quote": "dystrophin expression at week 48"},
              {"claim": "Invented", "source": 1, "quote": "mortality fell by half"}]
    checked = check_against_sources(claims, [source])
    assert [c["quote_check"] for c in checked.kept] == ["verified", "verified"]
    assert [c["claim"] for c in checked.dropped] == ["Invented"]


def test_a_removed_document_no_longer_verifies_anything(tmp_path: Path) -> None:
    library = FileLibrary(tmp_path / "agent")
    library.add([make_pdf(tmp_path / "poster.pdf", ["The walk improved by 30 metres."])], max_bytes=10_000_000)
    url = FileSearch(library).search("walk improved", max_results=1).sources[0].url
    assert page_text_of(url) == "The walk improved by 30 metres."
    library.remove("poster.pdf")
    assert page_text_of(url) is None and page_text_of("https://example.org/files/poster.pdf#page=1") is None


def test_a_follow_up_finding_another_page_of_a_known_document_is_not_news_but_a_new_document_is() -> None:
    from mia.agents.research.changes import compute_changes, render_changes
    from mia.models import Source

    def page(name: str, n: int) -> Source:
        return Source(kind="file", url=f"file:///w/agents/a/files/{name}#page={n}", title=f"{name}, p. {n}")

    previous = [{**page("protocol.pdf", 2).model_dump(), "number": 1}]
    same_doc = compute_changes(previous, [], [page("protocol.pdf", 2), page("protocol.pdf", 7)])
    assert not same_doc["material"] and same_doc["new_files"] == []
    added = compute_changes(previous, [], [page("protocol.pdf", 2), page("poster.pdf", 1), page("poster.pdf", 2)])
    assert added["material"] and [f["title"] for f in added["new_files"]] == ["poster.pdf, p. 1"]
    note = render_changes(added, slug="a", date="2026-11-30", previous_version=1, new_version=2)
    assert "## New documents of yours (1)" in note and "poster.pdf, p. 1" in note
