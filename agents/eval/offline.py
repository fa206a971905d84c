"""An offline stand-in for PubMed: the shipped PubMedQA abstracts, searched with the shared BM25 ranking.

`mia eval pubmedqa --offline` gives the research agent this one search client instead of the literature
services. Each of the 1,000 items is one document under its real PMID (title question, labelled abstract and
conclusion), so retrieval still has to find the right paper among 1,000, and sources look exactly like the ones
`mia.tools.pubmed` makes (kind `pubmed`, the PubMed URL, the PMID as identifier).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from mia.agents.eval.dataset import Item
from mia.models import Source, Usage
from mia.tools.passages import Passage, PassageIndex
from mia.tools.search import SearchResult, trim

SERVICE = "PubMedQA offline index"


def document_text(item: Item) -> str:
    """What a PubMed abstract of the item would read like: the labelled paragraphs, then the conclusion."""
    return f"{item.abstract} CONCLUSIONS: {item.conclusion}"


class OfflineLiterature:
    """A SearchClient over the shipped abstracts; free, local, deterministic.

    `search(query, max_results)` returns at most `max_results` Sources ranked by BM25 over title and abstract
    (fewer when fewer documents share a word with the query). Never raises for a query.
    """

    name = "pubmed"
    service = SERVICE
    price_per_request = 0.0

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = {item.pmid: item for item in items}
        self.index = PassageIndex([Passage(doc=item.pmid, location=item.question, text=document_text(item))
                                   for item in items])
        self._lock = threading.Lock()  # a run searches its sub-questions from several threads

    def search(self, query: str, *, max_results: int = 8) -> SearchResult:
        """The best `max_results` documents for `query`, best first, as PubMed-shaped Sources."""
        started = time.perf_counter()
        with self._lock:
            ranked = self.index.rank(query, k=max(1, max_results))
        sources = [self._source(self.items[passage.doc], query) for passage, _score in ranked]
        usage = Usage(service=SERVICE, latency_ms=round((time.perf_counter() - started) * 1000))
        return SearchResult(sources=sources, usage=usage)

    @staticmethod
    def _source(item: Item, query: str) -> Source:
        return Source(kind="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{item.pmid}/", title=item.question,
                      identifier=item.pmid, date=item.year, snippet=trim(document_text(item)), query=query)
