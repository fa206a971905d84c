"""Passages and their BM25 ranking: the one index that ranking, local files and the offline eval share."""

from __future__ import annotations

import pytest

from mia.tools.passages import Passage, PassageIndex, split_passages


def test_a_long_text_is_split_on_paragraphs_then_sentences_and_keeps_its_location() -> None:
    text = ("Background one. " * 5).strip() + "\n\n" + "Methods. " + "We randomised patients. " * 100 + "\n\nEnd."
    passages = split_passages(text, doc="PMID:1", location="Methods", max_chars=300)
    assert all(len(p.text) <= 300 for p in passages)
    assert {p.location for p in passages} == {"Methods"} and {p.doc for p in passages} == {"PMID:1"}
    assert passages[0].text.startswith("Background one.")
    # Nothing is lost: every sentence of the text is in some passage, in order.
    assert " ".join(p.text for p in passages).count("We randomised patients.") == 100
    assert passages[-1].text.endswith("End.")


def test_short_paragraphs_are_joined_and_blank_text_gives_nothing() -> None:
    assert [p.text for p in split_passages("a b.\n\nc d.", doc="d", location="p. 1")] == ["a b. c d."]
    assert split_passages("  \n\n ", doc="d", location="p. 1") == []
    with pytest.raises(ValueError):
        split_passages("x", doc="d", location="p. 1", max_chars=0)


def test_the_passage_about_the_sub_question_ranks_first_and_unrelated_ones_not_at_all() -> None:
    corpus = {
        "cats": "Domestic cats are small carnivorous mammals kept as pets.",
        "eteplirsen": "Eteplirsen is an antisense oligonucleotide for exon 51 skipping in Duchenne muscular dystrophy.",
        "steroids": "Corticosteroids such as deflazacort slow the decline of muscle strength in Duchenne patients.",
        "weather": "Rain is expected over the weekend in the north.",
    }
    index = PassageIndex([Passage(doc=k, location="abstract", text=v) for k, v in corpus.items()])
    ranked = index.rank("Which exon skipping therapies exist for Duchenne muscular dystrophy?", k=4)
    assert [p.doc for p, _ in ranked] == ["eteplirsen", "steroids"]
    assert ranked[0][1] > ranked[1][1] > 0
    assert index.rank("zebra migration", k=3) == []
    assert index.rank("the and of", k=3) == []  # stop words only


def test_the_location_counts_towards_the_match_and_an_empty_index_ranks_nothing() -> None:
    index = PassageIndex([Passage(doc="a", location="Adverse events", text="Nausea was reported."),
                          Passage(doc="b", location="Results", text="Nausea was reported.")])
    assert index.rank("adverse events", k=1)[0][0].doc == "a"
    assert PassageIndex([]).rank("anything") == [] and len(PassageIndex([])) == 0
