"""The search log: every query a run sent, to which service, how many hits, when; so a reader can repeat it.

Systematic reviews report their searches (PRISMA-S asks for each database, the query as run and the date);
mia writes the same facts to `search_log.json` and ends the report with a short summary of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any


def now() -> str:
    """The time of a search, as ISO-8601 UTC to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_log(tasks: Sequence[tuple[int, str, str]], outputs: Sequence[Mapping[str, Any] | None],
              services: Mapping[str, str], problems: Mapping[int, tuple[str, str]]) -> list[dict[str, Any]]:
    """One entry per search sent: `tasks` are (sub-question, source name, query), `outputs` the search steps'
    outputs (None when the search did not run), `problems` {task index: (status, message)} for those.

    Entry keys: sub_question (1-based), source, service, query, status (ok, failed, skipped), results (how many
    came back), total (the service's hit count, when it reports one), searched_at, and error when not ok.
    """
    log: list[dict[str, Any]] = []
    for index, ((i, name, query), output) in enumerate(zip(tasks, outputs, strict=True)):
        entry: dict[str, Any] = {"sub_question": i + 1, "source": name, "service": services.get(name, name),
                                 "query": query}
        if output is not None:
            entry.update(status="ok", results=len(output.get("sources", [])), total=output.get("total"),
                         searched_at=output.get("searched_at"))
        else:
            status, message = problems.get(index, ("skipped", "not searched"))
            entry.update(status=status, results=0, total=None, searched_at=None, error=message)
        log.append(entry)
    return log


def render_summary(log: Sequence[Mapping[str, Any]]) -> str:
    """The report's closing section: each query with what each service returned, and where the full log is."""
    if not log:
        return ""
    by_query: dict[str, list[str]] = {}
    for entry in log:
        if entry["status"] == "ok":
            total = f" of {entry['total']:,}" if isinstance(entry.get("total"), int) else ""
            found = f"{entry['results']}{total}"
        else:
            found = entry["status"]
        by_query.setdefault(entry["query"], []).append(f"{entry['service']} {found}")
    dates = sorted({str(e["searched_at"])[:10] for e in log if e.get("searched_at")})
    when = f" on {', '.join(dates)}" if dates else ""
    lines = ["## Searches", "",
             f"{len(log)} searches{when} (results returned, of the service's hit count where it reports one):", ""]
    lines += [f"- \"{query}\" — {'; '.join(found)}" for query, found in by_query.items()]
    lines += ["", "_Every query, service, hit count and time is in search_log.json._"]
    return "\n".join(lines) + "\n"
