"""A source that failed is not a change: a follow-up run carries forward what a failed service found before.

When a service's search fails in a follow-up run (an error, an error page, a timeout), its earlier sources
are not missing from the world, only from this answer. They are kept in the run's source list (so they are
neither "removed" now nor "new" when the service recovers), and the changes note names the services that
could not be checked.
"""

from __future__ import annotations

from typing import Any

from mia.models import Source

KIND_OF_CLIENT = {"web": "web", "pubmed": "pubmed", "europepmc": "europepmc", "trials": "trial"}


def carry_forward(current: list[Source], previous: list[dict[str, Any]], failed_clients: set[str]
                  ) -> tuple[list[Source], int]:
    """`current` plus the previous sources of the failed clients' kinds that `current` lacks, numbered after
    the current ones; returns (sources, how many were carried forward)."""
    kinds = {KIND_OF_CLIENT.get(name, name) for name in failed_clients}
    if not kinds:
        return current, 0
    seen: set[str] = set()
    for source in current:
        seen |= source.keys
    out = list(current)
    for raw in previous:
        if raw.get("kind") not in kinds:
            continue
        source = Source.model_validate({**raw, "snippet": raw.get("snippet") or "", "number": None})
        if source.keys & seen:
            continue
        seen |= source.keys
        out.append(source.model_copy(update={"number": len(out) + 1}))
    return out, len(out) - len(current)


def unchecked_note(services: list[str]) -> str | None:
    """The changes note's line about services that could not be checked, or None."""
    if not services:
        return None
    return (f"Could not be checked this time: {', '.join(services)} (the search failed); the sources found "
            "there before are carried forward and count as neither removed nor new.")
