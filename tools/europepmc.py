"""Europe PMC REST search (`resultType=core`): PubMed, PMC, preprints and more, with abstracts."""

from __future__ import annotations

from mia.models import Source
from mia.tools.search import CamelModel, SearchResult, ServiceClient, clamp, strip_tags, trim

MAX_RESULTS = 1000  # pageSize limit


class _Journal(CamelModel):
    title: str | None = None


class _JournalInfo(CamelModel):
    journal: _Journal | None = None


class _PubTypes(CamelModel):
    """`pubTypeList.pubType` of a core record: "Journal Article", "Review", "Preprint", "Retracted Publication" ...
    (Europe PMC REST reference, resultType=core)."""

    pub_type: list[str] = []


class _Record(CamelModel):
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
    pub_type_list: _PubTypes | None = None


class _ResultList(CamelModel):
    result: list[_Record]


class _SearchResponse(CamelModel):
    hit_count: int | None = None
    result_list: _ResultList | None = None


class EuropePMC(ServiceClient):
    """Europe PMC's search endpoint; no key needed."""

    name = "europepmc"
    service = "Europe PMC"
    setting = "europepmc.base_url"

    rate = (10.0, 10)

    def search(self, query: str, *, max_results: int = 8) -> SearchResult:
        """Search Europe PMC for `query`, by relevance, with MeSH synonyms on as the website searches.

        REST `synonym` is off by default (europepmc.org/RestfulWebService); `synonym=true` matches the site.
        """
        calls = self.calls()
        body = calls.get_json("search", {"query": self._query(query), "format": "json", "resultType": "core",
                                         "synonym": "true",
                                         "pageSize": clamp(max_results, MAX_RESULTS)})
        payload = calls.validate(_SearchResponse, body)
        if payload.result_list is None:
            if payload.hit_count == 0:
                return SearchResult(sources=[], usage=calls.usage(), total=0)
            raise calls.unexpected("no 'resultList' in the body")
        sources = [source for record in payload.result_list.result if (source := to_source(record, query))]
        return SearchResult(sources=self.kept(sources), usage=calls.usage(), total=payload.hit_count)

    def _query(self, query: str) -> str:
        """The query with the filters in Europe PMC's search syntax (europepmc.org/searchsyntax):
        PUB_TYPE:"Randomized Controlled Trial" (PubMed's publication types) and PUB_YEAR:[2020 TO 2024]."""
        clauses = []
        types = self.filters.publication_types()
        if types:
            clauses.append("(" + " OR ".join(f'PUB_TYPE:"{t}"' for t in types) + ")")
        if self.filters.since or self.filters.until:
            clauses.append(f"PUB_YEAR:[{self.filters.since or 1800} TO {self.filters.until or 3000}]")
        return " AND ".join([f"({query})", *clauses]) if clauses else query


def to_source(record: _Record, query: str) -> Source | None:
    """A Source for one record, or None when it has no id to link to."""
    if not record.id or not record.source:
        return None
    journal = record.journal_title or (record.journal_info.journal.title if record.journal_info and
                                      record.journal_info.journal else None)
    abstract = strip_tags(record.abstract_text)
    types = [t for t in (record.pub_type_list.pub_type if record.pub_type_list else []) if t]
    if not abstract:
        parts = (strip_tags(journal), strip_tags(record.author_string))
        abstract = " — ".join(part for part in parts if part)
    return Source(
        kind="europepmc",
        url=f"https://europepmc.org/article/{record.source}/{record.id}",
        title=strip_tags(record.title) or f"{record.source} {record.id}",
        identifier=record.pmid or record.pmcid or record.doi or record.id,
        aliases=[a for a in (record.pmcid, record.doi) if a],  # so a doi.org or PMC link matches it too
        date=record.first_publication_date or record.pub_year,
        snippet=trim(abstract),
        query=query,
        authors=_authors(record.author_string),
        journal=strip_tags(journal) or None,
        doi=record.doi,
        publication_types=types,
        retracted="Retracted Publication" in types,
    )


def _authors(author_string: str | None) -> list[str]:
    """'Mendell JR, Muntoni F.' (Europe PMC's authorString) -> ['Mendell JR', 'Muntoni F']."""
    names = strip_tags(author_string).rstrip(".").split(",")
    return [name.strip() for name in names if name.strip()]
