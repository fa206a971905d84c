"""Concurrent PubMed searches share their EFetch calls instead of queueing one each behind the rate limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from fakes.server import FakeServices

from mia.tools.pubmed import PubMed

QUERIES = ["gene therapy", "exon skipping", "corticosteroids", "cardiomyopathy", "dystrophin", "vamorolone"]


def test_six_concurrent_searches_need_far_fewer_than_six_efetch_calls_and_get_the_same_records() -> None:
    with FakeServices(latency={"pubmed": 0.2}) as fake, httpx.Client() as http:
        alone = {q: [s.identifier for s in PubMed(http=http, base_url=f"{fake.url}/eutils", api_key="k")
                     .search(f"DMD {q}", max_results=5).sources] for q in QUERIES}
        fake.reset_log()
        client = PubMed(http=http, base_url=f"{fake.url}/eutils", api_key="k")
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = dict(zip(QUERIES, pool.map(lambda q: client.search(f"DMD {q}", max_results=5), QUERIES),
                               strict=True))
        efetches = fake.count("pubmed", path_contains="efetch")
    assert {q: [s.identifier for s in r.sources] for q, r in results.items()} == alone
    assert fake.count("pubmed", path_contains="esearch") == 6 and efetches <= 2
    assert sum(r.usage.requests for r in results.values()) == 6 + efetches  # each call counted once


def test_a_search_alone_makes_exactly_one_efetch_call() -> None:
    with FakeServices() as fake, httpx.Client() as http:
        client = PubMed(http=http, base_url=f"{fake.url}/eutils", api_key="k")
        assert client.search("DMD gene therapy", max_results=3).sources
        assert fake.count("pubmed", path_contains="efetch") == 1
        fake.reset_log()
        client.search("DMD gene therapy", max_results=3)
        assert fake.count("pubmed", path_contains="efetch") == 1
