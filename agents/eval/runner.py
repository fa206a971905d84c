"""`mia eval pubmedqa`: research agents (depth quick, literature sources) answer labelled questions; code scores them.

Each question gets its own research agent with purpose "eval" (kept out of the user's lists) named
`eval-<eval id>-<pmid>`; the eval's record (options, model, mia version, figures, one row per question) is saved
as `MIA_HOME/evals/<eval id>.json`. `delete_eval_agents` removes the agents (and their folders) in one call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mia import __version__
from mia.agents.eval.dataset import Item, load_items, select
from mia.agents.eval.offline import OfflineLiterature
from mia.agents.eval.score import ItemScore, failed_item, figures, score_item
from mia.agents.research.service import ResearchRequest, spawn_research
from mia.errors import ConfigError, MiaError, MissingCredentialError, RegistryError, UsageError
from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store.db import Registry
from mia.store.workspace import Workspace, write_json

ONLINE_SOURCES = ["pubmed", "europepmc"]
DEPTH = "quick"
DEFAULT_USD_PER_QUESTION = 0.05  # the target for a standard report; quick runs cost less
EvalSink = Callable[[str, dict[str, Any]], None]


@dataclass
class EvalOptions:
    """A validated `mia eval pubmedqa` request; `budget_usd` caps the whole eval."""

    split: str
    n: int
    offline: bool
    model: str | None
    budget_usd: float


def validate_options(*, split: str, n: int, offline: bool, model: str | None, budget: float | None) -> EvalOptions:
    """Check the options before anything runs; every problem is a UsageError with a fix."""
    select(split, n)  # raises for an unknown split or a bad n
    if model is not None and not model.strip():
        raise UsageError("--model is empty.", "Give a model id, e.g. @cf/meta/llama-3.3-70b-instruct-fp8-fast")
    budget_usd = round(DEFAULT_USD_PER_QUESTION * n, 2) if budget is None else budget
    if budget_usd <= 0:
        raise UsageError(f"The budget must be positive (got {budget_usd}).", "Example: --budget 2.50")
    return EvalOptions(split=split, n=n, offline=offline, model=model, budget_usd=budget_usd)


def evals_dir(settings: Settings) -> Path:
    """Where eval records are saved: MIA_HOME/evals/."""
    return settings.home / "evals"


def _require_llm(settings: Settings, model: str | None) -> None:
    cf = settings.cloudflare
    if (settings.llm.provider == "workers-ai" and not cf.account_id and not settings.secret("cloudflare.api_token")
            and model is None):
        raise MissingCredentialError(
            "mia eval needs an LLM, and none is configured.",
            "Set cloudflare.account_id and cloudflare.api_token (Workers AI), or point llm.provider = openai and "
            "llm.base_url at an OpenAI-compatible server such as a local llama.cpp.")


def run_pubmedqa(settings: Settings, registry: Registry, options: EvalOptions, *, http: httpx.Client,
                 on_event: EvalSink) -> dict[str, Any]:
    """Run and score the eval; returns the saved record (also written to MIA_HOME/evals/<id>.json).

    Raises MissingCredentialError when no LLM is configured, and passes on configuration and registry errors;
    a question whose run fails otherwise is scored as wrong and the eval goes on.
    """
    _require_llm(settings, options.model)
    items = select(options.split, options.n)
    started = datetime.now(UTC)
    eval_id = started.strftime("%Y%m%dT%H%M%SZ")
    clients = {"pubmed": OfflineLiterature(load_items())} if options.offline else None
    scores: list[ItemScore] = []
    notices: list[str] = []
    model = options.model
    for index, item in enumerate(items):
        remaining = round(options.budget_usd - sum(s.cost_usd for s in scores), 6)
        if remaining <= 0:
            notices.append(f"Budget of ${options.budget_usd:.2f} reached after {index} of {len(items)} questions.")
            break
        score, model = _one(settings, registry, item, eval_id, options, clients, remaining, http, model)
        scores.append(score)
        on_event("item", {"index": index + 1, "total": len(items), "score": score.as_json()})
    record = {
        "id": eval_id, "dataset": "pubmedqa", "split": options.split, "n": options.n, "offline": options.offline,
        "depth": DEPTH, "sources": ["offline"] if options.offline else ONLINE_SOURCES,
        "model": model or settings.llm.model, "provider": settings.llm.provider, "mia_version": __version__,
        "budget_usd": options.budget_usd, "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), "figures": figures(scores),
        "notices": notices, "items": [s.as_json() for s in scores],
    }
    path = evals_dir(settings) / f"{eval_id}.json"
    write_json(path, record)
    return {**record, "path": str(path)}


def _one(settings: Settings, registry: Registry, item: Item, eval_id: str, options: EvalOptions,
         clients: dict[str, Any] | None, budget: float, http: httpx.Client,
         model: str | None) -> tuple[ItemScore, str | None]:
    """Run one question's research agent and score what it wrote; returns the score and the model used."""
    slug = f"eval-{eval_id.lower()}-{item.pmid}"
    request = ResearchRequest(question=item.question, sources=["pubmed"] if clients else ONLINE_SOURCES,
                              depth=DEPTH, budget_usd=min(budget, settings.research.budget_usd),
                              model=options.model, name=slug)
    started = time.perf_counter()
    try:
        result = spawn_research(settings, registry, request, http=http, on_event=lambda kind, data: None,
                                clients=dict(clients) if clients else None, purpose="eval")
    except (ConfigError, UsageError, RegistryError):
        raise  # the same for every question: stop and say how to fix it
    except MiaError as exc:
        cost = _agent_cost(registry, slug)
        return failed_item(pmid=item.pmid, label=item.label, error=exc.message, cost_usd=cost,
                           seconds=round(time.perf_counter() - started, 2), agent=slug), model
    seconds = round(time.perf_counter() - started, 2)
    folder = Workspace(settings.workspace_root).agent_dir(result.agent.slug)
    score = score_item(pmid=item.pmid, label=item.label, report=result.report,
                       sources=_read_list(folder / "sources.json"),
                       claims=_read_list(folder / "evidence" / "claims.json"),
                       identifiers_removed=result.citations_removed + result.audit.get("identifiers_removed", 0),
                       cost_usd=round(result.usage["cost_usd"], 6),
                       seconds=seconds, status=result.status, agent=result.agent.slug)
    return score, result.agent.model or model


def _read_list(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def _agent_cost(registry: Registry, slug: str) -> float:
    row = registry.one("SELECT COALESCE(SUM(u.cost_usd), 0) AS cost FROM usage u JOIN agents a ON a.id = u.agent_id "
                       "WHERE a.slug = ?", (slug,))
    return round(float(row["cost"]), 6) if row else 0.0


def delete_eval_agents(settings: Settings, registry: Registry, eval_id: str | None = None) -> int:
    """Delete the eval's research agents (all evals', or one eval's) with their folders; returns how many.

    Eval records under MIA_HOME/evals/ are kept: they hold the figures.
    """
    prefix = f"eval-{eval_id.lower()}-" if eval_id else "eval-"
    workspace = Workspace(settings.workspace_root)
    doomed = [a for a in agent_store.list_agents(registry, purpose="eval") if a.slug.startswith(prefix)]
    for agent in doomed:
        agent_store.delete_agent(registry, agent.id)
        workspace.remove_agent(agent.slug)
    return len(doomed)


def list_evals(settings: Settings) -> list[dict[str, Any]]:
    """The saved eval records (without their per-question rows), oldest first."""
    records = []
    for path in sorted(evals_dir(settings).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        records.append({k: v for k, v in record.items() if k != "items"} | {"path": str(path)})
    return records
