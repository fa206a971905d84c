"""Perplexity web search, the client factory, and what every search client promises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from mia.errors import ServiceError, UsageError
from mia.settings import load_settings
from mia.tools.clinicaltrials import ClinicalTrials
from mia.tools.europepmc import EuropePMC
from mia.tools.http import RateLimiter, RetryPolicy
from mia.tools.perplexity import PerplexitySearch
from mia.tools.pubmed import PubMed
from mia.tools.search import NO_PERPLEXITY_KEY, SOURCE_NAMES, SearchClient, build_search_clients, trim

if TYPE_CHECKING:
    from conftest import FakeService

NO_WAIT = RetryPolicy(base_delay=0, max_delay=0)
BASE = "https://api.perplexity.test"

SEARCH_RESPONSE: dict[str, Any] = {
    "id": "3c1b7f9e-2a4d-4f7e-9a51-0d7c2e6b8f10",
    "results": [
        {
            "title": "FDA approves first gene therapy for Duchenne muscular dystrophy",
            "url": "https://www.fda.gov/news-events/press-announcements/fda-approves-gene-therapy-dmd",
            "snippet": "The FDA granted accelerated approval to delandistrogene moxeparvovec for ambulatory "
                       "pediatric patients aged 4 through 5 years with Duchenne muscular dystrophy.",
            "date": "2023-06-22",
            "last_updated": "2024-06-20",
        },
        {
            "title": "  Exon skipping in DMD:\n a review ",
            "url": "https://journal.example.org/articles/exon-skipping-dmd",
            "snippet": "Antisense oligonucleotides restore the reading frame of the dystrophin transcript.",
            "date": None,
            "last_updated": "2025-01-10",
        },
        {"title": "A result without a link", "url": None, "snippet": "dropped", "date": None,
         "last_updated": None},
    ],
    "server_time": None,
}


def web(http: httpx.Client, **kwargs: Any) -> PerplexitySearch:
    return PerplexitySearch(http=http, base_url=BASE, api_key="pplx-test-key", limiter=RateLimiter(0),
                            retry=NO_WAIT, **kwargs)


def test_web_search_posts_only_query_and_max_results_with_the_bearer_key(fake: FakeService,
                                                                         http: httpx.Client):
    fake.on("/search", fake.reply(json_body=SEARCH_RESPONSE))

    result = web(http, price_per_request=0.005).search("DMD gene therapy approval", max_results=5)

    request = fake.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/search")
    assert request.headers["authorization"] == "Bearer pplx-test-key"
    assert fake.body(0) == {"query": "DMD gene therapy approval", "max_results": 5}
    first, second = result.sources
    assert first.kind == "web" and first.url.startswith("https://www.fda.gov/")
    assert first.title == "FDA approves first gene therapy for Duchenne muscular dystrophy"
    assert first.date == "2023-06-22" and "accelerated approval" in first.snippet
    assert first.query == "DMD gene therapy approval"
    assert second.title == "Exon skipping in DMD: a review"  # whitespace collapsed
    assert second.date == "2025-01-10"  # no date: last_updated stands in
    assert result.usage.service == "Perplexity"
    assert result.usage.requests == 1 and result.usage.cost_usd == pytest.approx(0.005)


def test_web_search_asks_for_at_most_the_twenty_results_the_api_allows(fake: FakeService, http: httpx.Client):
    fake.on("/search", fake.reply(json_body={"id": "x", "results": [], "server_time": None}))

    result = web(http).search("dystrophin", max_results=50)

    assert fake.body(0)["max_results"] == 20
    assert result.sources == []


def test_a_rate_limited_web_search_waits_and_is_billed_once(fake: FakeService, http: httpx.Client):
    limited = {"error": {"message": "Rate limit exceeded", "type": "request_rate_limit_exceeded",
                         "code": 429}}
    fake.on("/search", fake.reply(429, json_body=limited, headers={"Retry-After": "1"}),
            fake.reply(json_body=SEARCH_RESPONSE))

    result = web(http, price_per_request=0.005).search("eteplirsen")

    assert fake.paths() == ["/search", "/search"]
    assert len(result.sources) == 2
    assert result.usage.requests == 1 and result.usage.cost_usd == pytest.approx(0.005)  # 429s are not billed


def test_a_rejected_web_search_shows_perplexitys_own_message_without_retrying(fake: FakeService,
                                                                               http: httpx.Client):
    bad = {"error": {"message": 'invalid request body: json: unknown field "search_mode"',
                     "type": "invalid_request", "code": 400}}
    fake.on("/search", fake.reply(400, json_body=bad))

    with pytest.raises(ServiceError) as caught:
        web(http).search("DMD")

    assert 'unknown field "search_mode"' in caught.value.message
    assert caught.value.status == 400 and not caught.value.retryable
    assert len(fake.requests) == 1


def test_a_bad_key_points_at_the_credentials(fake: FakeService, http: httpx.Client):
    unauthorized = {"error": {"message": "Invalid API key", "type": "unauthorized"}}
    fake.on("/search", fake.reply(401, json_body=unauthorized))

    with pytest.raises(ServiceError) as caught:
        web(http).search("DMD")

    assert "Invalid API key" in caught.value.message
    assert caught.value.hint and "credentials" in caught.value.hint


def test_the_perplexity_key_never_shows_in_the_clients_repr(http: httpx.Client):
    assert "pplx-test-key" not in repr(web(http))


@pytest.mark.parametrize(("make", "path", "body", "missing"), [
    (lambda h: web(h), "/search", {"id": "x", "server_time": None}, "results"),
    (lambda h: EuropePMC(http=h, base_url="https://epmc.test/rest", retry=NO_WAIT),
     "/rest/search", {"version": "6.9", "hitCount": 3}, "resultList"),
    (lambda h: ClinicalTrials(http=h, base_url="https://ct.test/api/v2", retry=NO_WAIT),
     "/api/v2/studies", {"totalCount": 3}, "studies"),
    (lambda h: PubMed(http=h, base_url="https://eutils.test/eutils", retry=NO_WAIT),
     "/eutils/esearch.fcgi", {"header": {"type": "esearch"}}, "esearchresult"),
])
def test_an_unexpected_json_shape_is_a_service_error_that_names_the_gap(
        fake: FakeService, http: httpx.Client, make: Any, path: str, body: Any, missing: str):
    fake.on(path, fake.reply(json_body=body))
    client = make(http)

    with pytest.raises(ServiceError) as caught:
        client.search("duchenne")

    assert client.service in caught.value.message and f"'{missing}'" in caught.value.message
    assert caught.value.hint and client.setting in caught.value.hint


@pytest.mark.parametrize("body", [["not", "an", "object"], {"results": "nope"}, {"results": [7]}])
def test_wrongly_typed_json_is_a_service_error_not_a_type_error(fake: FakeService, http: httpx.Client,
                                                                 body: Any):
    fake.on("/search", fake.reply(json_body=body))

    with pytest.raises(ServiceError, match="Perplexity returned an unexpected response"):
        web(http).search("duchenne")


def test_an_html_page_instead_of_json_is_a_service_error_with_a_base_url_hint(fake: FakeService,
                                                                              http: httpx.Client):
    page = b"<!doctype html><html><body>Welcome to nginx!</body></html>"
    fake.on("/rest/search", fake.reply(content=page, headers={"content-type": "text/html"}))

    with pytest.raises(ServiceError) as caught:
        EuropePMC(http=http, base_url="https://epmc.test/rest", retry=NO_WAIT).search("duchenne")

    assert "not JSON (text/html)" in caught.value.message
    assert caught.value.hint and "europepmc.base_url" in caught.value.hint


def test_default_limiters_follow_each_services_published_rate(http: httpx.Client):
    limiters = {
        "web": PerplexitySearch(http=http, base_url=BASE, api_key="k").limiter,
        "pubmed": PubMed(http=http, base_url=BASE).limiter,
        "pubmed+key": PubMed(http=http, base_url=BASE, api_key="ncbi").limiter,
        "europepmc": EuropePMC(http=http, base_url=BASE).limiter,
        "trials": ClinicalTrials(http=http, base_url=BASE).limiter,
    }
    rates = {name: (limiter.rate, limiter.burst) for name, limiter in limiters.items()}
    assert rates == {"web": (50, 50), "pubmed": (pytest.approx(2.85), 1), "pubmed+key": (pytest.approx(9.5), 1),
                     "europepmc": (10, 10),
                     "trials": (pytest.approx(50 / 60), 10)}
    assert PubMed(http=http, base_url=BASE).limiter is not PubMed(http=http, base_url=BASE).limiter


def test_snippets_are_cut_at_a_word_boundary():
    text = "dystrophin " * 200

    cut = trim(text, 100)

    assert len(cut) <= 101 and cut.endswith("dystrophin…")
    assert trim("short abstract") == "short abstract"


# --- build_search_clients ----------------------------------------------------------------------

def test_without_a_perplexity_key_web_search_is_skipped_with_a_notice(http: httpx.Client):
    clients, notices = build_search_clients(load_settings(), http, ["web", "pubmed", "europepmc", "trials"])

    assert sorted(clients) == ["europepmc", "pubmed", "trials"]
    assert notices == [NO_PERPLEXITY_KEY]
    assert "PERPLEXITY_API_KEY" in notices[0] and "mia config set perplexity.api_key" in notices[0]


def test_clients_take_keys_prices_and_base_urls_from_settings(fake: FakeService, http: httpx.Client):
    settings = load_settings({"perplexity.api_key": "pplx-from-settings", "perplexity.base_url": BASE,
                              "prices.perplexity_search_usd": 0.001, "pubmed.api_key": "ncbi-key",
                              "pubmed.email": "lab@example.org"})
    fake.on("/search", fake.reply(json_body=SEARCH_RESPONSE))

    clients, notices = build_search_clients(settings, http, SOURCE_NAMES)

    # `file` searches an agent's own documents, so it is left out when no agent folder is given.
    assert notices == [] and list(clients) == [name for name in SOURCE_NAMES if name != "file"]
    assert [(c.name, c.service) for c in clients.values()] == [
        ("web", "Perplexity"), ("pubmed", "PubMed"), ("europepmc", "Europe PMC"),
        ("trials", "ClinicalTrials.gov")]
    web_client: SearchClient = clients["web"]
    assert web_client.search("DMD").usage.cost_usd == pytest.approx(0.001)
    assert fake.requests[0].headers["authorization"] == "Bearer pplx-from-settings"
    pubmed = clients["pubmed"]
    assert isinstance(pubmed, PubMed) and pubmed.limiter.rate == pytest.approx(9.5)  # 10/s less headroom
    assert pubmed.email == "lab@example.org"
    assert isinstance(clients["trials"], ClinicalTrials)
    assert clients["trials"].base_url == "https://clinicaltrials.gov/api/v2"


def test_an_unknown_source_is_a_usage_error_listing_the_valid_ones(http: httpx.Client):
    with pytest.raises(UsageError) as caught:
        build_search_clients(load_settings(), http, ["pubmed", "scholar"])

    assert "'scholar'" in caught.value.message
    assert caught.value.hint == "Valid sources: web, pubmed, europepmc, trials, file."


def test_source_names_are_matched_loosely_and_only_once(http: httpx.Client):
    clients, _ = build_search_clients(load_settings(), http, [" PubMed ", "pubmed", "", "Trials"])

    assert list(clients) == ["pubmed", "trials"]
