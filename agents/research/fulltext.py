"""Full text where it is open: for sources with a PMCID, read the passages of the article most relevant to the
sub-question instead of the abstract alone, and say which section a quote came from.

The JATS XML is fetched once per article (durable step `fulltext/<PMCID>`) into the agent's folder
(`fulltext/<PMCID>.xml`), so follow-up runs read it from there; its sections are split into passages
(`mia.tools.passages`) and ranked with BM25 against the sub-question.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mia.agents.research.evidence import check_claims, source_text
from mia.errors import ServiceError
from mia.files import write_atomic
from mia.models import Source
from mia.tools.fulltext import PMCID_RE, EuropePMCFullText, sections
from mia.tools.passages import Passage, PassageIndex, split_passages

if TYPE_CHECKING:
    from mia.agents.research.engine import RunContext
    from mia.agents.research.evidence import QuoteCheck

READ_PER_SUB_QUESTION = 3  # articles whose full text one sub-question reads
PASSAGES_PER_ARTICLE = 3


def pmcid_of(source: Source) -> str | None:
    """The source's PMCID (its identifier or one of its aliases), upper-case, or None."""
    for value in (source.identifier, *source.aliases):
        if value and PMCID_RE.match(value.strip()):
            return value.strip().upper()
    return None


class FullTextReader:
    """Fetches (once, cached in `cache_dir`) and ranks the full-text passages of a sub-question's sources."""

    def __init__(self, client: EuropePMCFullText, cache_dir: Path) -> None:
        self.client, self.cache_dir = client, cache_dir
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def read(self, ctx: RunContext, batch: Sequence[Source], query: str) -> dict[int, list[Passage]]:
        """{source number: the best passages for `query`} for up to READ_PER_SUB_QUESTION open-access sources."""
        wanted = [(s.number, pmcid) for s in batch if s.number is not None and (pmcid := pmcid_of(s))]
        wanted = wanted[:READ_PER_SUB_QUESTION]
        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="fulltext") as pool:  # side by side
            available = list(pool.map(lambda item: self._ensure(ctx, item[1]), wanted))
        shown: dict[int, list[Passage]] = {}
        for (number, pmcid), ok in zip(wanted, available, strict=True):
            if ok and (passages := self.passages(pmcid, query)):
                shown[number] = passages
        return shown

    def _ensure(self, ctx: RunContext, pmcid: str) -> bool:
        with self._guard:
            lock = self._locks.setdefault(pmcid, threading.Lock())
        with lock:  # two sub-questions citing one article download it once
            try:
                out = ctx.step(f"fulltext/{pmcid}", lambda: self._download(pmcid))
            except ServiceError:
                return False
        return bool(out["available"]) and self._path(pmcid).exists()

    def _download(self, pmcid: str) -> dict[str, Any]:
        path = self._path(pmcid)
        if path.exists():
            return {"available": True, "cached": True}
        xml = self.client.fetch_xml(pmcid)
        if xml is None:
            return {"available": False, "cached": False}
        write_atomic(path, xml)
        return {"available": True, "cached": False}

    def _path(self, pmcid: str) -> Path:
        return self.cache_dir / f"{pmcid}.xml"

    def passages(self, pmcid: str, query: str) -> list[Passage]:
        """The article's body passages (not its abstract) best matching `query`, best first."""
        pieces = [p for name, text in sections(self._path(pmcid).read_bytes()) if name != "Abstract"
                  for p in split_passages(text, doc=pmcid, location=name)]
        return [p for p, _score in PassageIndex(pieces).rank(query, PASSAGES_PER_ARTICLE)]


def check_with_full_text(claims: list[dict[str, Any]], sources: Sequence[Source],
                         shown: Mapping[int, list[Passage]]) -> QuoteCheck:
    """Trust's quote check against each source's title, snippet and the full-text passages it was shown with;
    a claim quoted from full text gets `section` (e.g. "Results > Adverse events")."""
    base = {s.number: source_text(s.title, s.snippet) for s in sources if s.number is not None}
    spans: dict[int, list[tuple[int, int, str]]] = {}
    texts = dict(base)
    for number, passages in shown.items():
        if number not in texts:
            continue
        for passage in passages:
            start = len(texts[number]) + 1
            texts[number] += "\n" + passage.text
            spans.setdefault(number, []).append((start, start + len(passage.text), passage.location))
    checked = check_claims(claims, texts)
    for claim in checked.kept:
        at = claim.get("quote_at")
        for start, end, location in spans.get(int(claim.get("source") or 0), []):
            if at and start <= at[0] < end:
                claim["section"] = location
    return checked
