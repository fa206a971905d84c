"""What changed between an agent's last report and a follow-up run: new papers, trials, status changes."""

from __future__ import annotations

from typing import Any

from mia.agents.research.carry import unchecked_note
from mia.models import Source

WITHDRAWN = {"TERMINATED", "WITHDRAWN", "SUSPENDED"}


def snapshot(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The facts of the previous sources that change detection needs (kept small: they go in run params)."""
    keep = ("number", "kind", "url", "title", "identifier", "status", "date", "doi", "aliases")
    return [{**{k: s.get(k) for k in keep}, "aliases": s.get("aliases") or []} for s in sources]


def _key(source: dict[str, Any]) -> str:
    return Source.model_validate({**source, "snippet": ""}).dedupe_key


def _keys(source: dict[str, Any]) -> set[str]:
    """Every identifier key of a previous source, so a document found again under another id is not new."""
    return Source.model_validate({**source, "snippet": "", "aliases": source.get("aliases") or []}).keys


def _dedupe(source: dict[str, Any]) -> str:
    return _key({**source, "aliases": source.get("aliases") or []})


def compute_changes(previous: list[dict[str, Any]], claims: list[dict[str, Any]],
                    current: list[Source], unchecked: list[str] | None = None) -> dict[str, Any]:
    """Compare previous and current sources; `material` is True when there is something to tell."""
    before = {_dedupe(prev): prev for prev in previous}
    by_any_key: dict[str, dict[str, Any]] = {}  # every identifier key of a previous source (mia.identifiers)
    for prev in previous:
        for key in _keys(prev):
            by_any_key.setdefault(key, prev)

    def earlier(source: Source) -> dict[str, Any] | None:
        return next((by_any_key[k] for k in sorted(source.keys) if k in by_any_key), None)

    new = [s for s in current if earlier(s) is None]
    status_changes = []
    for source in current:
        old = earlier(source)
        if source.kind == "trial" and old and (old.get("status") or "") != (source.status or ""):
            status_changes.append({"identifier": source.identifier, "title": source.title, "url": source.url,
                                   "old": old.get("status"), "new": source.status})
    changed_numbers = {before_number(before, c["identifier"]) for c in status_changes
                       if (c["new"] or "") in WITHDRAWN}
    recheck = [c for c in claims if c.get("source") in changed_numbers]
    # Another page of a document the agent already had is not news; a document added since is.
    had_files = {_file_name(s.get("title") or "") for s in previous if s.get("kind") == "file"}
    first_pages: dict[str, dict[str, Any]] = {}
    for s in new:
        if s.kind == "file" and _file_name(s.title) not in had_files:
            first_pages.setdefault(_file_name(s.title), _brief(s))
    new_files = list(first_pages.values())
    return {
        "new_papers": [_brief(s) for s in new if s.kind in ("pubmed", "europepmc")],
        "new_trials": [_brief(s) for s in new if s.kind == "trial"],
        "new_web": [_brief(s) for s in new if s.kind == "web"],
        "new_files": new_files,
        "status_changes": status_changes,
        "claims_to_recheck": recheck,
        "checked": len(current),
        "unchecked": list(unchecked or []),  # services whose search failed: their sources were carried forward
        "material": bool([s for s in new if s.kind != "file"] or new_files or status_changes),
    }


def _file_name(title: str) -> str:
    """The document a `file` source is a page of: "protocol.pdf, p. 12" -> "protocol.pdf"."""
    return title.split(", ", 1)[0]


def before_number(before: dict[str, dict[str, Any]], identifier: str | None) -> int | None:
    for source in before.values():
        if source.get("kind") == "trial" and source.get("identifier") == identifier:
            return source.get("number")
    return None


def _brief(source: Source) -> dict[str, Any]:
    return {"kind": source.kind, "identifier": source.identifier, "title": source.title, "url": source.url,
            "date": source.date, "status": source.status}


def render_changes(changes: dict[str, Any], *, slug: str, date: str, previous_version: int,
                   new_version: int | None) -> str:
    """The `changes/` note, in Markdown."""
    lines = [f"# What changed: {slug}, {date}", ""]
    target = f"report v{new_version}" if new_version else "no new report version"
    lines += [f"_Compared with report v{previous_version}; {changes['checked']} sources checked; {target}._", ""]
    if note := unchecked_note(changes.get("unchecked") or []):
        lines += [f"> {note}", ""]
    if not changes["material"]:
        lines += [f"Nothing material changed since report v{previous_version}: no new papers, trials or web "
                  "sources, and no trial changed status.", ""]
        return "\n".join(lines)
    sections = (("New papers", "new_papers"), ("New trials", "new_trials"), ("New web sources", "new_web"),
                ("New documents of yours", "new_files"))
    for title, key in sections:
        items = changes.get(key) or []
        if items:
            lines += [f"## {title} ({len(items)})", ""]
            for item in items:
                ident = f"PMID {item['identifier']}" if item["kind"] == "pubmed" else (item["identifier"] or "")
                lines.append(f"- [{item['title']}]({item['url']})" + (f" · {ident}" if ident else ""))
            lines.append("")
    if changes["status_changes"]:
        lines += [f"## Trial status changes ({len(changes['status_changes'])})", ""]
        for c in changes["status_changes"]:
            lines.append(f"- {c['identifier']}: {c['old'] or 'unknown'} → {c['new'] or 'unknown'} — "
                         f"[{c['title']}]({c['url']})")
        lines.append("")
    if changes["claims_to_recheck"]:
        lines += ["## Claims that may no longer hold", ""]
        lines += [f"- {c['claim']} [{c['source']}]" for c in changes["claims_to_recheck"]]
        lines.append("")
    return "\n".join(lines)


def summary_line(changes: dict[str, Any]) -> str:
    """One line for the inbox: counts of what is new."""
    parts = []
    for label, key in (("new paper", "new_papers"), ("new trial", "new_trials"), ("new web source", "new_web"),
                       ("trial status change", "status_changes")):
        n = len(changes[key])
        if n:
            parts.append(f"{n} {label}{'s' if n != 1 else ''}")
    return ", ".join(parts) or "nothing material changed"
