"""Citation verification (in `audit`) and the Markdown mia writes: reports, source lists, digests."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from mia.agents.research.audit import CITATION_RE, REMOVED_MARK, Resolve, Verified, removal_note, verify_body
from mia.agents.research.audit import expand as _expand
from mia.agents.research.levels import design_of, enrolment_of
from mia.models import Source

REFERENCE_HEADING_RE = re.compile(r"^#{1,4}\s*(references|sources|bibliography|citations)\s*:?\s*$",
                                  re.IGNORECASE | re.MULTILINE)
THINK_RE = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)
KIND_LABEL = {"web": "Web", "pubmed": "PubMed", "europepmc": "Europe PMC", "trial": "ClinicalTrials.gov",
              "correspondence": "Correspondence", "file": "Your file"}
PHASE_ORDER = ["PHASE4", "PHASE3", "PHASE2", "PHASE1", "EARLY_PHASE1", "NA"]


def clean_body(text: str) -> str:
    """Drop <think> blocks, a leading title and any reference list the model wrote itself."""
    text = THINK_RE.sub("", text).strip()
    match = REFERENCE_HEADING_RE.search(text)
    if match:
        text = text[: match.start()].rstrip()
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        text = "\n".join(lines[1:]).lstrip()
    return text


def verify_citations(text: str, valid: set[int], resolve: Resolve | None = None) -> Verified:
    """Keep citations to retrieved sources; remove the rest and mark where they were (see `audit`)."""
    return verify_body(text, valid, resolve)


def source_entry(source: Source) -> str:
    """One line of the numbered source list."""
    facts: list[str] = ["**Retracted**"] if source.retracted else []
    facts.append(KIND_LABEL.get(source.kind, source.kind))
    if source.identifier:  # a PubMed id is 'PMID n' whichever service found it, as in the digest
        facts.append(paper_id(source) if source.kind in ("pubmed", "europepmc") else source.identifier)
    if source.kind != "trial" and (design := design_of(source)):
        facts.append(design)
    if source.phases:
        facts.append(", ".join(p.replace("PHASE", "Phase ").replace("EARLY_Phase ", "Early phase ")
                               for p in source.phases))
    if source.status:
        facts.append(source.status.replace("_", " ").capitalize())
    if enrolment := enrolment_of(source):
        facts.append(enrolment)
    if source.sponsor:
        facts.append(source.sponsor)
    if source.date:
        facts.append(source.date)
    title = source.title.replace("[", "(").replace("]", ")")
    return f"- [{source.number}] [{title}]({source.url}) — {'; '.join(facts)}"


def render_report(*, question: str, header: str, body: str, sources: list[Source], cited: list[int],
                  removed: int, notes: list[str], identifiers_removed: int = 0) -> str:
    """The final report: title, header line, notes, body, and the numbered list of cited sources."""
    by_number = {s.number: s for s in sources}
    cited_sources = [by_number[n] for n in sorted(cited) if n in by_number]
    parts = [f"# {question}", "", f"_{header}_", ""]
    if note := removal_note(removed, identifiers_removed):
        parts += [f"> {note}", ""]
    for note in notes:
        parts += [f"> {note}", ""]
    parts += [body.strip(), "", "## Sources", ""]
    parts += [source_entry(s) for s in cited_sources] or ["_No sources were cited._"]
    uncited = len(sources) - len(cited_sources)
    if uncited > 0:
        parts += ["", f"_{uncited} more retrieved source(s) are listed in sources.json._"]
    return "\n".join(parts).rstrip() + "\n"


def _phase_key(source: Source) -> str:
    for phase in PHASE_ORDER:
        if phase in source.phases:
            return phase
    return "NA"


def render_digest(*, question: str, header: str, sources: list[Source], notes: list[str]) -> str:
    """A source digest without an LLM: trials by phase and status, recent papers, web results."""
    parts = [f"# Source digest: {question}", "", f"_{header}_", ""]
    parts += [f"> {note}" for note in notes] + [""]
    trials = [s for s in sources if s.kind == "trial"]
    papers = sorted((s for s in sources if s.kind in ("pubmed", "europepmc")),
                    key=lambda s: s.date or "", reverse=True)
    web = sorted((s for s in sources if s.kind == "web"), key=lambda s: s.date or "", reverse=True)
    if trials:
        parts += [f"## Clinical trials ({len(trials)})", ""]
        grouped: dict[str, list[Source]] = defaultdict(list)
        for trial in trials:
            grouped[_phase_key(trial)].append(trial)
        for phase in PHASE_ORDER:
            if phase not in grouped:
                continue
            label = "Phase not applicable" if phase == "NA" else phase.replace("PHASE", "Phase ").replace(
                "EARLY_Phase ", "Early phase ")
            parts += [f"### {label}", ""]
            for trial in sorted(grouped[phase], key=lambda t: (t.status or "", t.identifier or "")):
                status = (trial.status or "unknown").replace("_", " ").lower()
                sponsor = f" · {trial.sponsor}" if trial.sponsor else ""
                parts.append(f"- **{status}** — [{trial.title}]({trial.url}) · {trial.identifier}{sponsor}")
            parts.append("")
    if papers:
        parts += [f"## Recent papers ({len(papers)})", ""]
        for paper in papers:
            parts.append(f"- [{paper.title}]({paper.url}) — {paper.date or 'undated'} · {paper_id(paper)}"
                         + _snippet_line(paper))
        parts.append("")
    if web:
        parts += [f"## Web ({len(web)})", ""]
        parts += [f"- [{s.title}]({s.url})" + (f" — {s.date}" if s.date else "") + _snippet_line(s) for s in web]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def paper_id(paper: Source) -> str:
    """A paper's identifier as people cite it: 'PMID 123' whichever service found it, else PMCID or DOI."""
    ident = (paper.identifier or "").strip()
    if ident.isdigit():
        return f"PMID {ident}"
    if ident.upper().startswith("PMID"):
        return f"PMID {ident[4:].lstrip(': ').strip()}"
    return ident


SNIPPET_LINE = 200


def _snippet_line(source: Source) -> str:
    """One line of the source's snippet under its entry (cut at a word, with an ellipsis)."""
    text = " ".join((source.snippet or "").split())
    if not text:
        return ""
    if len(text) > SNIPPET_LINE:
        text = text[:SNIPPET_LINE].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"
    return f"\n  {text}"


def count_by_kind(sources: list[Source]) -> str:
    counts = Counter(KIND_LABEL.get(s.kind, s.kind) for s in sources)
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


__all__ = ["CITATION_RE", "REMOVED_MARK", "Verified", "_expand", "clean_body", "count_by_kind", "render_digest",
           "render_report", "source_entry", "verify_citations"]
