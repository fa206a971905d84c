"""Citation numbers in the order readers meet them: [1] first, then [2], ... (after verification)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia.agents.research.report import CITATION_RE, _expand
from mia.models import Source


@dataclass
class Renumbered:
    """A verified report body and its sources, renumbered by first appearance.

    `sources` holds every retrieved source: the cited ones numbered 1..k in the order the body first cites
    them, then the uncited ones k+1..n in retrieval order; each keeps its retrieval number in `retrieved`.
    `cited` lists the new numbers of the cited sources (1..k); `claims` point at the new numbers.
    """

    body: str | None
    sources: list[Source]
    cited: list[int]
    claims: list[dict[str, Any]]
    mapping: dict[int, int]


def first_appearance(body: str, valid: set[int]) -> list[int]:
    """The valid citation numbers of `body`, each once, in the order they first appear."""
    order: list[int] = []
    for match in CITATION_RE.finditer(body):
        for number in _expand(match.group(1)):
            if number in valid and number not in order:
                order.append(number)
    return order


def renumber_citations(body: str | None, sources: list[Source],
                       claims: list[dict[str, Any]] | None = None) -> Renumbered:
    """Renumber a verified report so its citations run [1], [2], [3]... in reading order.

    Runs after citation verification (which has already removed citations to sources that were not
    retrieved, so every number left in `body` is a retrieval number). Sources are copied, never changed
    in place, so the stored output of the search step stays as it was.
    """
    by_number = {s.number: s for s in sources if s.number is not None}
    order = first_appearance(body, set(by_number)) if body else []
    rest = [n for n in sorted(by_number) if n not in set(order)]
    mapping = {old: new for new, old in enumerate([*order, *rest], start=1)}

    def rewrite(match: Any) -> str:
        numbers = _expand(match.group(1))
        if not all(n in mapping for n in numbers):
            return str(match.group(0))  # not a citation this run can resolve: leave it as written
        return "".join(f"[{mapping[n]}]" for n in dict.fromkeys(numbers))

    new_body = CITATION_RE.sub(rewrite, body) if body else body
    renumbered = [by_number[old].model_copy(update={"number": new, "retrieved": old})
                  for old, new in sorted(mapping.items(), key=lambda item: item[1])]
    new_claims = [{**c, "source": mapping.get(c.get("source"), c.get("source"))}  # type: ignore[arg-type]
                  for c in (claims or [])]
    return Renumbered(body=new_body, sources=renumbered, cited=list(range(1, len(order) + 1)),
                      claims=new_claims, mapping=mapping)
