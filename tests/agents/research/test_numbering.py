"""Citations are renumbered in reading order after verification; sources keep their retrieval order."""

from __future__ import annotations

from mia.agents.research.numbering import renumber_citations
from mia.agents.research.report import render_report, verify_citations
from mia.models import Source


def sources(n: int) -> list[Source]:
    return [Source(kind="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{100 + i}/", title=f"Paper {i}",
                   identifier=str(100 + i), number=i) for i in range(1, n + 1)]


def test_a_report_that_opens_with_17_is_renumbered_to_open_with_1() -> None:
    body = "Gene therapy works [17]. Steroids help [3][17]. Exon skipping [5, 3]."
    out = renumber_citations(body, sources(20))
    assert out.body == "Gene therapy works [1]. Steroids help [2][1]. Exon skipping [3][2]."
    assert out.cited == [1, 2, 3]
    assert out.mapping[17] == 1 and out.mapping[3] == 2 and out.mapping[5] == 3


def test_uncited_sources_follow_in_retrieval_order_and_every_source_keeps_its_retrieval_number() -> None:
    out = renumber_citations("Only one [4].", sources(5))
    assert [(s.number, s.retrieved) for s in out.sources] == [(1, 4), (2, 1), (3, 2), (4, 3), (5, 5)]
    assert [s.title for s in out.sources][:2] == ["Paper 4", "Paper 1"]


def test_claims_follow_their_sources_to_the_new_numbers() -> None:
    claims = [{"claim": "a", "source": 4, "quote": "q"}, {"claim": "b", "source": 2, "quote": ""}]
    out = renumber_citations("First [4], then [2].", sources(4), claims)
    assert [c["source"] for c in out.claims] == [1, 2]


def test_the_source_list_of_the_rendered_report_runs_in_the_order_of_the_text() -> None:
    raw = "Claim [9]. Another [2-3]. Bogus [44]."
    verified = verify_citations(raw, set(range(1, 11)))
    out = renumber_citations(verified.text, sources(10))
    report = render_report(question="Q", header="h", body=out.body or "", sources=out.sources, cited=out.cited,
                           removed=verified.removed, notes=[])
    listed = [line for line in report.splitlines() if line.startswith("- [")]
    assert [line[:5] for line in listed] == ["- [1]", "- [2]", "- [3]"]
    assert "Paper 9" in listed[0] and "Paper 2" in listed[1] and "Paper 3" in listed[2]
    assert "citation removed" in report and "[44]" not in report


def test_a_digest_without_a_body_keeps_the_retrieval_numbers() -> None:
    out = renumber_citations(None, sources(3))
    assert out.body is None and out.cited == []
    assert [(s.number, s.retrieved) for s in out.sources] == [(1, 1), (2, 2), (3, 3)]


def test_the_sources_of_the_search_step_are_not_changed_in_place() -> None:
    original = sources(3)
    renumber_citations("See [3].", original)
    assert [s.number for s in original] == [1, 2, 3] and all(s.retrieved is None for s in original)
