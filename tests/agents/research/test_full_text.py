"""Full text where it is open: fetched once into the agent's folder, split by section, ranked, quoted by section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fakes.corpus import Article, Corpus
from fakes.server import FakeServices

from mia.agents.research.fulltext import FullTextReader, check_with_full_text, pmcid_of
from mia.models import Source
from mia.tools.fulltext import EuropePMCFullText, sections
from mia.tools.passages import Passage

OPEN = Article("99040001", "Eteplirsen-like exon 53 skipping in DMD", "Open Journal", 2024, "Jun", [("Oh", "Mi")],
               [("", "Exon 53 skipping raised dystrophin.")], pmcid="PMC9904001",
               full_text=(("Methods", "Boys received weekly infusions for 48 weeks."),
                          ("Adverse events", "Proteinuria occurred in three boys and resolved after dose pauses.")))


class Step:
    """The part of RunContext the reader uses: run a step once, remember its output."""

    def __init__(self) -> None:
        self.done: dict[str, Any] = {}

    def step(self, key: str, fn: Any) -> Any:
        if key not in self.done:
            self.done[key] = fn()
        return self.done[key]


def test_the_jats_full_text_comes_back_as_named_sections_and_a_closed_article_as_none() -> None:
    corpus = Corpus()
    corpus.add_pubmed(OPEN)
    with FakeServices(corpus=corpus) as fake, httpx.Client() as http:
        client = EuropePMCFullText(http=http, base_url=f"{fake.url}/europepmc")
        xml = client.fetch_xml("PMC9904001")
        assert client.fetch_xml("PMC1234567") is None
    assert xml is not None
    assert sections(xml) == [("Abstract", "Exon 53 skipping raised dystrophin."),
                             ("Methods", "Boys received weekly infusions for 48 weeks."),
                             ("Adverse events", "Proteinuria occurred in three boys and resolved after dose pauses.")]


def test_full_text_is_downloaded_once_into_the_agents_folder_and_read_from_there_after(tmp_path: Path) -> None:
    corpus = Corpus()
    corpus.add_pubmed(OPEN)
    source = Source(kind="pubmed", url="https://pubmed.ncbi.nlm.nih.gov/99040001/", title=OPEN.title,
                    identifier="99040001", aliases=["PMC9904001"], number=4)
    assert pmcid_of(source) == "PMC9904001"
    with FakeServices(corpus=corpus) as fake, httpx.Client() as http:
        reader = FullTextReader(EuropePMCFullText(http=http, base_url=f"{fake.url}/europepmc"), tmp_path)
        shown = reader.read(Step(), [source], "proteinuria adverse events")
        again = FullTextReader(EuropePMCFullText(http=http, base_url=f"{fake.url}/europepmc"), tmp_path)
        assert again.read(Step(), [source], "proteinuria adverse events") == shown  # a later run of the agent
        downloads = fake.count("europepmc", path_contains="fullTextXML")
    assert downloads == 1 and (tmp_path / "PMC9904001.xml").exists()
    assert shown[4][0].location == "Adverse events"


def test_a_quote_from_full_text_is_verified_and_says_its_section() -> None:
    source = Source(kind="pubmed", url="u", title="T", snippet="Abstract words here.", number=1)
    shown = {1: [Passage(doc="PMC1", location="Adverse events", text="Proteinuria occurred in three boys.")]}
    claims = [{"claim": "c", "source": 1, "quote": "proteinuria occurred in three boys"},
              {"claim": "d", "source": 1, "quote": "abstract words here"}]
    checked = check_with_full_text(claims, [source], shown)
    assert [c.get("section") for c in checked.kept] == ["Adverse events", None] and checked.unverified == 0
