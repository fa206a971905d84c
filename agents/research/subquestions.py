"""The searches and evidence extraction of each sub-question (moved out of `pipeline`, unchanged)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mia.agents.llm.client import LLMOutputError
from mia.agents.research import prompts, search_log
from mia.agents.research.dedupe import collate, unique_queries
from mia.agents.research.fulltext import check_with_full_text
from mia.agents.research.levels import retraction_notice, withhold_retracted
from mia.agents.research.planning import query_for
from mia.agents.research.ranking import rank_sources
from mia.errors import BudgetExceeded, ContextLengthExceeded, ServiceError, SourcesUnreachable
from mia.models import Source
from mia.tools.passages import Passage
from mia.tools.search import SearchResult

if TYPE_CHECKING:
    from mia.agents.research.engine import RunContext
    from mia.agents.research.pipeline import ResearchPipeline

SOURCES_PER_EXTRACT = 8


def search(p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]]
           ) -> tuple[list[Source], dict[int, list[int]]]:
    results_per = prompts.DEPTHS[p.params["depth"]]["results"]
    tasks = [(i, name, query_for(sq, name)) for i, sq in enumerate(plan) for name in p.clients]
    tally = SearchTally()

    def one(task: tuple[int, str, str]) -> dict[str, Any] | None:
        i, name, query = task
        key = f"search/{name}/{i}"
        service = p.clients[name].service
        if service in tally.silent:  # it did not answer before: do not wait for it again
            tally.failed += 1
            p.failed_clients.add(name)
            problems[task] = ("skipped", f"{service} did not answer an earlier search")
            return None
        try:
            output = ctx.step(key, lambda: search_call(p, ctx, key, name, query, results_per))
        except BudgetExceeded:
            tally.over_budget.append(service)
            problems[task] = ("skipped", "budget reached")
            return None
        except ServiceError as exc:
            problems[task] = ("failed", exc.message)
            tally.failed += 1
            p.failed_clients.add(name)
            tally.failures.setdefault(service, exc.message)
            if exc.status is None and exc.retryable:  # no answer at all (timeout, refused, offline)
                if service not in tally.silent:
                    tally.silent.add(service)
                    p._notice(f"{service} did not answer and was skipped: {exc.message}")
            else:
                p._notice(f"{service} search failed and was skipped: {exc.message}")
            return None
        tally.done += 1
        p.emit("search", {"done": tally.done, "total": len(tasks)})
        return output

    problems: dict[tuple[int, str, str], tuple[str, str]] = {}  # for the search log
    first = unique_queries(tasks)  # the same query for two sub-questions is searched (and paid) once
    unique = sorted(set(first.values()))
    with ThreadPoolExecutor(max_workers=p.concurrency, thread_name_prefix="search") as pool:
        searched = dict(zip(unique, pool.map(one, [tasks[n] for n in unique]), strict=True))
    outputs = [searched[first[n]] for n in range(len(tasks))]
    p.search_log = search_log.build_log(
        [tasks[n] for n in unique], [searched[n] for n in unique],
        {name: client.service for name, client in p.clients.items()},
        {n: problems[tasks[n]] for n in unique if tasks[n] in problems})
    if tally.over_budget:
        p._notice(tally.budget_summary())
    extra = p.params.get("extra_sources") or []
    if tasks and tally.failed == len(unique) and not extra:
        raise unreachable(p, tally.failures)
    if extra:  # given, not searched (a reply to outreach mail): numbered first, read with the last question
        tasks, outputs = [(len(plan) - 1, "given", ""), *tasks], [{"sources": extra}, *outputs]
    return collate(tasks, outputs)


def unreachable(p: ResearchPipeline, failures: dict[str, str]) -> SourcesUnreachable:
    """Every search failed: say so (this is not "no results"), and how to go on."""
    names = ", ".join(failures)
    reasons = "; ".join(f"{service}: {why}" for service, why in failures.items())
    return SourcesUnreachable(
        f"mia could not reach any source ({names}), so this run found nothing and wrote no report. {reasons}",
        f"Check the network and the services with `mia doctor`, then continue this run with "
        f"`mia agents resume {p.params['slug']}`.", failures=failures)


def search_call(p: ResearchPipeline, ctx: RunContext, key: str, name: str, query: str, n: int) -> dict[str, Any]:
    client = p.clients[name]
    price = getattr(client, "price_per_request", 0.0)
    reserve = p._synthesis_reserve() if price else 0.0
    with p.budget.hold(price, reserve_usd=reserve, what=f"a {client.service} search"):
        result: SearchResult = client.search(query, max_results=n)
        p._paid(ctx, result.usage, key)
    return {"sources": [s.model_dump(mode="json") for s in result.sources], "total": result.total,
            "searched_at": search_log.now()}


def extract(p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]], sources: list[Source],
            by_subq: dict[int, list[int]]) -> list[dict[str, Any]]:
    by_number = {s.number: s for s in sources}
    over_budget: list[int] = []  # sub-questions whose extraction the budget skipped: one notice for all

    def one(i: int) -> list[dict[str, Any]]:
        candidates = [by_number[n] for n in by_subq.get(i, [])]
        if not candidates:
            return []
        query = f"{plan[i]['question']} {plan[i].get('query', '')}"
        batch = rank_sources(query, candidates, SOURCES_PER_EXTRACT)  # the best get the extraction budget
        shown = p.fulltext.read(ctx, batch, query) if p.fulltext else {}  # open full text, ranked
        p.full_text_shown.update(shown)
        try:
            return ctx.step(f"extract/{i}",
                            lambda: extract_fitting(p, ctx, i, plan[i]["question"], batch, shown))
        except BudgetExceeded:
            over_budget.append(i + 1)
        except LLMOutputError as exc:
            p._notice(f"Evidence for sub-question {i + 1} was skipped: {exc.message}")
        except ContextLengthExceeded:  # a run never fails (nor resumes into the same failure) for one prompt
            p._notice(f"Evidence for sub-question {i + 1} was skipped: even one source did not fit the "
                      "model's context window. Set its size with `mia config set llm.context_tokens N`, or "
                      "lower `llm.max_tokens`.")
        return []

    with ThreadPoolExecutor(max_workers=p.concurrency, thread_name_prefix="extract") as pool:
        per_subq = list(pool.map(one, range(len(plan))))
    if over_budget:
        numbers = ", ".join(str(n) for n in sorted(over_budget))
        p._notice(f"Budget reached: evidence for sub-question{'s' if len(over_budget) > 1 else ''} "
                  f"{numbers} was not extracted.")
    checked = check_with_full_text([claim for claims in per_subq for claim in claims], sources,
                                   p.full_text_shown)
    p.audit.update(checked.counts())
    kept, withheld = withhold_retracted(checked.kept, sources)  # a retracted article supports nothing
    p.unverified = checked.dropped + withheld
    if notice := checked.dropped_notice():
        p._notice(notice)
    if notice := retraction_notice(sources, len(withheld)):
        p._notice(notice)
    return kept


def extract_fitting(p: ResearchPipeline, ctx: RunContext, i: int, sub_question: str, batch: list[Source],
                    shown: dict[int, list[Passage]]) -> list[dict[str, Any]]:
    """`extract_call`, with half the sources after each context error (full text makes prompts long)."""
    while True:
        try:
            return extract_call(p, ctx, i, sub_question, batch, shown)
        except ContextLengthExceeded:
            if len(batch) <= 1:
                raise
            batch = batch[: len(batch) // 2]


def extract_call(p: ResearchPipeline, ctx: RunContext, i: int, sub_question: str, batch: list[Source],
                 shown: dict[int, list[Passage]]) -> list[dict[str, Any]]:
    assert p.llm is not None
    messages = prompts.extract_messages(p.params["question"], sub_question, batch, shown)
    max_tokens = p.llm.completion_tokens()  # llm.max_tokens, fitted to the model's context
    with p.budget.hold(2 * p.llm.estimate_cost(messages, max_tokens),
                       reserve_usd=p._synthesis_reserve(), what="evidence extraction"):
        result = p._structured(ctx, f"extract/{i}", messages, prompts.Extraction, max_tokens)
    # A claim naming a source outside the batch is kept: the quote check re-attributes or drops it.
    return [{**c.model_dump(), "sub_question": i} for c in result.claims]


@dataclass
class SearchTally:
    """How the searches of one stage ended."""

    done: int = 0
    failed: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # service -> the first failure's message
    silent: set[str] = field(default_factory=set)  # services that did not answer at all
    over_budget: list[str] = field(default_factory=list)  # one entry per search skipped by the budget

    def budget_summary(self) -> str:
        counts: dict[str, int] = {}
        for service in self.over_budget:
            counts[service] = counts.get(service, 0) + 1
        n = len(self.over_budget)
        per = ", ".join(f"{service} {count}" for service, count in counts.items())
        return f"Budget reached: skipped {n} search{'es' if n != 1 else ''} ({per})."
