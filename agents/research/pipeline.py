"""The research pipeline as durable steps: plan -> search -> extract -> synthesize -> verify -> write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from mia.agents.llm.client import LLMClient, LLMOutputError
from mia.agents.research import prompts, search_log, subquestions
from mia.agents.research.bottom_line import lead_with_bottom_line
from mia.agents.research.budget import Budget
from mia.agents.research.carry import carry_forward
from mia.agents.research.changes import compute_changes, render_changes
from mia.agents.research.dedupe import collate, index_of
from mia.agents.research.engine import RunContext
from mia.agents.research.fulltext import FullTextReader
from mia.agents.research.levels import uncite_retracted
from mia.agents.research.numbering import renumber_citations
from mia.agents.research.report import clean_body, count_by_kind, render_digest, render_report, verify_citations
from mia.agents.research.rounds import second_look
from mia.agents.research.subquestions import SOURCES_PER_EXTRACT
from mia.agents.research.synthesis import (
    DEFAULT_CONTEXT_TOKENS,
    Fitted,
    Written,
    fit_messages,
    problem_notice,
    write_report,
)
from mia.errors import BudgetExceeded, IncompleteStream, UnusableAnswer
from mia.models import Source, Usage
from mia.store import runs as run_store
from mia.tools.passages import Passage
from mia.tools.rerank import WorkersAIReranker
from mia.tools.search import SearchClient

PIPELINE_VERSION = "research/2"  # 2: extraction sees each sub-question's own numbering
SYNTH_INPUT_TOKENS_GUESS = 6000

EventSink = Callable[[str, dict[str, Any]], None]
T = TypeVar("T", bound=BaseModel)


@dataclass
class RunOutput:
    """What a finished research run produced (the `write` step's stored output)."""

    outcome: str  # complete | cut_short | digest | no_sources | unchanged
    report: str
    files: dict[str, str]
    sources: int
    citations_removed: int
    notices: list[str] = field(default_factory=list)
    changes: dict[str, Any] | None = None
    audit: dict[str, int] = field(default_factory=dict)  # identifiers_removed, quotes_verified, ...


class ResearchPipeline:
    """One research run's body, given its clients; deterministic given stored step outputs."""

    def __init__(self, *, params: dict[str, Any], llm: LLMClient | None, clients: dict[str, SearchClient],
                 write_files: Callable[[dict[str, Any]], dict[str, str]], budget: Budget,
                 concurrency: int, on_event: EventSink, context_tokens: int = 0,
                 fulltext: FullTextReader | None = None, reranker: WorkersAIReranker | None = None) -> None:
        self.params = params
        self.llm = llm
        self.clients = clients
        self.write_files = write_files
        self.budget = budget
        self.concurrency = concurrency
        self.emit = on_event
        self.notices: list[str] = list(params.get("notices", []))
        self.changes: dict[str, Any] | None = None
        self.audit: dict[str, int] = {}
        self.failed_clients: set[str] = set()  # search clients with a failed search in this run
        self.context_tokens = context_tokens or DEFAULT_CONTEXT_TOKENS
        self.written: Written | None = None
        self.no_evidence = False
        self.unverified: list[dict[str, Any]] = []
        self.search_log: list[dict[str, Any]] = []  # every search sent, for search_log.json and the report
        self.fulltext = fulltext
        self.reranker = reranker  # orders BM25's best sources per sub-question when research.reranker is set
        self.full_text_shown: dict[int, list[Passage]] = {}  # source number -> full-text passages extracted from

    # --- the body -------------------------------------------------------------------------

    def __call__(self, ctx: RunContext) -> RunOutput:
        question = self.params["question"]
        self._stage(ctx, "planning")
        if self.params.get("plan"):  # a follow-up run searches its agent's remembered plan again
            plan = self.params["plan"]
        else:
            plan = self._plan(ctx) if self.llm else [fallback_plan(question)]
        self._stage(ctx, "searching")
        previous = self.params.get("previous")
        if self.llm and previous is None:  # each sub-question's extraction starts once its own searches are in
            searched, claims = subquestions.search_and_extract(self, ctx, plan)
            sources = searched.sources
            if sources:  # a first run looks again where the evidence has gaps (follow-ups do not)
                plan, sources, claims = second_look(self, ctx, plan, sources, claims)
        else:  # a follow-up first compares what it found with before: extraction waits for every search
            searched = subquestions.search(self, ctx, plan)
            self.emit("sources", {"count": len(searched.sources)})
            sources, claims = searched.sources, []
            if previous is not None:
                sources, unchecked = self._carry_forward(sources, previous["sources"])
                changes = ctx.step("changes", lambda: compute_changes(previous["sources"], previous["claims"],
                                                                      sources, unchecked))
                if not changes["material"] and not self.params.get("force_report"):
                    return RunOutput(**ctx.step("write", lambda: self._write_unchanged(plan, changes)))
                self.changes = changes
            if sources and self.llm:
                self._stage(ctx, "extracting")
                claims = subquestions.extract(self, ctx, plan, searched, sources)
        body: str | None = None
        if sources and self.llm:
            if claims or self.budget.cut_short:
                self._stage(ctx, "writing")
                body = self._synthesize(ctx, sources, claims)
            else:  # a report written from no evidence would be built on nothing
                self.no_evidence = True
                self._notice("No evidence: every evidence extraction came back empty or without a quote found in "
                             "its source, so this is a digest of the sources, not a report. A stronger model "
                             "(`mia config set llm.model MODEL`) usually extracts more.")
        self._stage(ctx, "verifying")
        result = ctx.step("verify", lambda: self._verify(sources, body))
        out = ctx.step("write", lambda: self._write(plan, sources, claims, result))
        return RunOutput(**out)

    def _carry_forward(self, sources: list[Source], previous: list[dict[str, Any]]
                       ) -> tuple[list[Source], list[str]]:
        """A failed service's earlier sources stay (neither removed now nor new later); see `carry`."""
        sources, carried = carry_forward(sources, previous, self.failed_clients)
        unchecked = sorted(self.clients[name].service for name in self.failed_clients if name in self.clients)
        if unchecked:
            self._notice(f"Could not check {', '.join(unchecked)} this time; {carried} earlier source(s) from "
                         "there are carried forward unchanged.")
        return sources, unchecked

    def _stage(self, ctx: RunContext, stage: str) -> None:
        ctx.set_stage(stage)
        self.emit("stage", {"stage": stage})

    def _paid(self, ctx: RunContext, usage: Usage, step_key: str) -> None:
        ctx.record_usage(usage, step_key)
        self.budget.charge(usage.cost_usd)
        self.emit("usage", {"cost_usd": self.budget.spent, "tokens": usage.input_tokens + usage.output_tokens})

    # --- plan -----------------------------------------------------------------------------

    def _plan(self, ctx: RunContext) -> list[dict[str, str]]:
        assert self.llm is not None
        llm = self.llm
        n = prompts.DEPTHS[self.params["depth"]]["sub_questions"]
        messages = prompts.plan_messages(self.params["question"], n)

        def plan() -> list[dict[str, str]]:
            # A structured call may need its one repair attempt: hold the cost of two.
            max_tokens = llm.completion_tokens()  # llm.max_tokens, fitted to the model's context
            with self.budget.hold(2 * llm.estimate_cost(messages, max_tokens), what="planning"):
                try:
                    result = self._structured(ctx, "plan", messages, prompts.ResearchPlan, max_tokens)
                except LLMOutputError:  # prose twice (clarifying questions, not JSON): search as typed
                    return [{**fallback_plan(self.params["question"]), "fallback": "1"}]
            return [sq.model_dump() for sq in result.sub_questions[: max(n, 1)]]

        planned = ctx.step("plan", plan)
        if planned and planned[0].get("fallback"):
            self._notice("The model did not return a search plan (it answered in prose twice), so mia searched "
                         "the question as typed. A stronger model (`mia config set llm.model MODEL`) plans better.")
        return planned

    def _structured(self, ctx: RunContext, key: str, messages: list[dict[str, str]], schema: type[T],
                    max_tokens: int) -> T:
        """A structured LLM call whose every response is paid for, even when the output is unusable."""
        assert self.llm is not None
        try:
            result, responses = self.llm.structured(messages, schema, max_tokens=max_tokens)
        except LLMOutputError as exc:
            for response in exc.responses:
                self._paid(ctx, response.usage, key)
            raise
        for response in responses:
            self._paid(ctx, response.usage, key)
        return result

    def _synthesis_reserve(self) -> float:
        if not self.llm:
            return 0.0
        return self.llm.estimate_cost_tokens(SYNTH_INPUT_TOKENS_GUESS, self.llm.max_tokens)

    # --- synthesize, verify, write --------------------------------------------------------

    def _synthesize(self, ctx: RunContext, sources: list[Source], claims: list[dict[str, Any]]) -> str | None:
        assert self.llm is not None
        llm, p = self.llm, self.params

        def build(input_tokens: int, level: int) -> Fitted:
            return fit_messages(question=p["question"], claims=claims, sources=sources,
                                instruction=p.get("instruction"), previous_report=(p.get("previous") or {}).get(
                                    "report"), input_tokens=input_tokens, level=level)

        def send(messages: list[dict[str, str]]) -> Any:
            with self.budget.hold(llm.estimate_cost(messages, llm.max_tokens), what="writing the report"):
                try:
                    response = llm.stream(messages, on_text=lambda piece: self.emit("text", {"text": piece}))
                except (UnusableAnswer, IncompleteStream) as exc:  # failed, but paid for: spend is never erased
                    if isinstance(exc.usage, Usage):
                        self._paid(ctx, exc.usage, "synthesize")
                    raise
                self._paid(ctx, response.usage, "synthesize")
            return response

        try:
            stored = ctx.step("synthesize", lambda: write_report(llm, build=build, context=self.context_tokens,
                                                                 send=send).as_json())
        except BudgetExceeded:
            self._notice("Budget reached before the report could be written: this is a digest of the sources.")
            return None
        self.written = Written.from_json(stored)
        if notice := problem_notice(self.written, claims_total=len(claims)):
            self._notice(notice)
        return self.written.text

    def _verify(self, sources: list[Source], body: str | None) -> dict[str, Any]:
        if body is None:
            return {"body": None, "cited": [], "removed": 0}
        body, _ = uncite_retracted(lead_with_bottom_line(clean_body(body)), sources)
        citable = [s for s in sources if not s.retracted]  # its identifiers, written out, go too
        verified = verify_citations(body, {s.number for s in citable if s.number is not None},
                                    index_of(citable).number_of)
        return {"body": verified.text, "cited": verified.cited, "removed": verified.removed,
                "identifiers_removed": verified.identifiers_removed}

    def _write(self, plan: list[dict[str, str]], sources: list[Source], claims: list[dict[str, Any]],
               verified: dict[str, Any]) -> dict[str, Any]:
        outcome = self._outcome(sources, verified)
        header = self._header(sources)
        numbered = renumber_citations(verified["body"], sources, claims + self.unverified)  # by appearance
        sources, claims = numbered.sources, numbered.claims
        verified = {**verified, "body": numbered.body, "cited": numbered.cited}
        if outcome == "cut_short":  # a notice, so the person sees why the exit code is 3, not only the file
            self._notice("This report was cut short by the budget: some searches or evidence were skipped.")
        if outcome == "uncited":
            self._notice("Nothing in this report is cited: the model's text points at none of the retrieved "
                         "sources, so treat it as unsupported. A stronger model (`mia config set llm.model "
                         "MODEL`) usually cites its evidence.")
        notes = list(self.notices)
        if outcome == "no_sources":
            report = render_digest(question=self.params["question"], header=header, sources=[], notes=notes + [
                "No source returned anything for this question, so mia wrote no report: an answer without "
                "sources would be ungrounded. Try broader wording, or other --sources."])
        elif verified["body"] is None:
            if not self.llm:
                notes.append(self.params.get("digest_notice", "Not synthesized: no LLM is configured."))
            report = render_digest(question=self.params["question"], header=header, sources=sources, notes=notes)
        else:
            report = render_report(question=self.params["question"], header=header, body=verified["body"],
                                   sources=sources, cited=verified["cited"], removed=verified["removed"],
                                   notes=notes, identifiers_removed=verified.get("identifiers_removed", 0))
        if self.search_log:
            report += "\n" + search_log.render_summary(self.search_log)
        note = self._changes_note(self.changes, new_version=self.params["report_version"])
        audit = {**self.audit, "identifiers_removed": verified.get("identifiers_removed", 0)}
        files = self.write_files({"report": report, "plan": plan, "claims": claims, "outcome": outcome,
                                  "sources": [s.model_dump(mode="json") for s in sources], "changes": note,
                                  "search_log": self.search_log})
        return {"outcome": outcome, "report": report, "files": files, "sources": len(sources),
                "citations_removed": verified["removed"], "notices": notes, "changes": self.changes,
                "audit": audit}

    def _write_unchanged(self, plan: list[dict[str, str]], changes: dict[str, Any]) -> dict[str, Any]:
        """Nothing material changed: only the changes note is written; the report stays as it was."""
        note = self._changes_note(changes, new_version=None)
        files = self.write_files({"report": None, "plan": plan, "claims": None, "outcome": "unchanged",
                                  "sources": None, "changes": note})
        return {"outcome": "unchanged", "report": note or "", "files": files, "sources": changes["checked"],
                "citations_removed": 0, "notices": list(self.notices), "changes": changes}

    def _changes_note(self, changes: dict[str, Any] | None, *, new_version: int | None) -> str | None:
        if changes is None:
            return None
        return render_changes(changes, slug=self.params["slug"], date=self.params["date"],
                              previous_version=self.params["report_version"] - 1, new_version=new_version)

    def _outcome(self, sources: list[Source], verified: dict[str, Any]) -> str:
        if not sources:
            return "no_sources"
        if self.budget.cut_short:
            return "cut_short"
        if not self.llm:
            return "digest"
        if self.no_evidence:
            return "no_evidence"
        if self.written is not None and self.written.problem:
            return "not_synthesized"
        if verified["body"] is not None and not verified["cited"]:
            return "uncited"
        return "truncated" if self.written is not None and self.written.truncated else "complete"

    def _header(self, sources: list[Source]) -> str:
        p = self.params
        kinds = count_by_kind(sources) or "none"
        return (f"Research agent {p['slug']} · report v{p['report_version']} · {p['date']} · "
                f"{len(sources)} sources ({kinds})")

    def _notice(self, message: str) -> None:
        if message not in self.notices:
            self.notices.append(message)
            self.emit("notice", {"message": message})


def fallback_plan(question: str) -> dict[str, str]:
    """The one sub-question of a run without a plan: the question as typed (the query cut at a word, 300 chars)."""
    query = question if len(question) <= 300 else question[:300].rsplit(" ", 1)[0]
    return {"question": question, "query": query}


__all__ = ["PIPELINE_VERSION", "SOURCES_PER_EXTRACT", "ResearchPipeline", "RunOutput", "collate", "run_store"]
