"""Ranking before reading: the extraction budget goes to the sources that match the sub-question best."""

from __future__ import annotations

from mia.agents.research.ranking import rank_sources
from mia.models import Source


def src(n: int, title: str, snippet: str = "", kind: str = "pubmed") -> Source:
    return Source(kind=kind, url=f"https://example.org/{n}", title=title, snippet=snippet, number=n)


def test_the_best_matching_sources_come_first_whatever_the_service_order() -> None:
    candidates = [src(1, "Cost of care"), src(2, "Natural history registry"),
                  src(3, "Cardiomyopathy in DMD", "Cardiac MRI showed cardiomyopathy progression in DMD."),
                  src(4, "Heart failure drugs", "Eplerenone slowed cardiomyopathy.")]
    ranked = rank_sources("What is known about cardiomyopathy in DMD?", candidates, 3)
    assert [s.number for s in ranked] == [3, 4, 1]


def test_sources_without_a_matching_word_keep_service_order_after_the_matches() -> None:
    candidates = [src(1, "Alpha"), src(2, "Beta"), src(3, "Gamma exon skipping")]
    assert [s.number for s in rank_sources("exon skipping", candidates, 3)] == [3, 1, 2]
    assert [s.number for s in rank_sources("zzz", candidates, 2)] == [1, 2]


def test_a_reply_to_the_agents_mail_is_always_read() -> None:
    candidates = [src(1, "Exon skipping trial"), src(2, "Re: your question", "Thanks.", kind="correspondence")]
    assert [s.number for s in rank_sources("exon skipping", candidates, 1)] == [2]
    assert [s.number for s in rank_sources("exon skipping", candidates, 2)] == [2, 1]
