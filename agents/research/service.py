"""Spawning and resuming research agents: input checks, records, clients, the run, the files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mia import __version__
from mia.agents.llm import profile as profiles
from mia.agents.llm.client import LLMClient
from mia.agents.research.budget import Budget
from mia.agents.research.engine import execute
from mia.agents.research.fulltext import FullTextReader
from mia.agents.research.pipeline import PIPELINE_VERSION, EventSink, ResearchPipeline, RunOutput
from mia.agents.research.synthesis import context_tokens
from mia.errors import MiaError, MissingCredentialError, RunConflict, SourcesUnreachable, UsageError
from mia.filters import SearchFilters
from mia.models import Usage
from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store import runs as run_store
from mia.store.db import Registry
from mia.store.mirror import auto_push
from mia.store.workspace import Workspace, write_atomic, write_json
from mia.tools.fulltext import EuropePMCFullText
from mia.tools.local_files import FileLibrary, FileSearch, expand_paths
from mia.tools.rerank import WorkersAIReranker
from mia.tools.search import SOURCE_NAMES, build_search_clients

MAX_QUESTION_CHARS = 4000
STATUS_BY_OUTCOME = {"complete": "done", "cut_short": "cut_short", "digest": "digest", "no_sources": "no_sources",
                     "unchanged": "unchanged", "uncited": "uncited", "no_evidence": "no_evidence",
                     "truncated": "truncated", "not_synthesized": "not_synthesized"}
# Outcomes that wrote something but not a complete cited report: the CLI exits 3 and says why (README).
INCOMPLETE = frozenset({"cut_short", "uncited", "no_evidence", "truncated", "not_synthesized"})
DIGEST_NOTICE = ("Not synthesized: no LLM is configured, so this is a digest of what the literature sources "
                 "returned for the question as typed. Set cloudflare.account_id and cloudflare.api_token "
                 "(or CLOUDFLARE_ACCOUNT_ID / CLOUDFLARE_API_TOKEN) for the full cited report.")


@dataclass
class ResearchRequest:
    """A validated `mia research` request."""

    question: str
    sources: list[str]
    depth: str
    budget_usd: float
    model: str | None = None
    name: str | None = None
    sources_explicit: bool = False
    files: list[Path] = field(default_factory=list)  # the person's own documents, copied into the agent's folder
    filters: SearchFilters = field(default_factory=SearchFilters)
    plan: list[dict[str, Any]] | None = None  # a plan the person reviewed or saved: searched as it is
    plan_usage: list[Usage] = field(default_factory=list)  # what drafting that plan cost


@dataclass
class ResearchResult:
    """How a run ended, for the front ends."""

    agent: agent_store.AgentRecord
    run_id: str
    status: str
    report: str
    report_path: Path
    sources: int
    citations_removed: int
    usage: dict[str, float]
    notices: list[str] = field(default_factory=list)
    changes: dict[str, Any] | None = None
    changes_path: Path | None = None
    audit: dict[str, int] = field(default_factory=dict)  # identifiers_removed, quotes_verified, ...


def validate_request(settings: Settings, *, question: str, sources: str | None, depth: str | None,
                     budget: float | None, model: str | None, name: str | None,
                     files: Sequence[str] = (), filters: SearchFilters | None = None) -> ResearchRequest:
    """Check the user's input before anything is written; every problem is a UsageError with a fix."""
    check_utf8(question, "The research question")
    question = " ".join(question.split())  # one line: it is the report's title and a row in `agents list`
    if not question:
        raise UsageError("The research question is empty.", 'Ask something, e.g.: mia research "DMD treatments"')
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(
            f"The research question is {len(question):,} characters long; mia takes at most {MAX_QUESTION_CHARS:,}.",
            "Ask a focused question; put background material in a file and summarise it in the question.")
    names = [s.strip().lower() for s in (sources or settings.research.sources).split(",") if s.strip()]
    unknown = [s for s in names if s not in SOURCE_NAMES]
    if unknown or not names:
        raise UsageError(f"Unknown source {', '.join(repr(u) for u in unknown) or '(none given)'}.",
                         f"Choose from: {', '.join(SOURCE_NAMES)} (comma-separated).")
    depth = depth or settings.research.depth
    if depth not in ("quick", "standard", "deep"):
        raise UsageError(f"Unknown depth '{depth}'.", "Choose quick, standard or deep.")
    budget_usd = settings.research.budget_usd if budget is None else budget
    if budget_usd < 0:
        raise UsageError(f"The budget must not be negative (got {budget_usd}).", "Example: --budget 0.50")
    if name is not None:
        try:
            agent_store.check_slug(name)
        except MiaError as exc:
            raise UsageError(exc.message, exc.hint) from None
    if model is not None and not model.strip():
        raise UsageError("--model is empty.", "Give a model id, e.g. @cf/meta/llama-3.3-70b-instruct-fp8-fast")
    paths = expand_paths(files, exclude=settings.home) if files else []
    if names == ["file"] and not paths:  # a new agent has no documents yet: it would plan, pay and find nothing
        raise UsageError("The source 'file' searches your own documents, but no documents were given.",
                         "Give them with `--files PATH` (repeat it for more), or choose other sources with "
                         "`--sources web,pubmed,europepmc,trials`.")
    if paths and "file" not in names:
        names.append("file")
    return ResearchRequest(question=question, sources=list(dict.fromkeys(names)), depth=depth,
                           budget_usd=budget_usd, model=model, name=name, sources_explicit=sources is not None,
                           files=paths, filters=filters or SearchFilters())


def check_utf8(text: str, what: str) -> None:
    """A UsageError when `text` holds bytes that were not valid UTF-8 (Python keeps them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raw = text[exc.start].encode("utf-8", "surrogateescape")
        raise UsageError(f"{what} is not valid UTF-8: byte 0x{raw.hex()} at character {exc.start + 1} is not "
                         "text.", "Retype it, or check the terminal's encoding (e.g. `export LANG=C.UTF-8`).") from None


def _llm_or_none(settings: Settings, http: httpx.Client, request_model: str | None) -> LLMClient | None:
    """The LLM client; None (digest mode) only when no LLM is configured at all and none was asked for."""
    cf = settings.cloudflare
    unconfigured = (settings.llm.provider == "workers-ai" and not cf.account_id
                    and not settings.secret("cloudflare.api_token"))
    if unconfigured and request_model is None:
        return None
    return LLMClient.from_settings(settings, http, model=request_model)


class AgentFiles:
    """Writes a run's files into the agent's folder, atomically and idempotently."""

    def __init__(self, workspace: Workspace, slug: str, version: int, stamp: str) -> None:
        self.dir = workspace.agent_dir(slug)
        self.version, self.stamp = version, stamp

    def __call__(self, data: dict[str, Any]) -> dict[str, str]:
        files = {"report": str(self.dir / "report.md")}
        if data.get("changes"):
            changes = self.dir / "changes" / f"{self.stamp}.md"
            write_atomic(changes, data["changes"])
            files["changes"] = str(changes)
        if data["report"] is not None:
            files.update(self._write_report(data))
        return files

    def _write_report(self, data: dict[str, Any]) -> dict[str, str]:
        report_path = self.dir / "report.md"
        write_atomic(self.dir / "reports" / f"v{self.version}.md", data["report"])
        write_json(self.dir / "sources.json", data["sources"])
        write_json(self.dir / "plan.json", data["plan"])
        if data.get("search_log") is not None:
            write_json(self.dir / "search_log.json", data["search_log"])
        write_json(self.dir / "evidence" / "claims.json", data["claims"])
        write_atomic(self.dir / "evidence" / "evidence.md", evidence_markdown(data["claims"], data.get("plan")))
        write_atomic(report_path, data["report"])
        return {"report": str(report_path), "version": str(self.dir / "reports" / f"v{self.version}.md")}


def evidence_markdown(claims: list[dict[str, Any]], plan: list[dict[str, Any]] | None = None) -> str:
    """evidence.md: the claims given to synthesis grouped by sub-question (each claim once), then those left
    out because their quote was not found."""
    def line(c: dict[str, Any]) -> str:
        moved = f" (named [{c['cited_as']}], quote found in [{c['source']}])" if "cited_as" in c else ""
        where = f" (full text, {c['section']})" if c.get("section") else ""
        return f"- {c['claim']} [{c['source']}]{moved}" + (f' — "{c["quote"]}"{where}' if c.get("quote") else "")

    seen: set[tuple[str, Any]] = set()
    unique = []
    for claim in claims:
        key = (" ".join(str(claim.get("claim", "")).split()).casefold(), claim.get("source"))
        if key not in seen:
            seen.add(key)
            unique.append(claim)
    kept = _by_sub_question([c for c in unique if c.get("quote_check") != "not_found"], plan or [], line)
    left = [line(c) for c in unique if c.get("quote_check") == "not_found"]
    text = "# Evidence\n\n" + (kept or "_No claim with a verified quote._") + "\n"
    if left:
        text += "\n## Left out: quote not found in any retrieved source\n\n" + "\n".join(left) + "\n"
    return text


def _by_sub_question(claims: list[dict[str, Any]], plan: list[dict[str, Any]], line: Any) -> str:
    groups: dict[Any, list[str]] = {}
    for claim in claims:
        groups.setdefault(claim.get("sub_question"), []).append(line(claim))
    parts = []
    for index, lines in sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        if isinstance(index, int) and 0 <= index < len(plan):
            parts.append(f"## {index + 1}. {plan[index].get('question', '')}".rstrip())
        elif len(groups) > 1:
            parts.append("## Other")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def spawn_research(settings: Settings, registry: Registry, request: ResearchRequest, *, http: httpx.Client,
                   on_event: EventSink, clients: dict[str, Any] | None = None,
                   purpose: str = "research") -> ResearchResult:
    """Create the agent and its first run, then execute it; an early failure leaves nothing behind.

    `clients` replaces the search clients built from the settings (the eval's offline index); `purpose`
    "eval" keeps the agent out of the user's lists.
    """
    llm = _llm_or_none(settings, http, request.model)
    if clients is None:
        clients, notices = build_search_clients(settings, http, request.sources)
    else:
        notices = []
    if request.sources_explicit and "web" in request.sources and "web" not in clients:
        raise MissingCredentialError(
            "The web source needs a Perplexity API key, and none is set.",
            "Set it with `mia config set perplexity.api_key` (you will be prompted) or export PERPLEXITY_API_KEY.")
    workspace = Workspace(settings.workspace_root)
    agent = agent_store.create_agent(
        registry, question=request.question, sources=request.sources, depth=request.depth,
        model=llm.model if llm else "", budget_usd=request.budget_usd, slug=request.name, purpose=purpose,
        filters=request.filters.model_dump(exclude_defaults=True))
    if not request.filters.is_empty():
        notices.append(request.filters.describe())
    if "file" in request.sources:
        try:
            search, skipped = add_request_files(settings, workspace.agent_dir(agent.slug), request.files)
        except BaseException:  # a disk filling up, Ctrl+C: no half-made agent and no half-copied file
            agent_store.delete_agent(registry, agent.id)
            workspace.remove_agent(agent.slug)
            raise
        clients = {"file": search, **clients}  # first, as build_search_clients orders it for later runs
        notices += skipped
    params = {"question": request.question, "slug": agent.slug, "depth": request.depth,
              "sources": request.sources, "report_version": 1, "notices": notices,
              "date": datetime.now(UTC).date().isoformat(), "mode": "full" if llm else "digest",
              "digest_notice": DIGEST_NOTICE, "stamp": stamp_now(),
              "filters": request.filters.model_dump(exclude_defaults=True)}
    if request.plan:
        params["plan"] = request.plan
    run = run_store.create_run(registry, agent_id=agent.id, kind="research", params=params,
                               code_version=f"{__version__}/{PIPELINE_VERSION}")
    for usage in request.plan_usage:  # the reviewed plan's drafting is this run's spend
        run_store.record_usage(registry, usage, run_id=run.id, agent_id=agent.id, step_key="plan")
    on_event("agent", {"name": agent.slug, "id": agent.id})
    for notice in notices:
        on_event("notice", {"message": notice})
    if llm is None:  # said once here; the digest carries the same words once
        on_event("notice", {"message": DIGEST_NOTICE})
    try:
        return execute_run(settings, registry, workspace, agent, run.id, llm, clients, on_event)
    except MiaError as exc:
        nothing_done = not any(s["status"] == "done" for s in run_store.run_steps(registry, run.id))
        if nothing_done and not isinstance(exc, SourcesUnreachable):  # unreachable: kept to resume later
            run_store.keep_spend(registry, agent.id)  # what was paid for stays in `mia usage`
            agent_store.delete_agent(registry, agent.id)  # nothing was learned: leave no half-made agent
            workspace.remove_agent(agent.slug)
            if exc.hint and f"mia agents resume {agent.slug}" in exc.hint:  # that agent is gone now
                exc.hint = "Fix the cause, then run the same `mia research` command again."
        raise


def add_request_files(settings: Settings, agent_dir: Path, files: list[Path]) -> tuple[FileSearch, list[str]]:
    """Copy the request's documents into the new agent's folder: the `file` source that searches them, and a
    notice for each document skipped."""
    library = FileLibrary(agent_dir)
    outcome = library.add(files, max_bytes=int(settings.files.max_mb * 1_000_000))
    notices = list(outcome.skipped)
    if files and not outcome.added:
        notices.append("None of the given files could be read: this research uses the other sources only.")
    return FileSearch(library), notices


def apply_filters(clients: dict[str, Any], filters: dict[str, Any] | None) -> None:
    """Give every search client the run's filters (sent to the service where it can filter, else checked)."""
    chosen = SearchFilters.model_validate(filters or {})
    for client in clients.values():
        if hasattr(client, "filters"):
            client.filters = chosen


def stamp_now() -> str:
    """A file-name-safe UTC timestamp, e.g. 20261122T0815Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def resume_research(settings: Settings, registry: Registry, ref: str, *, http: httpx.Client,
                    on_event: EventSink, run_id: str | None = None) -> ResearchResult:
    """Continue an agent's unfinished run (its latest, or `run_id`); finished steps are not repeated."""
    agent = agent_store.get_agent(registry, ref)
    run = run_store.get_run(registry, run_id) if run_id else run_store.latest_run(registry, agent.id)
    if run is None or run.status in run_store.CLOSED:
        raise RunConflict(f"Agent '{agent.slug}' has no unfinished run to resume.",
                          f"Run it again with `mia agents rerun {agent.slug}` (add --instruction TEXT to steer it).")
    if not run.code_version.endswith(PIPELINE_VERSION):
        raise RunConflict(f"This run was started by another version of the pipeline ({run.code_version}).",
                          f"Run the agent again with `mia agents rerun {agent.slug}`.")
    params = run.params
    llm = LLMClient.from_settings(settings, http, model=agent.model) if params["mode"] == "full" else None
    clients, _ = build_search_clients(settings, http, params["sources"],
                                      agent_dir=Workspace(settings.workspace_root).agent_dir(agent.slug))
    return execute_run(settings, registry, Workspace(settings.workspace_root), agent, run.id, llm, clients, on_event)


def execute_run(settings: Settings, registry: Registry, workspace: Workspace, agent: agent_store.AgentRecord,
             run_id: str, llm: LLMClient | None, clients: dict[str, Any], on_event: EventSink) -> ResearchResult:
    run = run_store.get_run(registry, run_id)
    params = run.params
    apply_filters(clients, params.get("filters"))
    spent = run_store.run_spend(registry, run_id)["cost_usd"]
    pipeline = ResearchPipeline(
        params=params, llm=llm, clients=clients, budget=Budget(agent.budget_usd, spent),
        write_files=AgentFiles(workspace, agent.slug, params["report_version"], params.get("stamp", run_id)),
        concurrency=settings.research.concurrency, on_event=_status_updater(registry, agent.id, on_event),
        context_tokens=context_tokens(settings, llm), fulltext=_full_text_reader(settings, workspace, agent, clients),
        reranker=_reranker(settings, llm))
    agent_store.set_status(registry, agent.id, "running", last_run_id=run_id, last_run_at=run.created_at)
    try:
        output: RunOutput = execute(registry, run_id, pipeline)
    except KeyboardInterrupt:
        agent_store.set_status(registry, agent.id, "interrupted")
        raise
    except MiaError as exc:
        agent_store.set_status(registry, agent.id, "failed")
        exc.hint = exc.hint or f"Resume with `mia agents resume {agent.slug}` once the cause is fixed."
        raise
    status = STATUS_BY_OUTCOME[output.outcome]
    run_store.finish_run(registry, run_id, status="succeeded", outcome=output.outcome)
    version = agent.report_version if output.outcome == "unchanged" else params["report_version"]
    agent_store.set_status(registry, agent.id, "done" if status == "unchanged" else status, report_version=version)
    usage = run_store.run_spend(registry, run_id)
    _write_run_record(workspace, agent.slug, run_id, {**params, "report_version": version}, output, usage)
    if settings.sync.auto and (notice := auto_push(settings, registry, agent.slug)):
        on_event("notice", {"message": notice})  # the mirror failing never fails a finished run
    return ResearchResult(
        agent=agent_store.get_agent(registry, agent.id), run_id=run_id, status=status, report=output.report,
        report_path=Path(output.files["report"]), sources=output.sources,
        citations_removed=output.citations_removed, usage=usage,
        notices=output.notices, changes=output.changes,
        changes_path=Path(output.files["changes"]) if "changes" in output.files else None,
        audit=audit_counts(output))


def audit_counts(output: RunOutput) -> dict[str, int]:
    """What the citation and quote checks found, with every key present (0 when a step did not run)."""
    keys = ("identifiers_removed", "quotes_verified", "quotes_unverified", "claims_reattributed")
    return {key: int(output.audit.get(key, 0)) for key in keys}


def _full_text_reader(settings: Settings, workspace: Workspace, agent: agent_store.AgentRecord,
                      clients: dict[str, Any]) -> FullTextReader | None:
    """Open full text from Europe PMC, cached in the agent's folder, when the run searches the literature."""
    literature = clients.get("europepmc") or clients.get("pubmed")
    http = getattr(literature, "http", None)  # the eval's offline index has none: it reads no full text
    if not isinstance(http, httpx.Client):
        return None
    client = EuropePMCFullText(http=http, base_url=settings.europepmc.base_url)
    return FullTextReader(client, workspace.agent_dir(agent.slug) / "fulltext")


def _reranker(settings: Settings, llm: LLMClient | None) -> WorkersAIReranker | None:
    """The Workers AI reranker named by research.reranker (with the Cloudflare account the LLM settings use),
    priced through the model profile's table when it knows the model; None when unset or without an LLM."""
    model, cloudflare = settings.research.reranker.strip(), settings.cloudflare
    token = settings.secret("cloudflare.api_token")
    if not model or llm is None or not cloudflare.account_id or not token:
        return None
    prices = profiles.static_profile("workers-ai", cloudflare.api_base_url, model)
    return WorkersAIReranker(http=llm.http, base_url=cloudflare.api_base_url, account_id=cloudflare.account_id,
                             api_token=token, model=model, usd_in_per_m=prices.usd_in_per_m)


def _status_updater(registry: Registry, agent_id: str, on_event: EventSink) -> EventSink:
    def handle(kind: str, data: dict[str, Any]) -> None:
        if kind == "stage":
            agent_store.set_status(registry, agent_id, data["stage"])
        on_event(kind, data)

    return handle


def _write_run_record(workspace: Workspace, slug: str, run_id: str, params: dict[str, Any], output: RunOutput,
                      usage: dict[str, float]) -> None:
    counts = {key: int(value) if key in ("input_tokens", "output_tokens", "requests") else round(value, 6)
              for key, value in usage.items()}  # token and request counts are whole numbers
    record = {"run_id": run_id, "question": params["question"], "report_version": params["report_version"],
              "outcome": output.outcome, "status": STATUS_BY_OUTCOME.get(output.outcome, output.outcome),
              "sources": int(output.sources), "citations_removed": int(output.citations_removed),
              **audit_counts(output), "usage": counts, "notices": output.notices}
    write_atomic(workspace.agent_dir(slug) / "runs" / f"{run_id}.json", json.dumps(record, indent=2) + "\n")
