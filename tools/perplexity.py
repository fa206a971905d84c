"""Web search through the Perplexity Search API (`POST /search`): ranked pages with snippets."""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from mia.models import Source
from mia.tools.http import RateLimiter, RetryPolicy
from mia.tools.search import SearchResult, ServiceClient, clamp, clean, trim

MAX_RESULTS = 20  # the Search API accepts 1..20


class _Page(BaseModel):
    title: str | None = None
    url: str | None = None
    snippet: str | None = None
    date: str | None = None
    last_updated: str | None = None


class _SearchResponse(BaseModel):
    id: str | None = None
    results: list[_Page]


class PerplexitySearch(ServiceClient):
    """Perplexity's Search API; every request is billed at `price_per_request`."""

    name = "web"
    service = "Perplexity"
    setting = "perplexity.base_url"
    rate = (50.0, 50)  # 50 requests/s with a burst of 50, the same on every usage tier

    def __init__(
        self,
        *,
        http: httpx.Client,
        base_url: str,
        api_key: str,
        price_per_request: float = 0.005,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(http=http, base_url=base_url, limiter=limiter, retry=retry)
        self._api_key = api_key
        self.price_per_request = price_per_request

    def __repr__(self) -> str:
        return f"PerplexitySearch(base_url={self.base_url!r})"  # never the key

    def search(self, query: str, *, max_results: int = 8) -> SearchResult:
        """Search the web for `query`."""
        calls = self.calls()
        # Only documented fields: Perplexity's APIs reject unknown ones with a 400.
        body: dict[str, object] = {"query": query, "max_results": clamp(max_results, MAX_RESULTS),
                                   **self._filters()}
        response = calls.send("POST", "search", json=body,
                              headers={"Authorization": f"Bearer {self._api_key}"})
        payload = calls.validate(_SearchResponse, calls.decode(response))
        sources = self.kept([_to_source(page, query) for page in payload.results if page.url])
        return SearchResult(sources=sources[:max(1, max_results)],
                            usage=calls.usage(cost_usd=self.price_per_request * calls.requests))


    def _filters(self) -> dict[str, object]:
        """search_domain_filter and the publication-date filters of the Search API.

        Field names from Perplexity's own SDK (perplexity-py, types/search_create_params.py); dates are
        MM/DD/YYYY and a domain led by '-' is excluded (types/response_create_params.py). Allow and deny
        lists cannot be mixed, so with both the allow list is sent and the excluded domains are checked here.
        """
        f = self.filters
        body: dict[str, object] = {}
        if f.domains or f.exclude_domains:
            body["search_domain_filter"] = list(f.domains) or [f"-{d}" for d in f.exclude_domains]
        if f.since:
            body["search_after_date_filter"] = f"01/01/{f.since}"
        if f.until:
            body["search_before_date_filter"] = f"12/31/{f.until}"
        return body


def _to_source(page: _Page, query: str) -> Source:
    url = page.url or ""
    return Source(kind="web", url=url, title=clean(page.title) or url, date=page.date or page.last_updated,
                  snippet=trim(page.snippet or ""), query=query)
