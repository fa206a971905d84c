"""Evidence levels: each source's study design and status, and the rule that a retracted article supports nothing.

Papers are graded by their PubMed / Europe PMC publication types (NLM's list: "Meta-Analysis", "Systematic
Review", "Randomized Controlled Trial", "Clinical Trial, Phase I-IV", "Review", "Case Reports", "Preprint",
"Retracted Publication"); registered trials by ClinicalTrials.gov's study type, phases, overall status and
enrolment. The label goes to the model (synthesis is told to weigh claims by it), into the report's source list
and, as the raw fields, into sources.json.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mia.agents.research.audit import CITATION_RE, expand
from mia.models import Source

RETRACTED_MARK = " *(citation removed: retracted article)*"

# (publication type, label), strongest design first: the first match names the design.
DESIGNS = (
    ("Meta-Analysis", "meta-analysis"),
    ("Systematic Review", "systematic review"),
    ("Randomized Controlled Trial", "randomised controlled trial"),
    ("Clinical Trial, Phase IV", "clinical trial, phase 4"),
    ("Clinical Trial, Phase III", "clinical trial, phase 3"),
    ("Clinical Trial, Phase II", "clinical trial, phase 2"),
    ("Clinical Trial, Phase I", "clinical trial, phase 1"),
    ("Controlled Clinical Trial", "controlled clinical trial"),
    ("Clinical Trial", "clinical trial"),
    ("Observational Study", "observational study"),
    ("Practice Guideline", "practice guideline"),
    ("Guideline", "guideline"),
    ("Review", "review"),
    ("Case Reports", "case report"),
    ("Preprint", "preprint"),
)
PHASE_LABEL = {"EARLY_PHASE1": "early phase 1", "PHASE1": "phase 1", "PHASE2": "phase 2", "PHASE3": "phase 3",
               "PHASE4": "phase 4", "NA": "phase n/a"}


def design_of(source: Source) -> str | None:
    """The study design of a paper (strongest publication type) or a trial (study type and phases), or None."""
    if source.kind == "trial":
        kind = (source.study_type or "").replace("_", " ").lower() or "registered study"
        phases = "/".join(PHASE_LABEL.get(p, p.lower()) for p in source.phases if p != "NA")
        return f"{kind} trial, {phases}" if phases and kind == "interventional" else kind
    types = {t.strip().lower() for t in source.publication_types}
    for name, label in DESIGNS:
        if name.lower() in types:
            return label
    return None


def evidence_label(source: Source) -> str:
    """Design and status in a few words, e.g. "RETRACTED; randomised controlled trial" or
    "interventional trial, phase 3; recruiting; 120 to enrol, estimated"; "" when nothing is known."""
    parts: list[str] = []
    if source.retracted:
        parts.append("RETRACTED")
    if design := design_of(source):
        parts.append(design)
    if "preprint" in {t.lower() for t in source.publication_types} and design != "preprint":
        parts.append("preprint")
    if source.kind == "trial":
        if source.status:
            parts.append(source.status.replace("_", " ").lower())
        if enrolment := enrolment_of(source):
            parts.append(enrolment)
    return "; ".join(parts)


def enrolment_of(source: Source) -> str | None:
    """A trial's enrolment: "120 enrolled" (actual) or "120 to enrol, estimated", or None."""
    if source.enrollment is None:
        return None
    if (source.enrollment_type or "").upper() == "ESTIMATED":
        return f"{source.enrollment:,} to enrol, estimated"
    return f"{source.enrollment:,} enrolled"


def withhold_retracted(claims: Sequence[dict[str, Any]], sources: Sequence[Source]
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(claims that may support the report, claims that rest on a retracted article and may not)."""
    retracted = {s.number for s in sources if s.retracted and s.number is not None}
    kept = [c for c in claims if c.get("source") not in retracted]
    withheld = [{**c, "withheld": "retracted"} for c in claims if c.get("source") in retracted]
    return kept, withheld


def retraction_notice(sources: Sequence[Source], withheld: int) -> str | None:
    """The report's notice about retracted articles among the sources, or None when there are none."""
    retracted = [s for s in sources if s.retracted]
    if not retracted:
        return None
    names = ", ".join(f"PMID {s.identifier}" if s.kind == "pubmed" else (s.identifier or s.url) for s in retracted)
    support = (f"{withheld} claim(s) drawn from them were left out" if withheld
               else "no claim in this report rests on them")
    return (f"{len(retracted)} retrieved article(s) are retracted ({names}): they are flagged in the source list, "
            f"never support a claim, and {support}.")


def uncite_retracted(body: str, sources: Sequence[Source]) -> tuple[str, int]:
    """`body` with every citation of a retracted source taken out and the place marked; and how many went."""
    retracted = {s.number for s in sources if s.retracted and s.number is not None}
    removed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal removed
        numbers = expand(match.group(1))
        kept = [n for n in numbers if n not in retracted]
        if len(kept) == len(numbers):
            return match.group(0)
        removed += len(numbers) - len(kept)
        if kept:
            return "".join(f"[{n}]" for n in kept)
        after_space = match.start() > 0 and body[match.start() - 1].isspace()
        return RETRACTED_MARK.lstrip() if after_space else RETRACTED_MARK

    return CITATION_RE.sub(replace, body) if retracted else body, removed
