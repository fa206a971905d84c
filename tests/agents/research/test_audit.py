"""The identifier audit of a report body: every URL, DOI, PMID, PMCID, NCT id and [n] is checked."""

from __future__ import annotations

import pytest

from mia.agents.research.audit import REMOVED_MARK, removal_note, verify_body
from mia.agents.research.dedupe import index_of
from mia.models import Source

MARK = REMOVED_MARK.strip()
SOURCES = [
    Source(kind="pubmed", url="https://pubmed.ncbi.nlm.nih.gov/111/", title="a", identifier="111", number=1),
    Source(kind="trial", url="https://clinicaltrials.gov/study/NCT01234567", title="t", identifier="NCT01234567",
           number=2),
    Source(kind="web", url="https://www.nature.com/articles/x", title="w", number=3),
    Source(kind="europepmc", url="https://europepmc.org/article/MED/222", title="e", identifier="222",
           aliases=["PMC999", "10.5555/abc.123"], number=4),
]


def audit(text: str):  # type: ignore[no-untyped-def]
    return verify_body(text, {1, 2, 3, 4}, index_of(SOURCES).number_of)


@pytest.mark.parametrize(("body", "expected", "ids_removed", "cites_removed"), [
    # invented: removed and marked
    ("see [the trial paper](https://journal.example/doi/10.5555/xyz).", f"see the trial paper {MARK}.", 1, 0),
    ("Read https://doi.org/10.5555/other.1 now.", f"Read {MARK} now.", 1, 0),
    ("As shown [7](https://example.org/page).", f"As shown {MARK}.", 1, 0),
    ("A finding [PMID: 38999999].", f"A finding {MARK}.", 1, 0),
    ("A trial (NCT09999999).", f"A trial {MARK}.", 1, 0),
    ("Several [1, 2, 99].", f"Several [1][2] {MARK}.", 0, 1),
    ("Bare PMC777 here.", f"Bare {MARK} here.", 1, 0),
    ("Bare doi:10.9999/nothing, here.", f"Bare {MARK}, here.", 1, 0),
    ("Site www.fake.example/x.", f"Site {MARK}.", 1, 0),
    ("Angle <https://fake.example/y>.", f"Angle {MARK}.", 1, 0),
    # retrieved: become the source's number
    ("See [Nature](https://nature.com/articles/x?utm_source=feed).", "See Nature [3].", 0, 0),
    ("As shown [7](https://www.nature.com/articles/x/).", "As shown [3].", 0, 0),
    ("DOI https://doi.org/10.5555/ABC.123.", "DOI [4].", 0, 0),
    ("Known [PMID: 111] and PMID 222.", "Known [1] and [4].", 0, 0),
    ("The trial NCT01234567 runs.", "The trial NCT01234567 [2] runs.", 0, 0),
    ("The trial (NCT01234567).", "The trial (NCT01234567) [2].", 0, 0),
    ("Open access PMC999.", "Open access [4].", 0, 0),
    ("Record https://pubmed.ncbi.nlm.nih.gov/111/.", "Record [1].", 0, 0),
])
def test_every_identifier_form_is_matched_or_removed_and_marked(body: str, expected: str, ids_removed: int,
                                                                cites_removed: int) -> None:
    verified = audit(body)
    assert verified.text == expected
    assert (verified.identifiers_removed, verified.removed) == (ids_removed, cites_removed)


def test_matched_identifiers_count_as_citations_of_their_source() -> None:
    verified = audit("A [1]. B https://www.nature.com/articles/x. C NCT01234567.")
    assert verified.cited == [1, 3, 2] and verified.identifiers_matched == 2


def test_the_note_names_what_was_removed_and_says_nothing_when_nothing_was() -> None:
    assert removal_note(0, 0) is None
    note = removal_note(2, 3)
    assert note is not None and "2 citation(s) and 3 link(s) or identifier(s)" in note
