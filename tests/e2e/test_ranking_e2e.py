"""Ranking before reading, end to end: the best-matching source is read even when a service listed it last."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.corpus import Article, Corpus, EuropePMCRecord
from fakes.research_llm import ResearchLLM, task_of
from fakes.server import FakeServices

from .conftest import Mia, base_env

STRONG = "Quinolone XR-9 rescues dystrophin in zebrafish models of DMD gene therapy"


@pytest.fixture
def ranked(mia_home: Path) -> Iterator[tuple[Mia, FakeServices]]:
    corpus = Corpus.empty()
    for n in range(10):  # PubMed answers first, with ten papers that barely touch the question
        corpus.add_pubmed(Article(f"9902{n:04d}", f"Zebrafish husbandry note {n}", "Fish Journal", 2020, "Jan",
                                  [("Roe", "Ann")], [("", f"Tank water temperature for zebrafish colony {n}.")]))
    corpus.add_europepmc(EuropePMCRecord(
        id="PPR9902", source="PPR", title=STRONG, author_string="Lee K.", journal="", pub_year=2024,
        first_publication_date="2024-05-01",
        abstract_html="Quinolone XR-9 restored dystrophin and swimming in zebrafish DMD models; gene therapy next."))
    with FakeServices(corpus=corpus, llm=ResearchLLM(sub_questions=1)) as fake:
        yield Mia({**base_env(mia_home), **fake.env()}), fake


def test_the_best_matching_source_is_read_even_when_its_service_answered_last(
        ranked: tuple[Mia, FakeServices]) -> None:
    mia, fake = ranked
    result = mia.run("research", "quinolone XR-9 zebrafish", "--sources", "pubmed,europepmc", "--depth",
                     "standard")
    assert result.returncode == 0, result.stderr
    prompts = [r.json["messages"][-1]["content"] for r in fake.requests
               if r.service == "workers-ai" and task_of(r.json or {}) == "extract"]
    assert len(prompts) == 1 and prompts[0].count("\n[") == 8  # 11 candidates, 8 read
    first_source = prompts[0].split("<sources>\n", 1)[1].split("\n", 1)[0]
    assert STRONG in first_source
