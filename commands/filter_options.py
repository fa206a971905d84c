"""The filter options shared by `mia research` and `mia triggers add` (stored with the agent)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mia.filters import SearchFilters

PANEL = "Filters (kept for follow-ups)"

Since = Annotated[int | None, typer.Option(
    "--since", help="Only sources published in or after this year (trials: started).", rich_help_panel=PANEL)]
Until = Annotated[int | None, typer.Option(
    "--until", help="Only sources published in or before this year.", rich_help_panel=PANEL)]
ArticleTypes = Annotated[str | None, typer.Option(
    "--article-types", help="PubMed / Europe PMC publication types, comma-separated: rct, meta-analysis, "
    "systematic-review, review, trial.", rich_help_panel=PANEL)]
TrialStatus = Annotated[str | None, typer.Option(
    "--trial-status", help="ClinicalTrials.gov status, comma-separated: recruiting, not-yet-recruiting, active, "
    "enrolling-by-invitation, completed, suspended, terminated, withdrawn, unknown.", rich_help_panel=PANEL)]
TrialPhase = Annotated[str | None, typer.Option(
    "--trial-phase", help="ClinicalTrials.gov phases, comma-separated: early1, 1, 2, 3, 4, na.",
    rich_help_panel=PANEL)]
Domains = Annotated[str | None, typer.Option(
    "--domains", help="Web search only on these domains, e.g. nih.gov,fda.gov (at most 20).", rich_help_panel=PANEL)]
ExcludeDomains = Annotated[str | None, typer.Option(
    "--exclude-domains", help="Web search never on these domains.", rich_help_panel=PANEL)]


def filters_from(since: int | None, until: int | None, article_types: str | None, trial_status: str | None,
                 trial_phase: str | None, domains: str | None, exclude_domains: str | None) -> SearchFilters:
    """The parsed filters; a UsageError (exit 2) says which value was wrong."""
    from mia.filters import parse_filters

    return parse_filters(since=since, until=until, article_types=article_types, trial_status=trial_status,
                         trial_phase=trial_phase, domains=domains, exclude_domains=exclude_domains)
