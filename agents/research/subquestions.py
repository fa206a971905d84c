"""The pipeline per sub-question: its searches, then (as soon as they are in) rank -> read -> extract.

`search_and_extract` starts a sub-question's extraction the moment its own searches are in, so the slowest
source of one sub-question no longer holds back every other extraction; synthesis waits for all of them.
Every step stays durable and keyed as before (`search/<client>/<i>`, `fulltext/<PMCID>`, `extract/<i>`), and
with `research.reranker` set, `rerank/<i>`: a Workers AI reranker orders BM25's best sources before reading.

Source numbers never depend on which search finished first: they are given once every search is in, in task
order (`dedupe.collate`). An extraction that starts earlier shows the model its sub-question's own sources
numbered locally (1.. in the order its searches found them, `Searched.candidates`), and its claims are
translated to the run's numbers afterwards through the sources' identifier keys, so a fresh run and a resumed
one write the same sources.json, claims and report.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mia.agents.llm.client import LLMOutputError, estimate_tokens
from mia.agents.research import prompts, search_log
from mia.agents.research.dedupe import collate, index_of, unique_queries
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
RERANK_POOL = 2  # a reranker orders BM25's best SOURCES_PER_EXTRACT * RERANK_POOL sources
Task = tuple[int, str, str]  # (sub-question, search client name, query)


@dataclass
class Searched:
    """Every search of a stage: its tasks and outputs (None: failed or skipped), the run's numbered sources."""

    tasks: list[Task]
    outputs: list[dict[str, Any] | None]
    sources: list[Source]

    def candidates(self, i: int) -> list[Source]:
        """Sub-question `i`'s own sources, numbered locally 1.. in the order its searches found them."""
        return _local(self.tasks, self.outputs, i)


@dataclass
class Extracted:
    """One sub-question's extraction, in its local numbers (see `Searched.candidates`)."""

    candidates: list[Source] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    shown: dict[int, list[Passage]] = field(default_factory=dict)
    problem: str | None = None  # "budget", or why the model's answer was unusable
    rerank_problem: str | None = None  # why the reranker failed (BM25 order was used)


def _local(tasks: list[Task], outputs: list[dict[str, Any] | None], i: int) -> list[Source]:
    own = [(task, output) for task, output in zip(tasks, outputs, strict=True) if task[0] == i]
    return collate([task for task, _ in own], [output for _, output in own])[0]


class _Searches:
    """The searches of one stage: each (client, query) searched once, failures tallied for notices and the log."""

    def __init__(self, p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]]) -> None:
        self.p, self.ctx, self.plan = p, ctx, plan
        self.results_per = prompts.DEPTHS[p.params["depth"]]["results"]
        self.tasks: list[Task] = [(i, name, query_for(sq, name)) for i, sq in enumerate(plan) for name in p.clients]
        self.first = unique_queries(self.tasks)  # the same query for two sub-questions is searched (and paid) once
        self.unique = sorted(set(self.first.values()))
        self.tally = SearchTally()
        self.problems: dict[Task, tuple[str, str]] = {}  # for the search log
        self.extra: list[dict[str, Any]] = self.p.params.get("extra_sources") or []

    def waiting(self) -> dict[int, set[int]]:
        """For each sub-question, the unique searches it waits for."""
        return {i: {self.first[n] for n, task in enumerate(self.tasks) if task[0] == i} for i in range(len(self.plan))}

    def all(self, searched: dict[int, dict[str, Any] | None]) -> tuple[list[Task], list[dict[str, Any] | None]]:
        """Every task with its output (a shared query's output for each task), given sources first."""
        tasks, outputs = list(self.tasks), [searched.get(self.first[n]) for n in range(len(self.tasks))]
        if self.extra:  # given, not searched (a reply to outreach mail): numbered first, read with the last question
            tasks, outputs = [(len(self.plan) - 1, "given", ""), *tasks], [{"sources": self.extra}, *outputs]
        return tasks, outputs

    def one(self, task: Task) -> dict[str, Any] | None:
        p, tally = self.p, self.tally
        i, name, query = task
        key = f"search/{name}/{i}"
        service = p.clients[name].service
        if service in tally.silent:  # it did not answer before: do not wait for it again
            tally.failed += 1
            p.failed_clients.add(name)
            self.problems[task] = ("skipped", f"{service} did not answer an earlier search")
            return None
        try:
            output = self.ctx.step(key, lambda: search_call(p, self.ctx, key, name, query, self.results_per))
        except BudgetExceeded:
            tally.over_budget.append(service)
            self.problems[task] = ("skipped", "budget reached")
            return None
        except ServiceError as exc:
            self.problems[task] = ("failed", exc.message)
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
        p.emit("search", {"done": tally.done, "total": len(self.tasks)})
        return output

    def finish(self, searched: dict[int, dict[str, Any] | None]) -> Searched:
        """The stage's search log, notices and numbered sources, once every search is in."""
        p, tally, tasks = self.p, self.tally, self.tasks
        p.search_log = search_log.build_log(
            [tasks[n] for n in self.unique], [searched[n] for n in self.unique],
            {name: client.service for name, client in p.clients.items()},
            {n: self.problems[tasks[n]] for n in self.unique if tasks[n] in self.problems})
        if tally.over_budget:
            p._notice(tally.budget_summary())
        if tasks and tally.failed == len(self.unique) and not self.extra:
            raise unreachable(p, tally.failures)
        all_tasks, outputs = self.all(searched)
        return Searched(all_tasks, outputs, collate(all_tasks, outputs)[0])


def search(p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]]) -> Searched:
    """Every search of `plan`'s sub-questions, side by side; raises SourcesUnreachable when all of them failed."""
    run = _Searches(p, ctx, plan)
    with ThreadPoolExecutor(max_workers=p.concurrency, thread_name_prefix="search") as pool:
        searched = dict(zip(run.unique, pool.map(run.one, [run.tasks[n] for n in run.unique]), strict=True))
    return run.finish(searched)


def search_and_extract(p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]]
                       ) -> tuple[Searched, list[dict[str, Any]]]:
    """Search every sub-question and extract each one's evidence as soon as its own searches are in.

    Returns the stage's sources and the checked claims (in the run's numbers), as `search` then `extract`
    would; raises SourcesUnreachable when every search failed."""
    run = _Searches(p, ctx, plan)
    waiting = run.waiting()
    searched: dict[int, dict[str, Any] | None] = {}
    extracting: dict[int, Future[Extracted]] = {}
    with ThreadPoolExecutor(max_workers=p.concurrency, thread_name_prefix="search") as searches, \
            ThreadPoolExecutor(max_workers=p.concurrency, thread_name_prefix="extract") as extractions:

        def start(i: int) -> None:  # sub-question i's searches are all in
            extracting[i] = extractions.submit(extract_one, p, ctx, plan, i, _local(*run.all(searched), i))

        for i in [i for i, need in waiting.items() if not need]:
            start(i)
        futures = {searches.submit(run.one, run.tasks[n]): n for n in run.unique}
        for future in as_completed(futures):
            n = futures[future]
            searched[n] = future.result()
            for i, need in waiting.items():
                if n in need:
                    need.discard(n)
                    if not need:
                        start(i)
        result = run.finish(searched)
        p.emit("sources", {"count": len(result.sources)})
        if result.sources:
            p._stage(ctx, "extracting")
        done = {i: extracting[i].result() for i in sorted(extracting)}
    return result, join(p, result.sources, done)


def extract(p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]], searched: Searched,
            sources: list[Source]) -> list[dict[str, Any]]:
    """Every sub-question's evidence from its searched sources, side by side; claims in `sources`' numbers."""
    with ThreadPoolExecutor(max_workers=p.concurrency, thread_name_prefix="extract") as pool:
        done = list(pool.map(lambda i: extract_one(p, ctx, plan, i, searched.candidates(i)), range(len(plan))))
    return join(p, sources, dict(enumerate(done)))


def extract_one(p: ResearchPipeline, ctx: RunContext, plan: list[dict[str, str]], i: int,
                candidates: list[Source]) -> Extracted:
    """Rank sub-question `i`'s candidates, read the open full text of the best, extract (step `extract/<i>`)."""
    if not candidates:
        return Extracted()
    query = f"{plan[i]['question']} {plan[i].get('query', '')}"
    out = Extracted(candidates=candidates)
    # The best get the extraction budget: BM25 always; a reranker model, when configured, orders BM25's best.
    batch = rank_sources(query, candidates, SOURCES_PER_EXTRACT * (RERANK_POOL if p.reranker else 1))
    if p.reranker:
        batch, out.rerank_problem = rerank(p, ctx, i, query, batch)
    batch = batch[:SOURCES_PER_EXTRACT]
    shown = out.shown = p.fulltext.read(ctx, batch, query) if p.fulltext else {}  # open full text, ranked
    try:
        out.claims = ctx.step(f"extract/{i}",
                              lambda: extract_fitting(p, ctx, i, plan[i]["question"], batch, shown))
    except BudgetExceeded:
        out.problem = "budget"
    except LLMOutputError as exc:
        out.problem = exc.message
    except ContextLengthExceeded:  # a run never fails (nor resumes into the same failure) for one prompt
        out.problem = ("even one source did not fit the model's context window. Set its size with "
                       "`mia config set llm.context_tokens N`, or lower `llm.max_tokens`.")
    return out


def join(p: ResearchPipeline, sources: list[Source], done: dict[int, Extracted]) -> list[dict[str, Any]]:
    """The sub-questions' claims in the run's numbers, quote-checked, retracted sources withheld; notices in
    sub-question order (never in the order the extractions finished)."""
    index = index_of(sources)
    claims: list[dict[str, Any]] = []
    over_budget: list[int] = []  # sub-questions whose extraction the budget skipped: one notice for all
    for i, one in sorted(done.items()):
        number_of = {s.number: index.number_of(s.keys) for s in one.candidates}
        for claim in one.claims:  # a number outside the candidates is kept: the quote check decides
            local = claim.get("source")
            claims.append({**claim, "source": number_of.get(local, local) if isinstance(local, int) else local})
        for local, passages in one.shown.items():
            if (number := number_of.get(local)) is not None:
                p.full_text_shown[number] = passages
        if one.problem == "budget":
            over_budget.append(i + 1)
        elif one.problem:
            p._notice(f"Evidence for sub-question {i + 1} was skipped: {one.problem}")
    reranker_notice(p, {i + 1: one.rerank_problem for i, one in done.items() if one.rerank_problem})
    if over_budget:
        numbers = ", ".join(str(n) for n in over_budget)
        p._notice(f"Budget reached: evidence for sub-question{'s' if len(over_budget) > 1 else ''} "
                  f"{numbers} was not extracted.")
    checked = check_with_full_text(claims, sources, p.full_text_shown)
    p.audit.update(checked.counts())
    kept, withheld = withhold_retracted(checked.kept, sources)  # a retracted article supports nothing
    p.unverified = checked.dropped + withheld
    if notice := checked.dropped_notice():
        p._notice(notice)
    if notice := retraction_notice(sources, len(withheld)):
        p._notice(notice)
    return kept


def unreachable(p: ResearchPipeline, failures: dict[str, str]) -> SourcesUnreachable:
    """Every search failed: say so (this is not "no results"), and how to go on."""
    names = ", ".join(failures)
    reasons = "; ".join(why if why.startswith(service) else f"{service}: {why}" for service, why in failures.items())
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

def rerank(p: ResearchPipeline, ctx: RunContext, i: int, query: str, ranked: list[Source]
           ) -> tuple[list[Source], str | None]:
    """BM25's best `ranked` in the reranker model's order (durable step `rerank/<i>`, paid like other model
    calls), a reply to the agent's own mail still first; on a failure, `ranked` as it was and why."""
    assert p.reranker is not None
    reranker = p.reranker
    given = [s for s in ranked if s.kind == "correspondence"]
    rest = [s for s in ranked if s.kind != "correspondence"]
    if len(rest) <= 1:
        return ranked, None

    def call() -> dict[str, Any]:
        texts = [f"{s.title}\n{s.snippet}" for s in rest]
        estimate = sum(len(t) for t in texts) / 4 * (reranker.usd_in_per_m or 0.0) / 1e6
        try:
            with p.budget.hold(estimate, reserve_usd=p._synthesis_reserve(), what="reranking"):
                result = reranker.rerank(query, texts)
                p._paid(ctx, result.usage, f"rerank/{i}")
        except (ServiceError, BudgetExceeded) as exc:  # stored too: a resumed run reads what this one read
            return {"model": reranker.model, "order": None, "failed": exc.message}
        return {"model": reranker.model, "order": result.order}

    stored = ctx.step(f"rerank/{i}", call)
    if stored.get("failed"):
        return ranked, str(stored["failed"])
    order = [n for n in stored["order"] if 0 <= n < len(rest)]
    order += [n for n in range(len(rest)) if n not in set(order)]
    return [*given, *(rest[n] for n in order)], None


def reranker_notice(p: ResearchPipeline, problems: dict[int, str]) -> None:
    """One notice for every sub-question the reranker failed for (their sources were read in BM25 order)."""
    if not problems or p.reranker is None:
        return
    numbers = ", ".join(str(n) for n in sorted(problems))
    plural = "s" if len(problems) > 1 else ""
    p._notice(f"The reranker {p.reranker.model} failed ({problems[min(problems)]}), so sub-question{plural} "
              f"{numbers} read their sources in BM25 order. Check it with `mia config show` (research.reranker), "
              "or turn it off with `mia config set research.reranker ''`.")


def extract_fitting(p: ResearchPipeline, ctx: RunContext, i: int, sub_question: str, batch: list[Source],
                    shown: dict[int, list[Passage]]) -> list[dict[str, Any]]:
    """`extract_call` with the sources that fit the model's context (the lowest-ranked left out first), and half
    of them after each context error all the same (the estimate is ~4 characters a token; servers count)."""
    batch = fit_batch(p, sub_question, batch, shown)
    while True:
        try:
            return extract_call(p, ctx, i, sub_question, batch, shown)
        except ContextLengthExceeded:
            if len(batch) <= 1:
                raise
            batch = batch[: len(batch) // 2]


def fit_batch(p: ResearchPipeline, sub_question: str, batch: list[Source],
              shown: dict[int, list[Passage]]) -> list[Source]:
    """The best-ranked sources (at least one) whose extraction prompt fits the prompt budget of the context."""
    assert p.llm is not None
    budget = p.llm.profile.prompt_budget(p.llm.completion_tokens())
    while len(batch) > 1 and estimate_tokens(
            prompts.extract_messages(p.params["question"], sub_question, batch, shown)) > budget:
        batch = batch[:-1]
    return batch


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
