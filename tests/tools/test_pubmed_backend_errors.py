"""PubMed's HTTP 200 answers whose JSON carries an ERROR from a failing search backend are retried like a 5xx.

NCBI sends {"esearchresult": {"ERROR": "Search Backend failed: ..."}} with status 200 during outages
(AlexsLemonade/refinebio#1390, metapub/metapub#73; the JSON form as in ropensci/rentrez#208).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mia.errors import ServiceError

from .test_pubmed_client import EFETCH, ESEARCH, pubmed

BACKEND: dict[str, Any] = {"header": {"type": "esearch", "version": "0.3"},
                           "esearchresult": {"ERROR": "Search Backend failed: Unable to open connection to "
                                                      "#PMQuerySrv?dbaf=pubmed"}}


def test_a_backend_error_in_a_200_is_retried_until_the_search_answers(fake: Any, http: httpx.Client) -> None:
    fake.on("/entrez/eutils/esearch.fcgi", fake.reply(json_body=BACKEND), fake.reply(json_body=BACKEND),
            fake.reply(json_body=ESEARCH))
    fake.on("/entrez/eutils/efetch.fcgi", fake.reply(content=EFETCH, headers={"content-type": "text/xml"}))
    result = pubmed(http).search("duchenne gene therapy")
    assert [s.identifier for s in result.sources] == ["38912345", "37654321"]
    assert fake.paths().count("/entrez/eutils/esearch.fcgi") == 3


def test_a_backend_that_keeps_failing_is_a_retryable_error_that_says_so(fake: Any, http: httpx.Client) -> None:
    fake.on("/entrez/eutils/esearch.fcgi", *[fake.reply(json_body=BACKEND)] * 6)
    with pytest.raises(ServiceError, match="search backend kept failing") as caught:
        pubmed(http).search("duchenne")
    assert caught.value.retryable and fake.paths().count("/entrez/eutils/esearch.fcgi") == 6
