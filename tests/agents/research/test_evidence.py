"""Quote verification: a claim's quote must occur in the text of the source it cites."""

from __future__ import annotations

import pytest

from mia.agents.research.evidence import check_claims, find_quote, locate

TEXT = ("Givinostat slowed the decline in the four-stair climb “by 1.78 seconds” versus placebo — a "
        "clinically meaningful   difference, the authors said. Adverse events were mostly mild.")


@pytest.mark.parametrize("quote", [
    "slowed the decline in the four-stair climb",
    "SLOWED THE DECLINE in the four‑stair climb",  # case, a non-breaking hyphen
    '"by 1.78 seconds" versus placebo',  # straight quotes for curly ones
    "placebo - a clinically meaningful difference",  # a hyphen for an em dash, collapsed spaces
    "Givinostat slowed the decline ... versus placebo",  # a short ellipsis
    "Givinostat slowed … Adverse events were mostly mild",
])
def test_a_quote_is_found_despite_case_space_quote_and_dash_differences(quote: str) -> None:
    found = find_quote(quote, TEXT)
    assert found is not None and 0 <= found.start < found.end <= len(TEXT)


@pytest.mark.parametrize("quote", ["", "  ", "improved survival by 40 percent", "Givinostat cured ... everyone"])
def test_a_quote_not_in_the_text_is_not_found(quote: str) -> None:
    assert find_quote(quote, TEXT) is None


def test_the_found_span_points_into_the_original_text() -> None:
    found = find_quote("by 1.78 seconds", TEXT)
    assert found is not None and TEXT[found.start:found.end] == "by 1.78 seconds"


def test_locate_names_the_text_the_quote_was_found_in_preferring_the_cited_one() -> None:
    texts = {1: "alpha beta gamma", 2: "delta alpha beta"}
    found = locate("alpha beta", texts, prefer=2)
    assert found is not None and found.where == 2


def test_claims_are_verified_reattributed_or_dropped() -> None:
    texts = {1: "Exon skipping raised dystrophin levels.", 2: "Vamorolone had fewer bone effects."}
    checked = check_claims([
        {"claim": "a", "source": 1, "quote": "raised dystrophin levels"},
        {"claim": "b", "source": 1, "quote": "fewer bone effects"},
        {"claim": "c", "source": 2, "quote": "cures DMD"},
        {"claim": "d", "source": 2, "quote": ""},
    ], texts)
    assert [c["claim"] for c in checked.kept] == ["a", "b"]
    assert checked.kept[1]["source"] == 2 and checked.kept[1]["cited_as"] == 1
    assert [c["quote_check"] for c in checked.dropped] == ["not_found", "not_found"]
    assert checked.counts() == {"quotes_verified": 2, "quotes_unverified": 2, "claims_reattributed": 1}


@pytest.mark.parametrize(("quotes", "words"), [
    (["", None], "2 extracted claim(s) were left out: they gave no quote."),
    (["made up words", "also made up"], "their quote was not found in any retrieved source"),
    (["", "made up words"], "1 gave no quote and 1 a quote not found in any retrieved source"),
])
def test_the_notice_about_claims_left_out_says_whether_they_had_a_quote(quotes: list[str | None],
                                                                          words: str) -> None:
    checked = check_claims([{"claim": "c", "source": 1, "quote": q} for q in quotes],
                           {1: "The trial met its primary endpoint."})
    notice = checked.dropped_notice()
    assert notice is not None and words in notice


def test_no_notice_when_no_claim_was_left_out() -> None:
    checked = check_claims([{"claim": "c", "source": 1, "quote": "met its primary endpoint"}],
                           {1: "The trial met its primary endpoint."})
    assert checked.dropped_notice() is None
