"""The search filters each faked service understands, applied as the real service documents them.

- PubMed ESearch: `datetype=pdat` with `mindate`/`maxdate` (YYYY, YYYY/MM or YYYY/MM/DD), which must be used
  together (E-utilities help, "ESearch" parameters), and publication types in the term with the `[pt]` tag
  ("Randomized Controlled Trial"[pt]; PubMed help, "Publication Type [PT]").
- Europe PMC: `PUB_TYPE:"..."` and `PUB_YEAR:[a TO b]` in the query (Europe PMC search syntax reference,
  europepmc.org/searchsyntax).
- ClinicalTrials.gov v2: `filter.overallStatus` (comma- or pipe-separated) and an Essie `filter.advanced`
  expression; the fake understands `AREA[Phase]X`, `AREA[Phase](X OR Y)` and `AREA[StartDate]RANGE[lo,hi]`
  (with MIN/MAX) joined by AND (clinicaltrials.gov/data-api/api, search areas and Essie syntax).
- Perplexity Search API: `search_domain_filter` (at most 20; a leading '-' excludes; allow and deny lists
  cannot be mixed) and `search_after_date_filter` / `search_before_date_filter` as MM/DD/YYYY
  (perplexityai/perplexity-py: types/search_create_params.py, types/response_create_params.py).
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

_PT = re.compile(r'\s+AND\s+\(((?:"[^"]+"\[pt\](?:\s+OR\s+)?)+)\)\s*$', re.IGNORECASE)
_EPMC_TYPES = re.compile(r'\s+AND\s+\(((?:PUB_TYPE:"[^"]+"(?:\s+OR\s+)?)+)\)', re.IGNORECASE)
_EPMC_YEAR = re.compile(r"\s+AND\s+PUB_YEAR:\[(\d{4})\s+TO\s+(\d{4})\]", re.IGNORECASE)
_CT_PHASES = re.compile(r"^AREA\[Phase\]\s*(?:\(([\w\s]+)\)|(\w+))$")
_CT_START = re.compile(r"^AREA\[StartDate\]RANGE\[\s*([\w-]+)\s*,\s*([\w-]+)\s*\]$")
_MDY = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


def pubmed_term(term: str) -> tuple[str, set[str]]:
    """The term without its trailing `AND ("..."[pt] OR ...)` group, and the publication types asked for."""
    match = _PT.search(term)
    if not match:
        return term, set()
    types = {t.lower() for t in re.findall(r'"([^"]+)"\[pt\]', match.group(1), re.IGNORECASE)}
    bare = term[: match.start()].strip()
    if bare.startswith("(") and bare.endswith(")"):
        bare = bare[1:-1]
    return bare, types


def pubmed_years(mindate: str, maxdate: str, datetype: str) -> tuple[int, int] | str:
    """(first, last) year of ESearch's date range, (0, 9999) without one, or an error message."""
    if not mindate and not maxdate:
        return 0, 9999
    if not (mindate and maxdate):
        return "mindate and maxdate must be used together"
    if datetype not in ("pdat", "edat", "mdat"):
        return f"Invalid datetype: {datetype!r}"
    try:
        return int(mindate[:4]), int(maxdate[:4])
    except ValueError:
        return "mindate and maxdate must be dates (YYYY, YYYY/MM or YYYY/MM/DD)"


def europepmc_query(query: str) -> tuple[str, set[str], tuple[int, int]]:
    """The query without PUB_TYPE / PUB_YEAR clauses, the publication types, and the year range."""
    types: set[str] = set()
    years = (0, 9999)
    match = _EPMC_TYPES.search(query)
    if match:
        types = {t.lower() for t in re.findall(r'PUB_TYPE:"([^"]+)"', match.group(1))}
        query = query[: match.start()] + query[match.end():]
    match = _EPMC_YEAR.search(query)
    if match:
        years = (int(match.group(1)), int(match.group(2)))
        query = query[: match.start()] + query[match.end():]
    query = query.strip()
    if query.startswith("(") and query.endswith(")"):
        query = query[1:-1]
    return query, types, years


def ctgov_advanced(advanced: str) -> tuple[set[str], tuple[str, str]] | None:
    """Phases and the start-date range of a filter.advanced expression; None when the fake cannot read it."""
    phases: set[str] = set()
    start = ("MIN", "MAX")
    for clause in (c.strip() for c in re.split(r"\s+AND\s+", advanced) if c.strip()):
        phase, dates = _CT_PHASES.match(clause), _CT_START.match(clause)
        if phase:
            phases |= {p.upper() for p in re.split(r"\s+OR\s+", (phase.group(1) or phase.group(2)).strip())}
        elif dates:
            start = (dates.group(1), dates.group(2))
        else:
            return None
    return phases, start


def in_range(value: str, low: str, high: str) -> bool:
    """Whether the date `value` (YYYY-MM or YYYY-MM-DD) lies in [low, high]; MIN and MAX are open ends."""
    value = value[:10]
    return (low == "MIN" or value >= low[: len(value)]) and (high == "MAX" or value <= high[: len(value)])


def perplexity_filters(body: dict[str, object]) -> tuple[list[str], list[str], date | None, date | None] | str:
    """(allowed domains, excluded domains, after, before) from a Search API body, or the API's 400 message."""
    domains = body.get("search_domain_filter") or []
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        return "invalid request body: search_domain_filter must be a list of strings"
    if len(domains) > 20:
        return "invalid request body: search_domain_filter accepts at most 20 domains"
    deny = [d[1:] for d in domains if d.startswith("-")]
    allow = [d for d in domains if not d.startswith("-")]
    if deny and allow:
        return "invalid request body: search_domain_filter cannot mix allowed and excluded domains"
    bounds: list[date | None] = []
    for name in ("search_after_date_filter", "search_before_date_filter"):
        raw = body.get(name)
        if raw is None:
            bounds.append(None)
            continue
        match = _MDY.match(raw) if isinstance(raw, str) else None
        if not match:
            return f"invalid request body: {name} must be MM/DD/YYYY"
        bounds.append(date(int(match.group(3)), int(match.group(1)), int(match.group(2))))
    return allow, deny, bounds[0], bounds[1]


def host_within(url: str, domains: list[str]) -> bool:
    """Whether the URL's host is one of `domains` or below one."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in domains)
