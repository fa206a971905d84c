"""Study design and status come back from each literature service, as the services send them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fakes.corpus import Article, Corpus, Trial
from fakes.server import FakeServices

from mia.tools.clinicaltrials import ClinicalTrials
from mia.tools.europepmc import EuropePMC
from mia.tools.pubmed import PubMed

RETRACTED = Article("99019901", "Zebrafish dystrophin rescue by quinolone XR-9", "Retraction Test Journal", 2021,
                    "Feb", [("Smith", "Jane")], [("", "Quinolone XR-9 rescued dystrophin in zebrafish larvae.")],
                    pub_types=("Journal Article", "Retracted Publication"), retraction_in="99019999")
NOTICE_ONLY = Article("99019902", "Zebrafish quinolone XR-9 motor outcomes", "Retraction Test Journal", 2022,
                      "Mar", [("Smith", "Jane")], [("", "Quinolone XR-9 improved swimming in zebrafish.")],
                      retraction_in="99019998")  # retracted, but the type is not (yet) on the record
META = Article("99019903", "Quinolone XR-9 trials: a meta-analysis", "Retraction Test Journal", 2023, "Apr",
               [("Doe", "John")], [("", "Pooled zebrafish quinolone XR-9 studies.")],
               pub_types=("Journal Article", "Meta-Analysis", "Systematic Review"))


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    corpus = Corpus()
    for article in (META, NOTICE_ONLY, RETRACTED):
        corpus.add_pubmed(article, also_europepmc=True)
    corpus.add_trial(Trial("NCT99019901", "RECRUITING", ["PHASE2", "PHASE3"], "Test Sponsor",
                           "Quinolone XR-9 zebrafish-derived therapy", "Official", ["DMD"], "Summary.",
                           enrollment=120))
    with FakeServices(corpus=corpus) as server:
        yield server


def test_pubmed_reads_publication_types_and_retraction_notices(fake: FakeServices) -> None:
    with httpx.Client() as http:
        found = PubMed(http=http, base_url=f"{fake.url}/eutils").search("quinolone XR-9 zebrafish", max_results=5)
    by_pmid = {s.identifier: s for s in found.sources}
    assert by_pmid["99019901"].retracted and "Retracted Publication" in by_pmid["99019901"].publication_types
    assert by_pmid["99019902"].retracted and by_pmid["99019902"].publication_types == ["Journal Article"]
    assert not by_pmid["99019903"].retracted
    assert by_pmid["99019903"].publication_types == ["Journal Article", "Meta-Analysis", "Systematic Review"]


def test_europe_pmc_reads_pub_type_list(fake: FakeServices) -> None:
    with httpx.Client() as http:
        found = EuropePMC(http=http, base_url=f"{fake.url}/europepmc").search("quinolone XR-9 zebrafish")
    by_id = {s.identifier: s for s in found.sources}
    assert by_id["99019901"].retracted and not by_id["99019903"].retracted
    assert "Meta-Analysis" in by_id["99019903"].publication_types


def test_clinicaltrials_reads_enrolment_and_study_type(fake: FakeServices) -> None:
    with httpx.Client() as http:
        found = ClinicalTrials(http=http, base_url=f"{fake.url}/ctgov/api/v2").search("quinolone XR-9")
    trial = next(s for s in found.sources if s.identifier == "NCT99019901")
    assert (trial.enrollment, trial.enrollment_type, trial.study_type) == (120, "ESTIMATED", "INTERVENTIONAL")
    assert trial.phases == ["PHASE2", "PHASE3"] and trial.status == "RECRUITING"
