"""A research agent as a finished run leaves it: registry row, report versions, sources.json, a changes note.

Built directly (no run), so tests of reading, exporting and the report screen need no services.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mia.agents.research.report import source_entry
from mia.models import Source
from mia.settings import load_settings
from mia.store.agents import create_agent, set_status
from mia.store.db import open_registry
from mia.store.workspace import Workspace

QUESTION = "DMD treatments"


def paper(n: int, *, pmid: str, title: str, authors: list[str], journal: str, year: str,
          doi: str | None = None) -> dict[str, Any]:
    return {"kind": "pubmed", "url": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/", "title": title,
            "identifier": pmid, "date": year, "snippet": f"Abstract of {title}", "number": n, "retrieved": n,
            "authors": authors, "journal": journal, "doi": doi}


def trial(n: int, *, nct: str, title: str, status: str, phases: list[str], sponsor: str,
          date: str) -> dict[str, Any]:
    return {"kind": "trial", "url": f"https://clinicaltrials.gov/study/{nct}", "title": title, "identifier": nct,
            "date": date, "snippet": "", "number": n, "retrieved": n, "status": status, "phases": phases,
            "sponsor": sponsor}


def web(n: int, *, url: str, title: str, date: str | None = None) -> dict[str, Any]:
    return {"kind": "web", "url": url, "title": title, "date": date, "snippet": "", "number": n, "retrieved": n}


SOURCES = [
    paper(1, pmid="38012345", title="Delandistrogene moxeparvovec gene therapy in ambulatory boys with DMD",
          authors=["Mendell JR", "Muntoni F", "McDonald CM"], journal="Nature Medicine", year="2024-05",
          doi="10.1038/s41591-024-00001-x"),
    trial(2, nct="NCT05096221", title="EMBARK: gene transfer therapy in Duchenne muscular dystrophy",
          status="COMPLETED", phases=["PHASE3"], sponsor="Sarepta Therapeutics", date="2021-10"),
    paper(3, pmid="37654321", title="Givinostat for Duchenne muscular dystrophy (EPIDYS)",
          authors=["Mercuri E", "Vilchez JJ"], journal="The Lancet Neurology", year="2024-03",
          doi="10.1016/S1474-4422(24)00036-X"),
    web(4, url="https://www.fda.gov/news-events/dmd-approval", title="FDA approves first gene therapy for DMD",
        date="2023-06-22"),
    paper(5, pmid="36000001", title="Vamorolone versus prednisone: a randomized trial",
          authors=["Guglieri M"], journal="JAMA Neurology", year="2022"),
]

REPORT_V1_TEMPLATE = """# DMD treatments

_Research agent dmd-treatments · report v1 · 2026-11-01 · 5 sources (PubMed 3, ClinicalTrials.gov 1, Web 1)_

## Summary

Gene therapy with delandistrogene moxeparvovec was studied in ambulatory boys [1] and in the EMBARK trial [2].

## Sources

{listing}
"""

REPORT_V2_TEMPLATE = """# DMD treatments

_Research agent dmd-treatments · report v2 · 2026-11-08 · 5 sources (PubMed 3, ClinicalTrials.gov 1, Web 1)_

## Summary

Gene therapy with delandistrogene moxeparvovec was studied in ambulatory boys [1] and in the EMBARK trial [2].
Givinostat slowed decline in the EPIDYS trial [3], and the FDA approved the first gene therapy [4].

## Sources

{listing}

_1 more retrieved source(s) are listed in sources.json._
"""


def _listing(numbers: list[int]) -> str:
    by_number = {s["number"]: Source.model_validate(s) for s in SOURCES}
    return "\n".join(source_entry(by_number[n]) for n in numbers)


REPORT_V1 = REPORT_V1_TEMPLATE.format(listing=_listing([1, 2]))
REPORT_V2 = REPORT_V2_TEMPLATE.format(listing=_listing([1, 2, 3, 4]))

CHANGES = """# What changed: dmd-treatments, 2026-11-08

_Compared with report v1; 5 sources checked; report v2._

## New papers (1)

- [Givinostat for Duchenne muscular dystrophy (EPIDYS)](https://pubmed.ncbi.nlm.nih.gov/37654321/) · PMID 37654321
"""


def make_finished_agent(*, slug: str = "dmd-treatments", reports: list[str] | None = None,
                        sources: list[dict[str, Any]] | None = None, changes: bool = True) -> Path:
    """Create the agent `slug` with its files in the current MIA_HOME; returns its folder."""
    settings = load_settings({})
    registry = open_registry(settings.registry_path)
    texts = reports if reports is not None else [REPORT_V1, REPORT_V2]
    agent = create_agent(registry, question=QUESTION, sources=["web", "pubmed", "europepmc", "trials"],
                         depth="standard", model="@cf/test", budget_usd=0.5, slug=slug)
    set_status(registry, agent.id, "done", report_version=len(texts))
    folder = Workspace(settings.workspace_root).agent_dir(slug)
    (folder / "reports").mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(texts, start=1):
        (folder / "reports" / f"v{n}.md").write_text(text, encoding="utf-8")
    if texts:
        (folder / "report.md").write_text(texts[-1], encoding="utf-8")
    (folder / "sources.json").write_text(json.dumps(sources if sources is not None else SOURCES, indent=2),
                                         encoding="utf-8")
    (folder / "plan.json").write_text(json.dumps([{"question": QUESTION, "query": QUESTION}]), encoding="utf-8")
    if changes and len(texts) > 1:
        (folder / "changes").mkdir(exist_ok=True)
        (folder / "changes" / "20261108T080000Z.md").write_text(CHANGES, encoding="utf-8")
    return folder


def big_report(*, kilobytes: int = 150, sources: int = 400) -> tuple[str, list[dict[str, Any]]]:
    """A report of about `kilobytes` KB citing `sources` sources throughout, and those sources."""
    listed = [paper(n, pmid=str(30000000 + n), title=f"Study {n} of a treatment for Duchenne muscular dystrophy",
                    authors=[f"Author{n} AB"], journal="Journal of Trials", year=str(2000 + n % 25))
              for n in range(1, sources + 1)]
    parts = ["# DMD treatments", "", "_Research agent big · report v1 · 2026-11-30_", ""]
    i = 0
    while sum(len(p) + 1 for p in parts) < kilobytes * 1000:
        i += 1
        if i % 15 == 1:
            parts += ["", f"## Part {i // 15 + 1}", ""]
        parts.append(f"- Finding {i}: the treatment changed the outcome measured in this study, with the effect "
                     f"size and follow-up the authors report [{i % sources + 1}][{(i * 7) % sources + 1}].")
    parts += ["", "## Sources", ""]
    parts += [source_entry(Source.model_validate(s)) for s in listed]
    return "\n".join(parts) + "\n", listed
