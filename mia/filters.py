"""What a person lets into a research run: years, article types, trial status and phase, web domains.

Stored with the agent (JSON in the registry), so follow-up runs search with the same filters. Each search
client sends what its service's API can filter on and checks the rest in code with `keeps()`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from mia.errors import UsageError
from mia.models import Source

# Our names -> PubMed publication types ([pt]); Europe PMC's PUB_TYPE uses the same vocabulary.
ARTICLE_TYPES: dict[str, tuple[str, ...]] = {
    "rct": ("Randomized Controlled Trial",),
    "meta-analysis": ("Meta-Analysis",),
    "systematic-review": ("Systematic Review",),
    "review": ("Review",),
    "trial": ("Clinical Trial",),
}
# Our names -> ClinicalTrials.gov v2 overallStatus values.
TRIAL_STATUSES = {
    "recruiting": "RECRUITING", "not-yet-recruiting": "NOT_YET_RECRUITING", "active": "ACTIVE_NOT_RECRUITING",
    "enrolling-by-invitation": "ENROLLING_BY_INVITATION", "completed": "COMPLETED", "suspended": "SUSPENDED",
    "terminated": "TERMINATED", "withdrawn": "WITHDRAWN", "unknown": "UNKNOWN",
}
# Our names -> ClinicalTrials.gov v2 phases.
TRIAL_PHASES = {"early1": "EARLY_PHASE1", "0": "EARLY_PHASE1", "1": "PHASE1", "2": "PHASE2", "3": "PHASE3",
                "4": "PHASE4", "na": "NA"}
MAX_DOMAINS = 20  # Perplexity's search_domain_filter takes at most 20 entries
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SearchFilters(BaseModel):
    """Filters of a research agent; empty lists and None mean 'no filter'.

    `since`/`until` are publication years (trials: start year), inclusive. `article_types` are keys of
    ARTICLE_TYPES; `trial_status` are ClinicalTrials.gov overallStatus values; `trial_phase` its phase
    values; `domains`/`exclude_domains` are host names for the web source.
    """

    since: int | None = None
    until: int | None = None
    article_types: list[str] = Field(default_factory=list)
    trial_status: list[str] = Field(default_factory=list)
    trial_phase: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    exclude_domains: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return self == SearchFilters()

    def publication_types(self) -> list[str]:
        """The PubMed / Europe PMC publication types the article types stand for."""
        return [pt for name in self.article_types for pt in ARTICLE_TYPES[name]]

    def describe(self) -> str:
        """One line for the report and the CLI, e.g. 'Filters: 2020-2024; article types: rct, review'."""
        parts = []
        if self.since or self.until:
            parts.append(f"{self.since or '…'}–{self.until or 'now'}")
        for label, values in (("article types", self.article_types), ("trial status", self.trial_status),
                              ("trial phase", self.trial_phase), ("web domains", self.domains),
                              ("excluded domains", self.exclude_domains)):
            if values:
                parts.append(f"{label}: {', '.join(v.lower() for v in values)}")
        return "Filters: " + "; ".join(parts) if parts else "No filters."

    def keeps(self, source: Source) -> bool:
        """Whether `source` passes the filters that code can check (years, trial facts, web domains).

        A source without a date passes the year filter: nothing says it is outside the range.
        """
        year = _year(source.date)
        if year is not None and ((self.since and year < self.since) or (self.until and year > self.until)):
            return False
        if source.kind == "trial":
            if self.trial_status and (source.status or "").upper() not in self.trial_status:
                return False
            if self.trial_phase and not set(source.phases) & set(self.trial_phase):
                return False
        if source.kind == "web":
            host = (urlsplit(source.url).hostname or "").lower()
            if self.domains and not any(_within(host, d) for d in self.domains):
                return False
            if any(_within(host, d) for d in self.exclude_domains):
                return False
        return True


def _year(date: str | None) -> int | None:
    match = re.match(r"^(\d{4})", date or "")
    return int(match.group(1)) if match else None


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _split(value: str | None) -> list[str]:
    return [part.strip().lower() for part in (value or "").split(",") if part.strip()]


def _year_option(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    this_year = datetime.now(UTC).year
    if not 1800 <= value <= this_year + 1:
        raise UsageError(f"{name} {value} is not a publication year.", f"Give a year such as {this_year - 5}.")
    return value


def _choices(name: str, raw: str | None, table: dict[str, str] | dict[str, tuple[str, ...]]) -> list[str]:
    values = _split(raw)
    unknown = [v for v in values if v not in table]
    if unknown:
        raise UsageError(f"Unknown {name} '{unknown[0]}'.", f"Choose from: {', '.join(table)} (comma-separated).")
    return list(dict.fromkeys(values))


def _domains(name: str, raw: str | None) -> list[str]:
    domains = []
    for value in _split(raw):
        host = urlsplit(value if "//" in value else f"//{value}").hostname or ""
        host = host.removeprefix("www.")
        if not _DOMAIN.match(host):
            raise UsageError(f"{name}: '{value}' is not a domain name.", "Give host names, e.g. nih.gov,fda.gov")
        domains.append(host)
    if len(domains) > MAX_DOMAINS:
        raise UsageError(f"{name} lists {len(domains)} domains; the web search takes at most {MAX_DOMAINS}.",
                         "Keep the most important ones.")
    return list(dict.fromkeys(domains))


def parse_filters(*, since: int | None = None, until: int | None = None, article_types: str | None = None,
                  trial_status: str | None = None, trial_phase: str | None = None, domains: str | None = None,
                  exclude_domains: str | None = None) -> SearchFilters:
    """Filters from command-line values (comma-separated lists); a UsageError says what was wrong."""
    first, last = _year_option("--since", since), _year_option("--until", until)
    if first and last and first > last:
        raise UsageError(f"--since {first} is after --until {last}.", "Swap them, or drop one.")
    statuses = _choices("trial status", trial_status, TRIAL_STATUSES)
    phases = _choices("trial phase", trial_phase, TRIAL_PHASES)
    return SearchFilters(
        since=first, until=last, article_types=_choices("article type", article_types, ARTICLE_TYPES),
        trial_status=[TRIAL_STATUSES[s] for s in statuses],
        trial_phase=list(dict.fromkeys(TRIAL_PHASES[p] for p in phases)),
        domains=_domains("--domains", domains), exclude_domains=_domains("--exclude-domains", exclude_domains))


def merge_filters(stored: SearchFilters, given: SearchFilters) -> SearchFilters:
    """`stored` with every filter that `given` sets replaced (what `mia triggers add --since ...` does)."""
    explicit = {k: v for k, v in given.model_dump().items() if v not in (None, [])}
    return stored.model_copy(update=explicit)
