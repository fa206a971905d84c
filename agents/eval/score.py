"""Scoring research runs against labelled questions: one ItemScore per question, one set of figures per eval.

Figures (all computed in code from what the run wrote, never asked of a model):
- accuracy: share of questions whose bottom-line verdict matches the label (yes/no; uncertain counts as maybe;
  no verdict counts as wrong);
- gold_retrieved / gold_cited: share of questions whose source article (its PMID) was among the run's sources /
  among the sources the report cites;
- quotes_verified: share of all extracted claims whose quote is found in the cited source's text;
- identifiers_removed: citations to unretrieved sources plus links and identifiers (DOIs, PMIDs, URLs, NCT ids)
  that no retrieved source carries, which the verification step took out, summed;
- cost_per_question (US dollars) and seconds_per_question (wall time), averaged over the questions run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mia.agents.research.bottom_line import find_bottom_line
from mia.agents.research.evidence import find_quote, source_text
from mia.agents.research.report import verify_citations

LABEL_OF_VERDICT = {"yes": "yes", "no": "no", "uncertain": "maybe"}


@dataclass
class ItemScore:
    """How one question went. `verdict` is yes, no, maybe or None (no bottom line, or the run failed)."""

    pmid: str
    label: str
    verdict: str | None
    correct: bool
    gold_retrieved: bool
    gold_cited: bool
    claims: int
    quotes_verified: int
    identifiers_removed: int
    cost_usd: float
    seconds: float
    status: str  # the research run's status (done, cut_short, ...) or "error"
    agent: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def quote_verified(claim: Mapping[str, Any], text_of: Mapping[Any, str]) -> bool:
    """Whether the claim's quote was found in a retrieved source's text: the research run's own mark
    (`quote_check`, from mia.agents.research.evidence) when it has one, else the same check done here."""
    mark = claim.get("quote_check")
    if mark is not None:
        return mark in ("verified", "reattributed")
    return find_quote(str(claim.get("quote") or ""), text_of.get(claim.get("source"), "")) is not None


def cited_numbers(report: str) -> set[int]:
    """The source numbers the report's body cites (its source list at the end is not counted)."""
    body = report.split("\n## Sources", 1)[0]
    return set(verify_citations(body, set(range(1, 10_000))).cited)


def score_item(*, pmid: str, label: str, report: str, sources: Sequence[Mapping[str, Any]],
               claims: Sequence[Mapping[str, Any]], identifiers_removed: int, cost_usd: float, seconds: float,
               status: str, agent: str | None = None) -> ItemScore:
    """Score one finished run: `sources` and `claims` as written to sources.json and evidence/claims.json."""
    line = find_bottom_line(report)
    verdict = LABEL_OF_VERDICT.get(line.verdict or "") if line else None
    gold = {s.get("number") for s in sources if str(s.get("identifier") or "").strip() == pmid}
    text_of = {s.get("number"): source_text(str(s.get("title") or ""), str(s.get("snippet") or "")) for s in sources}
    verified = sum(1 for c in claims if quote_verified(c, text_of))
    return ItemScore(pmid=pmid, label=label, verdict=verdict, correct=verdict == label,
                     gold_retrieved=bool(gold), gold_cited=bool(gold & cited_numbers(report)), claims=len(claims),
                     quotes_verified=verified, identifiers_removed=identifiers_removed, cost_usd=cost_usd,
                     seconds=seconds, status=status, agent=agent)


def failed_item(*, pmid: str, label: str, error: str, cost_usd: float, seconds: float,
                agent: str | None = None) -> ItemScore:
    """A question whose run did not finish: no verdict, nothing retrieved, counted as wrong."""
    return ItemScore(pmid=pmid, label=label, verdict=None, correct=False, gold_retrieved=False, gold_cited=False,
                     claims=0, quotes_verified=0, identifiers_removed=0, cost_usd=cost_usd, seconds=seconds,
                     status="error", agent=agent, error=error)


def figures(items: Sequence[ItemScore]) -> dict[str, Any]:
    """The eval's figures over `items` (shares in 0..1, rounded to 4 places; None when there is nothing to share)."""
    n = len(items)

    def share(count: int, total: int) -> float | None:
        return round(count / total, 4) if total else None

    claims = sum(i.claims for i in items)
    return {
        "questions": n,
        "accuracy": share(sum(i.correct for i in items), n),
        "answered": share(sum(i.verdict is not None for i in items), n),
        "gold_retrieved": share(sum(i.gold_retrieved for i in items), n),
        "gold_cited": share(sum(i.gold_cited for i in items), n),
        "claims": claims,
        "quotes_verified": share(sum(i.quotes_verified for i in items), claims),
        "identifiers_removed": sum(i.identifiers_removed for i in items),
        "errors": sum(i.status == "error" for i in items),
        "cost_usd": round(sum(i.cost_usd for i in items), 6),
        "cost_per_question": round(sum(i.cost_usd for i in items) / n, 6) if n else None,
        "seconds_per_question": round(sum(i.seconds for i in items) / n, 2) if n else None,
    }
