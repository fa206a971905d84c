"""Full text where it is open, end to end: the extraction reads the relevant section and the quote says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.corpus import Article, Corpus
from fakes.research_llm import ResearchLLM, task_of
from fakes.server import FakeServices

from .conftest import Mia, base_env

OPEN = Article("99040001", "Exon 53 skipping in boys with DMD", "Open Journal", 2024, "Jun", [("Oh", "Mi")],
               [("", "An open-label study of weekly infusions.")], pmcid="PMC9904001",
               full_text=(("Methods", "Boys received weekly infusions for 48 weeks."),
                          ("Results", "Exon skipping among DMD treatments raised dystrophin to 6% of normal.")))


@pytest.fixture
def open_access(mia_home: Path) -> Iterator[tuple[Mia, FakeServices]]:
    corpus = Corpus()
    corpus.add_pubmed(OPEN, also_europepmc=True)
    with FakeServices(corpus=corpus, llm=ResearchLLM()) as fake:
        yield Mia({**base_env(mia_home), **fake.env()}), fake


def test_an_open_article_is_read_in_full_and_its_quote_names_the_section(
        open_access: tuple[Mia, FakeServices]) -> None:
    mia, fake = open_access
    result = mia.run("research", "DMD treatments", "--sources", "pubmed,europepmc", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    folder = Path(json.loads(result.stdout)["report_path"]).parent
    assert (folder / "fulltext" / "PMC9904001.xml").exists()
    assert fake.count("europepmc", path_contains="PMC9904001/fullTextXML") == 1  # once, for every sub-question
    prompts = [r.json["messages"][-1]["content"] for r in fake.requests
               if r.service == "workers-ai" and task_of(r.json or {}) == "extract"]
    assert any("[Full text, Results] Exon skipping among DMD treatments" in p for p in prompts)
    number = next(s["number"] for s in json.loads((folder / "sources.json").read_text())
                  if s["identifier"] == "99040001")
    claims = [c for c in json.loads((folder / "evidence" / "claims.json").read_text()) if c["source"] == number]
    assert claims and all(c["section"] == "Results" and c["quote_check"] == "verified" for c in claims)
    assert '"Exon skipping among DMD treatments raised dystrophin to" (full text, Results)' in (
        folder / "evidence" / "evidence.md").read_text()
