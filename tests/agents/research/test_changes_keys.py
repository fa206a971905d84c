"""Run-to-run comparison uses every identifier of a document, not one key."""

from __future__ import annotations

from mia.agents.research.changes import compute_changes, snapshot
from mia.models import Source


def test_a_document_found_again_under_another_identifier_is_not_new() -> None:
    previous = snapshot([{"number": 1, "kind": "web", "url": "https://doi.org/10.5555/ABC", "title": "A paper"},
                         {"number": 2, "kind": "pubmed", "url": "https://pubmed.ncbi.nlm.nih.gov/42/", "title": "B",
                          "identifier": "42", "aliases": ["https://www.example.org/b?utm_source=x"]}])
    current = [Source(kind="europepmc", url="https://europepmc.org/article/MED/7", title="A paper", identifier="7",
                      aliases=["10.5555/abc"], number=1),
               Source(kind="web", url="https://example.org/b/", title="B", number=2)]
    changes = compute_changes(previous, [], current)
    assert changes["new_papers"] == [] and changes["new_web"] == [] and not changes["material"]
