"""Europe PMC searches with MeSH synonyms on, as its website does (REST `synonym` is off by default)."""

from __future__ import annotations

import dataclasses

import httpx
from fakes.corpus import Corpus
from fakes.server import FakeServices

from mia.tools.europepmc import EuropePMC
from mia.tools.http import RateLimiter


def test_a_lay_term_finds_papers_indexed_under_the_mesh_term() -> None:
    corpus = Corpus.empty()
    template = Corpus().europepmc[0]
    corpus.europepmc.append(dataclasses.replace(
        template, id="39990001", pmid="39990001", title="Early reperfusion after myocardial infarction",
        abstract_html="Primary PCI within 90 minutes of a myocardial infarction improves survival."))
    with FakeServices(corpus=corpus) as fake, httpx.Client(trust_env=False, timeout=10) as http:
        client = EuropePMC(http=http, base_url=f"{fake.url}/europepmc", limiter=RateLimiter(0))
        found = client.search("heart attack", max_results=5).sources
        seen = [r for r in fake.requests if r.service == "europepmc"]
    assert [s.identifier for s in found] == ["39990001"]
    assert seen and all(r.query.get("synonym") == ["true"] for r in seen)
