"""PubMed through NCBI E-utilities: ESearch for PMIDs by relevance, then one EFetch for the abstracts."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

from mia.errors import ServiceError
from mia.models import Source
from mia.tools.efetch_batch import EFetchBatcher
from mia.tools.http import RateLimiter, RetryPolicy
from mia.tools.search import SearchResult, ServiceCalls, ServiceClient, clamp, clean, trim

MAX_RESULTS = 100  # all ids go into one EFetch URL, so keep it short
TOOL = "mia"
MONTHS = {name: f"{n:02d}" for n, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_MEDLINE_DATE = re.compile(r"(\d{4})(?:\s+([A-Za-z]{3}))?")


class _ESearchResult(BaseModel):
    idlist: list[str] | None = None
    count: int | None = None  # every PMID the query matches, not only those returned
    error: str | None = Field(default=None, alias="ERROR")


class _ESearch(BaseModel):
    esearchresult: _ESearchResult


@dataclass
class Article:
    """The parts of one PubMed record that mia uses."""

    pmid: str
    title: str
    abstract: str = ""
    journal: str = ""
    date: str | None = None
    authors: list[str] = field(default_factory=list)
    doi: str | None = None
    publication_types: list[str] = field(default_factory=list)
    retracted: bool = False
    pmcid: str | None = None  # PubmedData/ArticleIdList/ArticleId[@IdType="pmc"]: open in PMC


NCBI_HEADROOM = 0.95  # NCBI counts arrivals, not sends: aim a little under so network jitter never tips it over


def ncbi_rate(api_key: str | None) -> float:
    """Requests/s to send: NCBI allows 3 without an API key and 10 with one (usage guidelines), less headroom."""
    return (10.0 if api_key else 3.0) * NCBI_HEADROOM


def ncbi_limiter(home: Path, api_key: str | None) -> RateLimiter:
    """The NCBI limit shared by every mia process using MIA_HOME `home` (see mia.tools.ratelimit)."""
    from mia.tools.ratelimit import machine_limiter

    return machine_limiter(home, "ncbi", ncbi_rate(api_key))


class PubMed(ServiceClient):
    """NCBI E-utilities for PubMed; an API key raises the rate limit from 3 to 10 requests/s."""

    name = "pubmed"
    service = "PubMed"
    setting = "pubmed.base_url"

    def __init__(
        self,
        *,
        http: httpx.Client,
        base_url: str,
        api_key: str | None = None,
        email: str | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        # Burst 1: NCBI counts requests per second from the first one, so a full bucket at start (burst = rate)
        # let about twice the limit through in the first second. Pass `ncbi_limiter(home, api_key)` to share
        # the limit with every other mia process on the machine.
        super().__init__(http=http, base_url=base_url, limiter=limiter or RateLimiter(ncbi_rate(api_key), burst=1),
                         retry=retry)
        self._api_key = api_key
        self.email = email
        self._efetch: EFetchBatcher[Article] = EFetchBatcher(self._efetch_call)

    def _efetch_call(self, ids: list[str], calls: ServiceCalls) -> dict[str, Article]:
        """One EFetch for `ids` (at most 200): the records by PMID."""
        response = calls.send("GET", "efetch.fcgi", params=self._params(
            db="pubmed", id=",".join(ids), rettype="abstract", retmode="xml"))
        return {a.pmid: a for a in parse_articles(response.content, calls)}

    def __repr__(self) -> str:
        return f"PubMed(base_url={self.base_url!r}, api_key={'set' if self._api_key else 'unset'})"

    def _params(self, **params: str | int) -> dict[str, str | int]:
        """`params` plus the tool, e-mail and key NCBI asks every request to carry."""
        params["tool"] = TOOL
        if self.email:
            params["email"] = self.email
        if self._api_key:
            params["api_key"] = self._api_key
        return params

    def _esearch(self, calls: ServiceCalls, query: str, max_results: int) -> _ESearchResult:
        """ESearch, retrying an HTTP 200 whose JSON carries a transient ERROR as the retry policy retries a 5xx."""
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            found = calls.validate(_ESearch, calls.get_json("esearch.fcgi", self._params(
                db="pubmed", term=self._term(query), retmode="json", retmax=clamp(max_results, MAX_RESULTS),
                sort="relevance", **self._dates(),
            ))).esearchresult
            if not found.error or found.idlist:
                return found
            if not _transient(found.error):
                raise ServiceError(f"PubMed could not run the search {query!r}: {found.error}",
                                   "Rephrase the query (PubMed search syntax).", service=self.service)
            if attempt < policy.attempts:
                time.sleep(policy.delay(attempt, None))
        raise ServiceError(f"PubMed's search backend kept failing: {found.error}",
                           "NCBI reports a temporary problem; try again in a few minutes.", service=self.service,
                           retryable=True)

    def search(self, query: str, *, max_results: int = 8) -> SearchResult:
        """Search PubMed for `query`, best matches first."""
        calls = self.calls()
        self._efetch.expect()  # concurrent searches' EFetch waits briefly for this one's ids
        try:
            found = self._esearch(calls, query, max_results)
        except BaseException:
            self._efetch.cancel()
            raise
        if not found.idlist:
            self._efetch.cancel()
            if found.idlist is None:
                raise calls.unexpected("no 'esearchresult.idlist' in the body")
            return SearchResult(sources=[], usage=calls.usage(), total=found.count)
        articles = self._efetch.fetch(found.idlist, calls)  # shared with concurrent searches (one call for all)
        ordered = [articles[pmid] for pmid in found.idlist if pmid in articles]  # keep relevance order
        return SearchResult(sources=self.kept([to_source(a, query) for a in ordered]), usage=calls.usage(),
                            total=found.count)

    def _term(self, query: str) -> str:
        """The query, limited to the filter's publication types with PubMed's [pt] field tag."""
        types = self.filters.publication_types()
        if not types:
            return query
        return f"({query}) AND (" + " OR ".join(f'"{t}"[pt]' for t in types) + ")"

    def _dates(self) -> dict[str, str | int]:
        """ESearch's mindate/maxdate on the publication date (datetype=pdat); the two go together
        (E-utilities help, ESearch: "mindate, maxdate ... must be used together")."""
        since, until = self.filters.since, self.filters.until
        if not (since or until):
            return {}
        return {"datetype": "pdat", "mindate": str(since or 1800), "maxdate": str(until or 3000)}


def _transient(error: str) -> bool:
    """An ESearch ERROR worth retrying: anything but a request NCBI calls invalid (a bad db or parameter).

    NCBI answers a backend outage with HTTP 200 and {"esearchresult": {"ERROR": "Search Backend failed: ..."}}
    (even "Database is not supported: pubmed" during an outage), so these are treated like a 5xx.
    """
    return not error.lower().startswith(("invalid", "empty", "wrong"))


def parse_articles(xml: bytes, calls: ServiceCalls) -> list[Article]:
    """The articles of an EFetch PubmedArticleSet; anything else is a ServiceError."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise calls.unexpected(f"EFetch XML that cannot be parsed ({exc})") from None
    if root.tag != "PubmedArticleSet":
        error = clean(root.findtext(".//ERROR"))
        if error:
            raise ServiceError(f"PubMed EFetch failed: {error}", None, service=calls.service)
        raise calls.unexpected(f"<{root.tag}> instead of <PubmedArticleSet> from EFetch")
    articles = []
    for element in root:
        article = _book_article(element) if element.tag == "PubmedBookArticle" else _journal_article(element)
        if article is not None:
            articles.append(article)
    return articles


def _journal_article(element: ET.Element) -> Article | None:
    citation = element.find("MedlineCitation")
    article = citation.find("Article") if citation is not None else None
    if citation is None or article is None:
        return None
    pmid = clean(citation.findtext("PMID"))
    if not pmid:
        return None
    title = _text(article.find("ArticleTitle")) or _text(article.find("VernacularTitle"))
    journal = clean(article.findtext("Journal/Title")) or clean(article.findtext("Journal/ISOAbbreviation"))
    date = _date(article.find("Journal/JournalIssue/PubDate")) or _date(article.find("ArticleDate"))
    return Article(pmid=pmid, title=title or f"PMID {pmid}", abstract=_abstract(article.find("Abstract")),
                   journal=journal, date=date, authors=_authors(article.find("AuthorList")), doi=_doi(element),
                   pmcid=_article_id(element, "pmc"), **_design(citation, article))


def _book_article(element: ET.Element) -> Article | None:
    document = element.find("BookDocument")
    if document is None or not clean(document.findtext("PMID")):
        return None
    pmid = clean(document.findtext("PMID"))
    book = _text(document.find("Book/BookTitle"))
    title = _text(document.find("ArticleTitle")) or book
    return Article(pmid=pmid, title=title or f"PMID {pmid}", abstract=_abstract(document.find("Abstract")),
                   journal=book, date=_date(document.find("Book/PubDate")),
                   authors=_authors(document.find("AuthorList")))


def _article_id(element: ET.Element, kind: str) -> str | None:
    """An id of PubmedData's ArticleIdList by IdType (pubmed, doi, pmc, ...), or None."""
    for found in element.iterfind(f"PubmedData/ArticleIdList/ArticleId[@IdType='{kind}']"):
        if clean(found.text):
            return clean(found.text)
    return None


def _doi(element: ET.Element) -> str | None:
    """The article's DOI: its ELocationID, else PubmedData's ArticleIdList (EFetch PubMed XML, both documented)."""
    for found in element.iterfind(".//ELocationID[@EIdType='doi']"):
        if clean(found.text):
            return clean(found.text)
    for found in element.iterfind("PubmedData/ArticleIdList/ArticleId[@IdType='doi']"):
        if clean(found.text):
            return clean(found.text)
    return None


RETRACTED = "Retracted Publication"


def _design(citation: ET.Element, article: ET.Element) -> dict[str, Any]:
    """Publication types and whether the article was retracted.

    NLM's MEDLINE/PubMed XML element descriptions: `Article/PublicationTypeList/PublicationType` (text such as
    "Randomized Controlled Trial", "Meta-Analysis", "Clinical Trial, Phase III", "Retracted Publication", with
    a MeSH UI attribute), and `MedlineCitation/CommentsCorrectionsList/CommentsCorrections` whose RefType
    "RetractionIn" points at the retraction notice.
    """
    types = [clean(t.text) for t in article.findall("PublicationTypeList/PublicationType") if clean(t.text)]
    notice = citation.find("CommentsCorrectionsList/CommentsCorrections[@RefType='RetractionIn']")
    return {"publication_types": types, "retracted": RETRACTED in types or notice is not None}


def _text(element: ET.Element | None) -> str:
    """All the text inside `element`, inline markup such as <i> and <sup> included."""
    return clean("".join(element.itertext())) if element is not None else ""


def _abstract(abstract: ET.Element | None) -> str:
    """The abstract's parts joined, each led by its label (BACKGROUND: ...) when it has one."""
    if abstract is None:
        return ""
    parts = []
    for section in abstract.findall("AbstractText"):
        text = _text(section)
        label = clean(section.get("Label"))
        if text:
            parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _date(element: ET.Element | None) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD from a PubDate/ArticleDate, or the start of a MedlineDate."""
    if element is None:
        return None
    year = clean(element.findtext("Year"))
    if not year:
        match = _MEDLINE_DATE.match(clean(element.findtext("MedlineDate")))
        if not match:
            return None
        month = MONTHS.get((match.group(2) or "").lower())
        return f"{match.group(1)}-{month}" if month else match.group(1)
    month_raw = clean(element.findtext("Month")).lower()
    month = MONTHS.get(month_raw[:3]) or (f"{int(month_raw):02d}" if month_raw.isdigit() else None)
    if not month or not 1 <= int(month) <= 12:
        return year
    day = clean(element.findtext("Day"))
    return f"{year}-{month}-{int(day):02d}" if day.isdigit() and 1 <= int(day) <= 31 else f"{year}-{month}"


def _authors(author_list: ET.Element | None) -> list[str]:
    """'Last Initials' for each author, or the group's name."""
    if author_list is None:
        return []
    names = []
    for author in author_list.findall("Author"):
        name = clean(f"{author.findtext('LastName') or ''} {author.findtext('Initials') or ''}")
        name = name or _text(author.find("CollectiveName"))
        if name:
            names.append(name)
    return names


def to_source(article: Article, query: str) -> Source:
    """A Source for `article`; without an abstract the snippet names the journal and authors."""
    snippet = article.abstract
    if not snippet:
        authors = ", ".join(article.authors[:3]) + (" et al." if len(article.authors) > 3 else "")
        both = article.journal and authors
        snippet = f"{article.journal} ({authors})" if both else (article.journal or authors)
    return Source(kind="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{article.pmid}/", title=article.title,
                  identifier=article.pmid, date=article.date, snippet=trim(snippet), query=query,
                  authors=article.authors, journal=article.journal or None, doi=article.doi,
                  publication_types=article.publication_types, retracted=article.retracted,
                  aliases=[article.pmcid] if article.pmcid else [])
