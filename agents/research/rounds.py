"""A second look: after extraction, name what is missing or contradictory and search again for it.

Each round is a structured LLM step (`gaps/<round>`) whose follow-up searches join the plan as new
sub-questions; the pipeline's own search and extraction then run for them as durable steps keyed by their
sub-question number, so finished work is never repeated and a resumed run picks up where it stopped. Rounds by
depth: quick 0, standard 1, deep 2; a round that proposes nothing new, finds no new source or yields no new
claim ends the second look early. A budget or model failure ends it with a notice, never the run.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from mia.agents.llm.client import LLMOutputError
from mia.agents.research import prompts, subquestions
from mia.errors import BudgetExceeded, ContextLengthExceeded
from mia.models import Source

if TYPE_CHECKING:
    from mia.agents.research.engine import RunContext
    from mia.agents.research.pipeline import ResearchPipeline

MAX_FOLLOW_UPS = 3


def second_look(p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]], sources: list[Source],
                claims: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[Source], list[dict[str, Any]]]:
    """Up to the depth's rounds of gap-finding, searching and extracting; returns the grown plan, sources, claims."""
    for round_ in range(1, prompts.DEPTHS[p.params["depth"]].get("rounds", 0) + 1):
        look = partial(_gaps_call, p, ctx, round_, plan, claims)
        try:
            gaps = ctx.step(f"gaps/{round_}", look)
        except BudgetExceeded:
            p._notice("Budget reached: the second look at the evidence was skipped.")
            break
        except (LLMOutputError, ContextLengthExceeded) as exc:  # a model failure ends the look, never the run
            p._notice(f"The second look at the evidence was skipped: {exc.message}")
            break
        known = {sq["query"].strip().lower() for sq in plan}
        new = [sq for sq in gaps["follow_ups"] if sq["query"].strip().lower() not in known][:MAX_FOLLOW_UPS]
        if not new:
            break
        p._notice(f"Second look (round {round_}): searched again for "
                  + "; ".join(f"'{sq['query']}'" for sq in new) + _gap_summary(gaps))
        grown = plan + new
        p._stage(ctx, "searching")
        searched = subquestions.search(p, ctx, grown)
        more_sources = searched.sources
        p.emit("sources", {"count": len(more_sources)})
        plan = grown
        if len(more_sources) == len(sources):
            break  # nothing new was found
        p._stage(ctx, "extracting")
        more_claims = subquestions.extract(p, ctx, plan, searched, more_sources)
        sources, found_more = more_sources, len(more_claims) > len(claims)
        claims = more_claims
        if not found_more:
            break
    return plan, sources, claims


def _gaps_call(p: ResearchPipeline, ctx: RunContext, round_: int, plan: list[dict[str, str]],
               claims: list[dict[str, Any]]) -> dict[str, Any]:
    assert p.llm is not None
    messages = prompts.gaps_messages(p.params["question"], plan, claims, MAX_FOLLOW_UPS)
    max_tokens = p.llm.completion_tokens()
    with p.budget.hold(2 * p.llm.estimate_cost(messages, max_tokens), reserve_usd=p._synthesis_reserve(),
                       what="the second look"):
        result = p._structured(ctx, f"gaps/{round_}", messages, prompts.Gaps, max_tokens)
    return result.model_dump()


def _gap_summary(gaps: dict[str, Any]) -> str:
    parts = [f"missing: {'; '.join(gaps['missing'][:3])}" if gaps["missing"] else "",
             f"contradictory: {'; '.join(gaps['contradictions'][:3])}" if gaps["contradictions"] else ""]
    found = " — ".join(part for part in parts if part)
    return f" ({found})." if found else "."
