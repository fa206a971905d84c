"""Plan review for research started from a conversation: draft the plan, wait for the person, search what they chose.

The background thread drafts the plan (a paid step), hands a `PlanReview` to the front end and waits; the front
end (the TUI's plan card) calls `accept(plan)` or `cancel()` from its own thread. Nothing here knows any UI.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from mia.errors import MiaError
from mia.store import runs as run_store

if TYPE_CHECKING:
    from mia.agents.research.service import ResearchRequest
    from mia.models import Usage
    from mia.settings import Settings
    from mia.store.db import Registry


class PlanCancelled(MiaError):
    """The person cancelled the plan: nothing was searched and no agent was made."""


@dataclass
class PlanReview:
    """A drafted plan waiting for the person: `plan` is a list of {"question", "query", "queries"?} dicts."""

    name: str  # the agent the run will create
    question: str
    conversation_id: str | None
    plan: list[dict[str, Any]]
    cost_usd: float  # what drafting the plan cost, in US dollars
    decision: list[dict[str, Any]] | None = None  # the plan to search once accepted; None while waiting or cancelled
    decided: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def pending(self) -> bool:
        return not self.decided.is_set()

    def text(self) -> str:
        """The plan in its editable text form (planning.plan_to_text)."""
        from mia.agents.research.planning import plan_to_text

        return plan_to_text(self.question, self.plan)

    def edit(self, text: str) -> list[dict[str, Any]]:
        """Replace the plan with the one written in `text`; a UsageError (plan unchanged) names the wrong line."""
        from mia.agents.research.planning import plan_from_text

        self.plan = plan_from_text(text)
        return self.plan

    def accept(self) -> None:
        """Search with the plan as it is now (first decision wins)."""
        if self.pending:
            self.decision = list(self.plan)
            self.decided.set()

    def cancel(self) -> None:
        """Search nothing; the run ends and the planning spend is kept."""
        if self.pending:
            self.decision = None
            self.decided.set()


def draft(settings: Settings, request: ResearchRequest, http: httpx.Client,
          conversation_id: str | None) -> tuple[PlanReview, list[Usage]]:
    """The model's plan for the request, as a review to show, and the usage of the replies it took."""
    from mia.agents.research.planning import draft_plan
    from mia.agents.research.service import _llm_or_none

    llm = _llm_or_none(settings, http, request.model)
    plan, usages = draft_plan(llm, request.question, request.depth, budget_usd=request.budget_usd)
    review = PlanReview(request.name or "research", request.question, conversation_id, plan,
                        sum(u.cost_usd for u in usages))
    return review, usages


def reviewed_request(request: ResearchRequest, review: PlanReview, usages: list[Usage],
                     registry: Registry) -> ResearchRequest:
    """Wait for the person; the request with the accepted plan (searched as it is, saved as plan.json).

    Raises PlanCancelled after recording the planning spend without an agent (step "plan-review"), as
    `mia research --review` does when cancelled.
    """
    review.decided.wait()
    if review.decision is None:
        for usage in usages:
            run_store.record_usage(registry, usage, run_id=None, agent_id=None, step_key="plan-review")
        raise PlanCancelled(f"Research '{review.name}' was cancelled at its plan: nothing was searched "
                            f"(planning cost ${review.cost_usd:.4f}).")
    request.plan, request.plan_usage = review.decision, usages
    return request
