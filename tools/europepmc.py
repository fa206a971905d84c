"""Europe PMC REST search (`resultType=core`): PubMed, PMC, preprints and more, with abstracts."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from mia.models import Source
from mia.tools.http import RateLimiter, RetryPolicy
from mia.tools.search import SearchResult, ServiceCalls, clamp, strip_tags, trim

MAX_RESULTS = 1000  # pageSize limit


class _Camel(BaseModel):
    """The service's camelCase field names, as snake_case attributes."""

    model_config = ConfigDict(alias_generator=to_camel)


class _Journal(_Camel):
    title: str | None = None


class _JournalInfo(_Camel):
    journal: _Journal | None = None


class _Record(_Camel):
    id: str | None = None
    source: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    doi: str | None = None
    title: str | None = None
    author_string: str | None = None
    journal_title: str | None = None
    journal_info: _JournalInfo | None = None
    pub_year: str | None = None
    first_publication_date: str | None = None
    abstract_text: str | None = None
    is_open_access: str | None = None


class _ResultList(_Camel):
    result: list[_Record]


class _SearchResponse(_Camel):
    hit_count: int | None = None
    result_list: _ResultList | None = None


class EuropePMC:
    """Europe PMC's search endpoint; no key needed."""

    name = "europepmc"
    service = "Europe PMC"
    setting = "europepmc.base_url"

    def __init__(
        self,
        *,
        http: httpx.Client,
        base_url: str,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.limiter = limiter or RateLimiter(10, burst=10)
        self.retry = retry

    def search(self, query: str, *, max_results: int = 8) -> SearchResult:
        """Search Europe PMC for `query`, by relevance."""
        calls = ServiceCalls(self.http, self.service, self.setting, self.base_url, self.limiter, self.retry)
        body = calls.get_json("search", {"query": query, "format": "json", "resultType": "core",
                                         "pageSize": clamp(max_results, MAX_RESULTS)})
        payload = calls.validate(_SearchResponse, body)
        if payload.result_list is None:
            if payload.hit_count == 0:
                return SearchResult(sources=[], usage=calls.usage())
            raise calls.unexpected("no 'resultList' in the body")
        sources = [source for record in payload.result_list.result if (source := to_source(record, query))]
        return SearchResult(sources=sources, usage=calls.usage())


def to_source(record: _Record, query: str) -> Source | None:
    """A Source for one record, or None when it has no id to link to."""
    if not record.id or not record.source:
        return None
    journal = record.journal_title or (record.journal_info.journal.title if record.journal_info and
                                      record.journal_info.journal else None)
    abstract = strip_tags(record.abstract_text)
    if not abstract:
        parts = (strip_tags(journal), strip_tags(record.author_string))
        abstract = " — ".join(part for part in parts if part)
    return Source(
        kind="europepmc",
        url=f"https://europepmc.org/article/{record.source}/{record.id}",
        title=strip_tags(record.title) or f"{record.source} {record.id}",
        identifier=record.pmid or record.pmcid or record.doi or record.id,
        date=record.first_publication_date or record.pub_year,
        snippet=trim(abstract),
        query=query,
    )
