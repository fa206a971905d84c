"""Ranking before reading: a sub-question's candidate sources ordered by BM25 against it, best first.

The extraction budget (a few sources per sub-question) goes to the sources whose title and text match the
sub-question best, not to whichever service answered first. The ranking is `mia.tools.passages.PassageIndex`
(BM25 through bm25s), the same one the `file` source and the offline eval corpus use.
"""

from __future__ import annotations

from collections.abc import Sequence

from mia.models import Source
from mia.tools.passages import Passage, PassageIndex


def rank_sources(query: str, candidates: Sequence[Source], k: int) -> list[Source]:
    """The best `k` of `candidates` for `query` (BM25 over title and snippet), best first; correspondence (a reply
    to the agent's own mail) always comes first and is never ranked out.

    Candidates that share no word with the query keep their service order after the matching ones, so nothing
    is lost when the query is terse; ties keep service order too. Deterministic for the same input.
    """
    given = [s for s in candidates if s.kind == "correspondence"]  # a reply the agent asked for is always read
    candidates = [s for s in candidates if s.kind != "correspondence"]
    if len(candidates) <= 1 or k <= len(given):
        return [*given, *candidates][:max(k, len(given))]
    k -= len(given)
    index = PassageIndex([Passage(doc=str(n), location=s.title, text=s.snippet) for n, s in enumerate(candidates)])
    ranked = [int(passage.doc) for passage, _score in sorted(
        index.rank(query, k=len(candidates)), key=lambda hit: (-hit[1], int(hit[0].doc)))]
    rest = [n for n in range(len(candidates)) if n not in set(ranked)]
    return [*given, *(candidates[n] for n in [*ranked, *rest][:k])]
