"""The source digest and evidence.md read well: PMID before every PubMed id, web by date, one-line
snippets, claims grouped by sub-question once each."""

from __future__ import annotations

from mia.agents.research.report import render_digest
from mia.agents.research.service import evidence_markdown
from mia.models import Source


def test_the_digest_names_pmids_sorts_web_by_date_and_gives_one_line_snippets() -> None:
    sources = [
        Source(kind="europepmc", url="https://europepmc.org/article/MED/111", title="From Europe PMC",
               identifier="111", date="2025-01-01", snippet="Exon skipping\nraised dystrophin. " * 30),
        Source(kind="pubmed", url="https://pubmed.ncbi.nlm.nih.gov/222/", title="From PubMed", identifier="222",
               date="2024-01-01"),
        Source(kind="web", url="https://a.example/old", title="Old page", date="2023-05-01"),
        Source(kind="web", url="https://a.example/new", title="New page", date="2026-02-01"),
    ]
    digest = render_digest(question="DMD", header="h", sources=sources, notes=["one notice"])
    assert "PMID 111" in digest and "PMID 222" in digest
    assert digest.index("New page") < digest.index("Old page")
    snippet = next(line for line in digest.splitlines() if line.startswith("  Exon skipping"))
    assert snippet.endswith("…") and len(snippet) < 210 and digest.count("> one notice") == 1


def test_evidence_is_grouped_by_sub_question_without_repeats() -> None:
    plan = [{"question": "Which drugs are approved?", "query": "q"}, {"question": "What is in trials?", "query": "q"}]
    claims = [{"claim": "Givinostat is approved.", "source": 1, "quote": "approved", "sub_question": 0},
              {"claim": "EMBARK missed its endpoint.", "source": 2, "quote": "missed", "sub_question": 1},
              {"claim": "Givinostat  is approved.", "source": 1, "quote": "approved", "sub_question": 1}]
    text = evidence_markdown(claims, plan)
    assert "## 1. Which drugs are approved?" in text and "## 2. What is in trials?" in text
    assert text.count("Givinostat") == 1
    assert text.index("Givinostat") < text.index("## 2.") < text.index("EMBARK")
