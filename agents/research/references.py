"""A report's sources as people reuse them: the full Markdown list, and reference-manager formats."""

from __future__ import annotations

from mia.agents.research.numbering import first_appearance
from mia.agents.research.report import source_entry
from mia.models import Source


def cited_numbers(report: str, sources: list[Source]) -> list[int]:
    """The source numbers the report's text cites, in order of first appearance."""
    body = report.split("\n## Sources", 1)[0]
    return first_appearance(body, {s.number for s in sources if s.number is not None})


def sources_markdown(slug: str, sources: list[Source], report: str) -> str:
    """Every retrieved source with its link: those the report cites first, then the rest."""
    cited = set(cited_numbers(report, sources))
    used = [s for s in sources if s.number in cited]
    rest = [s for s in sources if s.number not in cited]
    parts = [f"# Sources: {slug}", "", f"_{len(sources)} retrieved · {len(used)} cited in the report_", ""]
    if used:
        parts += [f"## Cited in the report ({len(used)})", "", *(source_entry(s) for s in used), ""]
    if rest:
        parts += [f"## Also retrieved ({len(rest)})", "", *(source_entry(s) for s in rest), ""]
    if not sources:
        parts += ["_sources.json lists no sources._", ""]
    return "\n".join(parts).rstrip() + "\n"
