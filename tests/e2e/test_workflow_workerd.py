"""The Worker mia generates runs for real in workerd (Miniflare, offline) against the loopback fakes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from mia.agents.cloud.runs import record_cloud_runs
from mia.agents.cloud.worker import (
    CLASS_NAME,
    COMPATIBILITY_DATE,
    MAIN_MODULE,
    WORKFLOW_BINDING,
    StepPolicy,
    build_worker,
    fingerprint,
    instance_id,
    instance_prefix,
    plain_vars,
    secret_vars,
    trigger_params,
)
from mia.agents.schedule.rules import iso
from mia.agents.schedule.triggers import add as add_trigger
from mia.settings import Settings, load_settings
from mia.store import agents as agent_store
from mia.store import runs as run_store
from mia.store.db import Registry, open_registry
from mia.store.workspace import write_atomic

HARNESS = Path(__file__).parents[1] / "workerd"
INSTALL = ("Install Node.js 20 (e.g. `apt-get install nodejs npm`, or from https://nodejs.org) and then the "
           "harness's pinned packages with `npm ci --prefix tests/workerd --no-audit --no-fund`.")
PREFIX = "lab/"


def node() -> str:
    """The node binary, or a failure saying how to get it: these tests must not be skipped."""
    found = shutil.which("node")
    if found is None:
        pytest.fail(f"node is not installed, so the generated Worker cannot run in workerd. {INSTALL}")
    if not (HARNESS / "node_modules" / "miniflare").is_dir():
        pytest.fail(f"tests/workerd/node_modules is missing. {INSTALL}")
    return found


def settings_for(fake: FakeServices) -> Settings:
    return load_settings(env={**fake.env(), "MIA_R2_BUCKET": "mia-team", "MIA_R2_PREFIX": PREFIX,
                              "MIA_HOME": str(load_settings().home)})


def agent_with_trigger(registry: Registry) -> tuple[dict[str, Any], str]:
    """An agent with a daily trigger; its instance params made by mia's own deploy code."""
    agent = agent_store.create_agent(registry, question="DMD treatments", sources=["web", "pubmed", "europepmc",
                                     "trials"], depth="quick", model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                                     budget_usd=0.5, slug="dmd")
    trigger, _ = add_trigger(registry, agent_ref="dmd", cron="0 8 * * *", tz=None, every=None, at=None,
                             instruction="new gene therapy trials")
    params = trigger_params(trigger, agent, "")
    params["id_prefix"] = instance_prefix(trigger.id, fingerprint(params, trigger))
    now = datetime.now(UTC).replace(microsecond=0)
    slot, upcoming = iso(now - timedelta(seconds=3)), iso(now + timedelta(days=1))
    return {**params, "slot": slot, "slots": [upcoming], "every": None}, instance_id(params["id_prefix"], slot)


def run_in_workerd(tmp_path: Path, settings: Settings, fake: FakeServices, params: dict[str, Any],
                   iid: str) -> dict[str, Any]:
    bundle = build_worker(settings, workflow="mia-research", models=[settings.llm.model],
                          policy=StepPolicy(limit=4, delay=200, timeout="2 minutes"))
    module = tmp_path / MAIN_MODULE
    module.write_text(bundle.script, encoding="utf-8")
    spec = {"module_path": str(module), "main_module": MAIN_MODULE, "compatibility_date": COMPATIBILITY_DATE,
            "workflow": "mia-research", "class_name": CLASS_NAME, "binding": WORKFLOW_BINDING,
            "vars": plain_vars(settings), "secrets": secret_vars(settings), "timeout_ms": 60_000,
            "ai": {"url": f"{settings.cloudflare.api_base_url}/accounts/{settings.cloudflare.account_id}",
                   "token": fake.cf_token},
            "instance": {"id": iid, "params": params}}
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    result = subprocess.run([node(), str(HARNESS / "run_workflow.mjs"), str(tmp_path / "spec.json")],
                            capture_output=True, text=True, timeout=120, cwd=HARNESS, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_a_cloud_run_retries_a_failing_search_writes_a_cited_report_to_r2_and_chains_the_next_slot(
        tmp_path: Path) -> None:
    node()
    with FakeServices(llm=ResearchLLM(bogus_citation=97)) as fake:
        settings = settings_for(fake)
        registry = open_registry(settings.registry_path)
        params, iid = agent_with_trigger(registry)
        fake.fail_next("pubmed", 503, 503)  # the first two PubMed calls fail; the step's retries get through

        out = run_in_workerd(tmp_path, settings, fake, params, iid)

        esearch = [r.status for r in fake.requests if r.service == "pubmed" and r.path.endswith("esearch.fcgi")]
        tasks = dict(fake.llm.tasks)  # type: ignore[attr-defined]
    assert out["status"]["status"] == "complete", out["status"]
    assert out["status"]["output"]["outcome"] == "complete"
    # 3 planned sub-questions + the trigger's instruction: 4 searches, whose 2 failed calls were retried
    assert esearch.count(503) == 2 and esearch.count(200) == 4 and esearch[:2] == [503, 503]
    assert tasks == {"plan": 1, "extract": 4, "synthesize": 1}
    objects = {k.removeprefix(PREFIX): v for k, v in out["objects"].items()}
    assert all(k.startswith(PREFIX) for k in out["objects"])
    assert {"agents/dmd/report.md", "agents/dmd/reports/v1.md", "agents/dmd/sources.json", "agents/dmd/plan.json",
            "agents/dmd/evidence/claims.json", f"agents/dmd/runs/{iid}.json"} <= set(objects)
    sources = json.loads(objects["agents/dmd/sources.json"])
    assert [s["number"] for s in sources] == list(range(1, len(sources) + 1))
    assert {s["kind"] for s in sources} == {"web", "pubmed", "europepmc", "trial"}  # PubMed made it after retries
    report = objects["agents/dmd/report.md"]
    assert report == objects["agents/dmd/reports/v1.md"] and report.startswith("# DMD treatments\n")
    body, listing = report.split("\n## Sources\n")
    cited = {int(n) for n in re.findall(r"\[(\d+)\](?!\()", body)}
    assert cited and cited <= set(range(1, len(sources) + 1))  # every citation is a retrieved source
    assert "citation removed: not a retrieved source" in body and "[97]" not in body
    assert "Made-up reference list" not in report
    assert {int(n) for n in re.findall(r"^- \[(\d+)\]", listing, re.MULTILINE)} == cited
    record = json.loads(objects[f"agents/dmd/runs/{iid}.json"])
    assert record["origin"] == "cloud" and record["outcome"] == "complete" and record["run_id"] == iid
    assert record["trigger_id"] == params["trigger_id"] and record["citations_removed"] == 1
    assert record["usage"]["cost_usd"] > 0 and record["usage"]["input_tokens"] > 0
    next_slot = params["slots"][0]
    assert out["next"]["id"] == instance_id(params["id_prefix"], next_slot)
    assert out["next"]["status"] in ("queued", "running", "waiting")  # sleeping until tomorrow's slot
    assert settings.secret("perplexity.api_key") not in bundle_text(tmp_path)

    for key, text in objects.items():  # what `mia sync pull` brings home
        write_atomic(settings.workspace_root / key, text)
    recorded = record_cloud_runs(settings, registry)

    assert [(r.run_id, r.outcome, r.report_version) for r in recorded] == [(iid, "complete", 1)]
    run = run_store.get_run(registry, iid)
    assert (run.origin, run.status, run.outcome) == ("cloud", "succeeded", "complete")
    assert agent_store.get_agent(registry, "dmd").report_version == 1
    assert run_store.run_spend(registry, iid)["cost_usd"] == pytest.approx(record["usage"]["cost_usd"])
    assert record_cloud_runs(settings, registry) == []


def bundle_text(tmp_path: Path) -> str:
    return (tmp_path / MAIN_MODULE).read_text(encoding="utf-8")
