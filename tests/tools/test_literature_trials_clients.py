"""Europe PMC and ClinicalTrials.gov v2: the parameters sent and the sources read back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from mia.errors import ServiceError
from mia.tools.clinicaltrials import ClinicalTrials
from mia.tools.europepmc import EuropePMC
from mia.tools.http import RateLimiter, RetryPolicy

if TYPE_CHECKING:
    from conftest import FakeService

NO_WAIT = RetryPolicy(base_delay=0, max_delay=0)
EPMC = "https://epmc.test/europepmc/webservices/rest"
CTGOV = "https://ctgov.test/api/v2"

EPMC_SEARCH: dict[str, Any] = {
    "version": "6.9",
    "hitCount": 2311,
    "nextCursorMark": "AoIIQKfYxyg0NDIyNjA1Nw==",
    "request": {"queryString": "duchenne exon skipping", "resultType": "core", "cursorMark": "*",
                "pageSize": 3, "sort": "", "synonym": False},
    "resultList": {"result": [
        {
            "id": "39011111", "source": "MED", "pmid": "39011111", "pmcid": "PMC11200001",
            "doi": "10.1016/j.nmd.2024.05.004",
            "title": "Long-term outcomes of <i>eteplirsen</i> in Duchenne muscular dystrophy.",
            "authorString": "Khan N, Eliopoulos H, Han L.",
            "journalInfo": {"issue": "6", "volume": "34",
                            "journal": {"title": "Neuromuscular Disorders", "isoabbreviation": "Neuromuscul Disord"}},
            "pubYear": "2024",
            "abstractText": "<h4>Background</h4>Exon 51 skipping restores dystrophin.<h4>Methods</h4>We "
                            "compared 12 treated boys with external controls &amp; registries.",
            "isOpenAccess": "Y",
            "firstPublicationDate": "2024-06-01",
        },
        {
            "id": "PPR876543", "source": "PPR", "doi": "10.1101/2025.02.11.637001",
            "title": "Base editing of DMD exon 45 in human myoblasts",
            "authorString": "Rossi M, Park J.", "journalTitle": "bioRxiv", "pubYear": "2025",
            "isOpenAccess": "Y",
        },
        {
            "id": "PMC10999999", "source": "PMC", "pmcid": "PMC10999999", "title": "Caregiver burden in DMD",
            "journalTitle": "Orphanet J Rare Dis", "pubYear": "2023", "abstractText": "", "isOpenAccess": "N",
        },
    ]},
}


def study(nct: str, title: str, *, status: str, phases: list[str] | None, start: str | None,
          sponsor: str, summary: str | None, updated: str = "2025-09-30") -> dict[str, Any]:
    """One study in the ClinicalTrials.gov v2 shape."""
    protocol: dict[str, Any] = {
        "identificationModule": {"nctId": nct, "orgStudyIdInfo": {"id": f"ORG-{nct[-4:]}"},
                                 "briefTitle": title, "officialTitle": f"A Study of {title}"},
        "statusModule": {"statusVerifiedDate": "2025-09", "overallStatus": status,
                         "lastUpdatePostDateStruct": {"date": updated, "type": "ACTUAL"}},
        "sponsorCollaboratorsModule": {"leadSponsor": {"name": sponsor, "class": "INDUSTRY"}},
        "conditionsModule": {"conditions": ["Duchenne Muscular Dystrophy"], "keywords": ["DMD"]},
        "designModule": {"studyType": "INTERVENTIONAL",
                         "enrollmentInfo": {"count": 120, "type": "ESTIMATED"}},
    }
    if start:
        protocol["statusModule"]["startDateStruct"] = {"date": start, "type": "ACTUAL"}
    if phases is not None:
        protocol["designModule"]["phases"] = phases
    if summary is not None:
        protocol["descriptionModule"] = {"briefSummary": summary}
    return {"protocolSection": protocol,
            "derivedSection": {"miscInfoModule": {"versionHolder": "2025-10-01"}}, "hasResults": False}


CT_STUDIES: dict[str, Any] = {
    "studies": [
        study("NCT05096221", "Gene Transfer Therapy for Ambulatory DMD (EMBARK)",
              status="ACTIVE_NOT_RECRUITING", phases=["PHASE3"], start="2021-10-27",
              sponsor="Sarepta Therapeutics, Inc.",
              summary="This study will evaluate the safety and efficacy of delandistrogene moxeparvovec "
                      "in ambulatory participants with\n\nDuchenne muscular dystrophy."),
        study("NCT06128564", "Givinostat Open-label Extension in DMD", status="RECRUITING",
              phases=["PHASE2", "PHASE3"], start=None, sponsor="Italfarmaco", summary=None,
              updated="2025-08-14"),
        study("NCT04704921", "Natural History of Cardiomyopathy in DMD", status="COMPLETED",
              phases=None, start="2021-01", sponsor="Cincinnati Children's Hospital Medical Center",
              summary="An observational registry."),
    ],
    "nextPageToken": "NF0g5JGBlPMuwQ",
}


def europepmc(http: httpx.Client, **kwargs: Any) -> EuropePMC:
    return EuropePMC(http=http, base_url=EPMC, limiter=RateLimiter(0), retry=NO_WAIT, **kwargs)


def trials(http: httpx.Client, **kwargs: Any) -> ClinicalTrials:
    return ClinicalTrials(http=http, base_url=CTGOV, limiter=RateLimiter(0), retry=NO_WAIT, **kwargs)


# --- Europe PMC ----------------------------------------------------------------------------

def test_europe_pmc_search_asks_for_core_json_records(fake: FakeService, http: httpx.Client):
    fake.on("/europepmc/webservices/rest/search", fake.reply(json_body=EPMC_SEARCH))

    result = europepmc(http).search("duchenne exon skipping", max_results=3)

    assert fake.params(0) == {"query": "duchenne exon skipping", "format": "json", "resultType": "core",
                              "synonym": "true", "pageSize": "3"}
    assert [s.identifier for s in result.sources] == ["39011111", "10.1101/2025.02.11.637001", "PMC10999999"]
    assert result.usage.service == "Europe PMC" and result.usage.requests == 1


def test_europe_pmc_records_become_clean_sources(fake: FakeService, http: httpx.Client):
    fake.on("/europepmc/webservices/rest/search", fake.reply(json_body=EPMC_SEARCH))

    article, preprint, no_abstract = europepmc(http).search("duchenne exon skipping").sources

    assert article.kind == "europepmc" and article.url == "https://europepmc.org/article/MED/39011111"
    assert article.title == "Long-term outcomes of eteplirsen in Duchenne muscular dystrophy."
    assert article.snippet == ("Background Exon 51 skipping restores dystrophin. Methods We compared 12 "
                               "treated boys with external controls & registries.")
    assert article.date == "2024-06-01"
    assert (preprint.url, preprint.date) == ("https://europepmc.org/article/PPR/PPR876543", "2025")
    assert no_abstract.snippet == "Orphanet J Rare Dis"
    assert preprint.query == "duchenne exon skipping"


@pytest.mark.parametrize("body", [
    {"version": "6.9", "hitCount": 0, "request": {"queryString": "xyzzyplex"}, "resultList": {"result": []}},
    {"version": "6.9", "hitCount": 0, "request": {"queryString": "xyzzyplex"}},
])
def test_no_europe_pmc_hits_is_an_empty_list(fake: FakeService, http: httpx.Client, body: dict[str, Any]):
    fake.on("/europepmc/webservices/rest/search", fake.reply(json_body=body))

    assert europepmc(http).search("xyzzyplex").sources == []


def test_a_europe_pmc_outage_is_retried(fake: FakeService, http: httpx.Client):
    fake.on("/europepmc/webservices/rest/search", fake.reply(503, content=b"Service Temporarily Unavailable"),
            fake.reply(json_body=EPMC_SEARCH))

    result = europepmc(http).search("duchenne")

    assert len(fake.requests) == 2 and len(result.sources) == 3


def test_a_malformed_europe_pmc_record_list_is_a_service_error(fake: FakeService, http: httpx.Client):
    body = {"hitCount": 5, "resultList": {"result": 3}}
    fake.on("/europepmc/webservices/rest/search", fake.reply(json_body=body))

    with pytest.raises(ServiceError, match=r"'resultList\.result' is malformed"):
        europepmc(http).search("duchenne")


# --- ClinicalTrials.gov ------------------------------------------------------------------------

def test_trial_search_sends_the_v2_parameters(fake: FakeService, http: httpx.Client):
    fake.on("/api/v2/studies", fake.reply(json_body=CT_STUDIES))

    result = trials(http).search("duchenne gene therapy", max_results=3)

    assert fake.params(0) == {"query.term": "duchenne gene therapy", "pageSize": "3", "format": "json",
                              "countTotal": "false"}
    assert not any(name.startswith("filter.") for name in fake.params(0))
    assert [s.identifier for s in result.sources] == ["NCT05096221", "NCT06128564", "NCT04704921"]
    assert result.usage.service == "ClinicalTrials.gov" and result.usage.requests == 1


def test_trials_carry_status_phases_sponsor_and_dates(fake: FakeService, http: httpx.Client):
    fake.on("/api/v2/studies", fake.reply(json_body=CT_STUDIES))

    embark, extension, registry = trials(http).search("duchenne").sources

    assert embark.kind == "trial" and embark.url == "https://clinicaltrials.gov/study/NCT05096221"
    assert embark.title == "Gene Transfer Therapy for Ambulatory DMD (EMBARK)"
    assert (embark.status, embark.phases, embark.sponsor) == ("ACTIVE_NOT_RECRUITING", ["PHASE3"],
                                                             "Sarepta Therapeutics, Inc.")
    assert embark.date == "2021-10-27"
    assert embark.snippet.endswith("ambulatory participants with Duchenne muscular dystrophy.")
    assert (extension.phases, extension.date) == (["PHASE2", "PHASE3"], "2025-08-14")  # no start: last update
    assert extension.snippet == "Conditions: Duchenne Muscular Dystrophy"
    assert (registry.phases, registry.date, registry.status) == ([], "2021-01", "COMPLETED")


def test_no_matching_trials_is_an_empty_list(fake: FakeService, http: httpx.Client):
    fake.on("/api/v2/studies", fake.reply(json_body={"studies": []}))

    assert trials(http).search("xyzzyplex").sources == []


def test_a_rejected_trial_search_shows_the_services_plain_text_message(fake: FakeService, http: httpx.Client):
    fake.on("/api/v2/studies", fake.reply(400, content=b"pageSize: must be less than or equal to 1000",
                                         headers={"content-type": "text/plain"}))

    with pytest.raises(ServiceError) as caught:
        trials(http).search("duchenne")

    assert caught.value.message == ("ClinicalTrials.gov answered HTTP 400: "
                                    "pageSize: must be less than or equal to 1000")
    assert len(fake.requests) == 1


def test_trial_searches_are_spaced_by_the_token_bucket(fake: FakeService, http: httpx.Client):
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    fake.on("/api/v2/studies", fake.reply(json_body={"studies": []}))
    client = ClinicalTrials(http=http, base_url=CTGOV, retry=NO_WAIT,
                            limiter=RateLimiter(50 / 60, burst=10, clock=lambda: now[0], sleep=sleep))

    for _ in range(12):
        client.search("duchenne")

    assert len(fake.requests) == 12
    assert slept == [pytest.approx(1.2), pytest.approx(1.2)]  # the burst of 10 is free, then 50 a minute


def test_europe_pmc_records_carry_authors_journal_and_doi_for_citing(fake: FakeService, http: httpx.Client):
    fake.on("/europepmc/webservices/rest/search", fake.reply(json_body=EPMC_SEARCH))

    article, preprint, no_abstract = europepmc(http).search("duchenne exon skipping").sources

    assert article.authors == ["Khan N", "Eliopoulos H", "Han L"]
    assert article.journal == "Neuromuscular Disorders" and article.doi == "10.1016/j.nmd.2024.05.004"
    assert preprint.journal == "bioRxiv" and preprint.doi == "10.1101/2025.02.11.637001"
    assert no_abstract.authors == [] and no_abstract.doi is None
