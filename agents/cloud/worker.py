"""The Worker mia deploys: the JavaScript module (template + CONFIG), its bindings, and instance params.

The module comes from `agents/cloud/templates/worker.js`; generation fills in CONFIG (prompts, JSON schemas, model,
prices, step retry policy, R2 prefix) and never a secret: the Perplexity and NCBI keys travel only as
`secret_text` bindings of the upload, and the content hash that decides whether to upload again covers a
SHA-256 of them, never their text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from mia import __version__
from mia.agents.llm.catalog import facts_for
from mia.agents.llm.profile import apply_settings, static_profile
from mia.agents.llm.shapes import neuron_rates
from mia.agents.research import prompts
from mia.agents.research.pipeline import PIPELINE_VERSION, SOURCES_PER_EXTRACT
from mia.agents.schedule.rules import Schedule, iso
from mia.settings import Settings
from mia.store.agents import AgentRecord
from mia.store.triggers import TriggerRecord

MAIN_MODULE = "index.js"
CLASS_NAME = "ResearchWorkflow"
WORKFLOW_BINDING = "RESEARCH_WF"
COMPATIBILITY_DATE = "2025-09-01"  # Workflows need >= 2024-10-22
PLACEHOLDER = "__MIA_CONFIG__"
MAX_SLOTS_PER_SEGMENT = 2000  # ~50 KB of params, far below the 1 MiB limit
HORIZON_DAYS = 180  # how far ahead one deploy plans; the Workflow sleep limit is 365 days


@dataclass(frozen=True)
class StepPolicy:
    """Retries and timeout of every `step.do` (Workflows' own exponential backoff)."""

    limit: int = 5
    delay: str | int = "10 seconds"
    timeout: str = "5 minutes"

    def as_js(self) -> dict[str, Any]:
        return {"retries": {"limit": self.limit, "delay": self.delay, "backoff": "exponential"},
                "timeout": self.timeout}


@dataclass(frozen=True)
class WorkerBundle:
    """A generated Worker: the module text, the upload metadata (secrets included) and its content hash."""

    script: str
    metadata: dict[str, Any]
    content_hash: str


def worker_config(settings: Settings, models: list[str], policy: StepPolicy) -> dict[str, Any]:
    """The CONFIG constant of the module: everything the JS pipeline needs that is not a secret."""
    rates = {model: list(r) for model in sorted(set(models)) if (r := neuron_rates(model))}
    # plan and extraction ask for llm.max_tokens fitted to the model's context, as the local pipeline does
    profile = apply_settings(static_profile("workers-ai", "", settings.llm.model),
                             context_tokens=settings.llm.context_tokens)
    structured_tokens = profile.completion_tokens(settings.llm.max_tokens)
    shapes = {model: facts.json_schema for model in sorted({*models, settings.llm.model})
              if (facts := facts_for(model)) is not None and facts.json_schema}
    return {
        "mia_version": __version__, "pipeline": f"cloud/{PIPELINE_VERSION}", "prefix": settings.r2.prefix,
        "model": settings.llm.model, "max_tokens": settings.llm.max_tokens, "temperature": settings.llm.temperature,
        "plan_max_tokens": structured_tokens, "extract_max_tokens": structured_tokens, "json_shapes": shapes,
        "sources_per_extract": SOURCES_PER_EXTRACT, "snippet_chars": 1200, "depths": prompts.DEPTHS,
        "prompts": {"plan": prompts.PLAN_SYSTEM, "extract": prompts.EXTRACT_SYSTEM,
                    "synthesize": prompts.SYNTH_SYSTEM},
        "schemas": {"plan": prompts.ResearchPlan.model_json_schema(),
                    "extract": prompts.Extraction.model_json_schema()},
        "neurons_per_m": rates,
        "prices": {"usd_per_1k_neurons": settings.prices.usd_per_1k_neurons,
                   "perplexity_search_usd": settings.prices.perplexity_search_usd},
        "step": policy.as_js(),
    }


def render_script(config: dict[str, Any]) -> str:
    """The module text: the packaged template with CONFIG filled in (ASCII JSON is valid JavaScript)."""
    template = resources.files("mia.agents.cloud").joinpath("templates/worker.js").read_text(encoding="utf-8")
    assert template.count(PLACEHOLDER) == 1, "the Worker template must hold exactly one CONFIG placeholder"
    return template.replace(PLACEHOLDER, json.dumps(config, indent=1, sort_keys=True, ensure_ascii=True))


def plain_vars(settings: Settings) -> dict[str, str]:
    """Base URLs (and the NCBI e-mail) as plain_text bindings, so proxies and test servers work unchanged."""
    found = {"PERPLEXITY_BASE_URL": settings.perplexity.base_url, "PUBMED_BASE_URL": settings.pubmed.base_url,
             "EUROPEPMC_BASE_URL": settings.europepmc.base_url,
             "CLINICALTRIALS_BASE_URL": settings.clinicaltrials.base_url}
    if settings.pubmed.email:
        found["PUBMED_EMAIL"] = settings.pubmed.email
    return found


def secret_vars(settings: Settings) -> dict[str, str]:
    """The secrets the Worker may use; they go only into secret_text bindings."""
    found: dict[str, str] = {}
    if key := settings.secret("perplexity.api_key"):
        found["PERPLEXITY_API_KEY"] = key
    if key := settings.secret("pubmed.api_key"):
        found["NCBI_API_KEY"] = key
    return found


def bindings(settings: Settings, workflow: str) -> list[dict[str, Any]]:
    """The upload's bindings: the Workflow itself, the R2 bucket, Workers AI, vars and secrets."""
    bucket: dict[str, Any] = {"type": "r2_bucket", "name": "BUCKET", "bucket_name": settings.r2.bucket}
    if settings.r2.jurisdiction:
        bucket["jurisdiction"] = settings.r2.jurisdiction
    found: list[dict[str, Any]] = [
        {"type": "workflow", "name": WORKFLOW_BINDING, "workflow_name": workflow, "class_name": CLASS_NAME},
        bucket, {"type": "ai", "name": "AI"}]
    found += [{"type": "plain_text", "name": k, "text": v} for k, v in plain_vars(settings).items()]
    found += [{"type": "secret_text", "name": k, "text": v} for k, v in secret_vars(settings).items()]
    return found


def build_worker(settings: Settings, *, workflow: str, models: list[str], policy: StepPolicy) -> WorkerBundle:
    """Generate the module and metadata; the hash changes when anything uploaded would change."""
    script = render_script(worker_config(settings, models, policy))
    found = bindings(settings, workflow)
    metadata: dict[str, Any] = {"main_module": MAIN_MODULE, "compatibility_date": COMPATIBILITY_DATE,
                                "bindings": found, "observability": {"enabled": True}}
    redacted = [{**b, "text": hashlib.sha256(b["text"].encode()).hexdigest()} if b["type"] == "secret_text" else b
                for b in found]
    digest = hashlib.sha256(script.encode())
    digest.update(json.dumps({**metadata, "bindings": redacted}, sort_keys=True).encode())
    return WorkerBundle(script=script, metadata=metadata, content_hash=digest.hexdigest())


def trigger_params(trigger: TriggerRecord, agent: AgentRecord, fingerprint: str) -> dict[str, Any]:
    """What every instance of a trigger carries (the slots are added per segment)."""
    return {"trigger_id": trigger.id, "instruction": trigger.instruction, "id_prefix": instance_prefix(
        trigger.id, fingerprint), "agent": {"slug": agent.slug, "question": agent.question,
                                            "sources": agent.source_list, "depth": agent.depth,
                                            "model": agent.model, "budget_usd": agent.budget_usd,
                                            "report_version": agent.report_version}}


def fingerprint(params: dict[str, Any], trigger: TriggerRecord) -> str:
    """Six hex digits that change when the trigger or its agent's settings change (a new instance chain)."""
    data = {k: v for k, v in params.items() if k != "id_prefix"}
    data["agent"] = {k: v for k, v in params["agent"].items() if k != "report_version"}  # moves with every run
    data["schedule"] = [trigger.kind, trigger.spec, trigger.tz]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:6]


def instance_prefix(trigger_id: int, fp: str, generation: int = 0) -> str:
    """`trg-<trigger>-<fingerprint>-g<generation>-`: a new generation for every chain started after one ended.

    Workflows never hand out an instance id twice (a terminated instance keeps its id), so a chain that starts
    again after an undeploy must not ask for the ids of the one before.
    """
    return f"trg-{trigger_id}-{fp}-g{generation}-"


def instance_id(prefix: str, slot: str) -> str:
    """`<prefix><slot compact>`: ≤100 characters of [a-zA-Z0-9-_], as Workflows require."""
    return prefix + slot.replace("-", "").replace(":", "")


def plan_slots(schedule: Schedule, after: datetime, until: datetime) -> list[str]:
    """Slots in (after, until], computed with cronsim in the trigger's zone (the local DST rules)."""
    slots: list[str] = []
    cursor = after
    while len(slots) < MAX_SLOTS_PER_SEGMENT:
        slot = schedule.next_after(cursor)
        if slot is None or slot > until:
            break
        slots.append(iso(slot))
        cursor = slot
    return slots
