"""Cloud triggers against a loopback fake of the Cloudflare REST API: deploy, idempotency, change, status, undeploy."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.conftest import MIA, base_env
from fakes.cloudflare_api import FakeCloudflareAPI

from mia.agents.schedule.triggers import add as add_trigger
from mia.settings import load_settings
from mia.store import agents as agent_store
from mia.store.db import open_registry

PPLX_KEY = "pplx-secret-key-for-cloud-7c1e"
NCBI_KEY = "ncbi-secret-key-44aa"
ID_RE = re.compile(r"^trg-(\d+)-[0-9a-f]{6}-g\d+-\d{8}T\d{6}Z$")


@pytest.fixture
def cloud() -> Iterator[FakeCloudflareAPI]:
    with FakeCloudflareAPI(secrets=(PPLX_KEY, NCBI_KEY, "cf-test-token-5f2a9c")) as fake:
        yield fake


@pytest.fixture
def env(cloud: FakeCloudflareAPI, mia_home: Path) -> dict[str, str]:
    return {**base_env(mia_home), **cloud.env(), "MIA_R2_BUCKET": "mia-team", "MIA_R2_PREFIX": "lab/",
            "PERPLEXITY_API_KEY": PPLX_KEY, "NCBI_API_KEY": NCBI_KEY}


def mia(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIA, *args], capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)


def make_agent(slug: str, *triggers: dict[str, str | None]) -> list[int]:
    """An agent with triggers, made through mia's own core (no research run needed)."""
    registry = open_registry(load_settings().registry_path)
    agent = agent_store.create_agent(registry, question=f"{slug} treatments", sources=["web", "pubmed", "trials"],
                                     depth="quick", model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", budget_usd=0.5,
                                     slug=slug)
    ids = []
    for spec in triggers:
        record, _ = add_trigger(registry, agent_ref=agent.slug, cron=spec.get("cron"), tz=spec.get("tz"),
                                every=spec.get("every"), at=None, instruction=spec.get("instruction") or "")
        ids.append(record.id)
    registry.close()
    return ids


def deploy_json(env: dict[str, str], *args: str) -> dict:
    result = mia(env, "triggers", "deploy", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_deploy_uploads_the_worker_registers_the_workflow_and_starts_one_chain_per_trigger(
        cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    weekly, = make_agent("dmd", {"cron": "0 8 * * 1", "tz": "Europe/Berlin", "instruction": "new trials"})
    hourly, = make_agent("sma", {"every": "6h"})

    report = deploy_json(env)

    assert report["uploaded"] is True and cloud.violations == []
    upload = cloud.state.scripts["mia-agents"]
    metadata = upload["metadata"]
    assert metadata["main_module"] == "index.js" and metadata["compatibility_date"] >= "2024-10-22"
    by_type = {b["type"]: b for b in metadata["bindings"]}
    assert by_type["workflow"] == {"type": "workflow", "name": "RESEARCH_WF", "workflow_name": "mia-research",
                                   "class_name": "ResearchWorkflow"}
    assert by_type["r2_bucket"]["bucket_name"] == "mia-team" and by_type["ai"] == {"type": "ai", "name": "AI"}
    secrets = {b["name"]: b["text"] for b in metadata["bindings"] if b["type"] == "secret_text"}
    assert secrets == {"PERPLEXITY_API_KEY": PPLX_KEY, "NCBI_API_KEY": NCBI_KEY}
    plain = {b["name"] for b in metadata["bindings"] if b["type"] == "plain_text"}
    assert {"PERPLEXITY_BASE_URL", "PUBMED_BASE_URL", "EUROPEPMC_BASE_URL", "CLINICALTRIALS_BASE_URL"} <= plain
    assert '"prefix": "lab/"' in upload["module"] and "[mia:synthesize]" in upload["module"]
    assert cloud.state.workflows["mia-research"] == {"class_name": "ResearchWorkflow", "script_name": "mia-agents"}
    instances = cloud.state.instances["mia-research"]
    assert sorted(int(ID_RE.match(i)[1]) for i in instances) == [weekly, hourly]  # type: ignore[index]
    weekly_params = next(v["params"] for i, v in instances.items() if i.startswith(f"trg-{weekly}-"))
    assert weekly_params["agent"]["slug"] == "dmd" and weekly_params["instruction"] == "new trials"
    assert weekly_params["slot"].endswith(":00:00Z") and len(weekly_params["slots"]) >= 20  # ~26 Mondays ahead
    hourly_params = next(v["params"] for i, v in instances.items() if i.startswith(f"trg-{hourly}-"))
    assert hourly_params["every"]["seconds"] == 6 * 3600 and hourly_params["slots"] == []
    listed = json.loads(mia(env, "triggers", "list", "--json").stdout)
    assert all(t["deployed"] for t in listed)
    fired = json.loads(mia(env, "triggers", "run", "--json", "--now", "2030-01-01T00:00:00Z", "--no-lock").stdout)
    assert fired["fires"] == []  # deployed triggers never also fire locally

    again = deploy_json(env)

    assert again["uploaded"] is False and {t["action"] for t in again["triggers"]} == {"unchanged"}
    assert cloud.count("PUT", "/workers/scripts/") == 1 and cloud.count("POST", "/instances") == 2


def test_a_changed_trigger_replaces_its_chain_and_a_paused_one_goes_back_to_local_cron(
        cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    first, second = make_agent("dmd", {"cron": "0 8 * * 1", "tz": "UTC"}, {"every": "1d"})
    deploy_json(env)
    old = {i for i in cloud.state.instances["mia-research"] if i.startswith(f"trg-{first}-")}
    registry = open_registry(load_settings().registry_path)
    registry.execute("UPDATE agents SET depth = 'deep' WHERE slug = 'dmd'")  # the agent's settings change
    registry.close()
    assert mia(env, "triggers", "pause", str(second)).returncode == 0

    report = deploy_json(env)

    actions = {t["trigger_id"]: t for t in report["triggers"]}
    assert actions[first]["action"] == "replaced" and set(actions[first]["terminated"]) == old
    assert actions[second]["action"] == "withdrawn" and actions[second]["terminated"]
    states = cloud.state.instances["mia-research"]
    assert all(states[i]["status"] == "terminated" for i in old)
    new = actions[first]["instance"]
    assert new not in old and states[new]["status"] == "waiting" and states[new]["params"]["agent"]["depth"] == "deep"
    listed = {t["id"]: t for t in json.loads(mia(env, "triggers", "list", "--json").stdout)}
    assert listed[first]["deployed"] is True and listed[second]["deployed"] is False


def test_status_remote_shows_each_instance_state_and_its_last_error(cloud: FakeCloudflareAPI,
                                                                    env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"cron": "30 6 * * *", "tz": "America/New_York"})
    report = deploy_json(env)
    head = report["triggers"][0]["instance"]
    cloud.set_instance("mia-research", head, status="errored",
                       error={"name": "Error", "message": "AiError: Capacity temporarily exceeded (3040)"})

    result = mia(env, "triggers", "status", "--remote", "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    row = data["triggers"][0]
    assert data["deployed"] is True and row["trigger_id"] == trigger and row["agent"] == "dmd"
    slot = cloud.state.instances["mia-research"][head]["params"]["slot"]
    assert row["instances"] == [{"role": "next", "id": head, "slot": slot, "status": "errored",
                                 "error": "AiError: Capacity temporarily exceeded (3040)"}]
    assert cloud.count("GET", f"/instances/{head}") == 1
    human = mia(env, "triggers", "status", "--remote")
    assert "errored" in human.stdout and "Capacity temporarily exceeded" in human.stdout


def test_undeploy_terminates_the_instances_deletes_the_workflow_and_hands_triggers_back(
        cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    make_agent("dmd", {"cron": "0 8 * * 1"})
    make_agent("sma", {"every": "12h"})
    deploy_json(env)

    partial = json.loads(mia(env, "triggers", "undeploy", "sma", "--json").stdout)
    assert [t["agent"] for t in partial["triggers"]] == ["sma"] and partial["deleted"] is False
    assert "mia-research" in cloud.state.workflows

    result = mia(env, "triggers", "undeploy", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["deleted"] is True and [t["agent"] for t in report["triggers"]] == ["dmd"]
    assert cloud.state.workflows == {} and cloud.state.scripts == {}
    listed = json.loads(mia(env, "triggers", "list", "--json").stdout)
    assert not any(t["deployed"] for t in listed)
    assert json.loads(mia(env, "triggers", "status", "--json").stdout)["deployed"] is False


def test_an_api_refusal_shows_the_code_the_message_and_the_missing_token_permission(
        cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    make_agent("dmd", {"cron": "0 8 * * 1"})
    cloud.fail_next("PUT /client/v4/accounts/acct-test/workers/scripts", 403, 10000, "Authentication error")

    result = mia(env, "triggers", "deploy")

    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert "10000" in result.stderr and "Authentication error" in result.stderr
    assert "Workers Scripts Edit" in result.stderr
    listed = json.loads(mia(env, "triggers", "list", "--json").stdout)
    assert listed[0]["deployed"] is False and cloud.state.instances == {}


def test_missing_cloud_settings_are_named(env: dict[str, str]) -> None:
    make_agent("dmd", {"cron": "0 8 * * 1"})
    env = {k: v for k, v in env.items() if k not in ("MIA_R2_BUCKET", "CLOUDFLARE_ACCOUNT_ID")}

    result = mia(env, "triggers", "deploy")

    assert result.returncode == 1
    assert "cloudflare.account_id" in result.stderr and "r2.bucket" in result.stderr
    assert "cloudflare.api_token" not in result.stderr.split("\n")[0]  # the token is set: not named as missing


def test_no_secret_reaches_output_the_registry_or_files(cloud: FakeCloudflareAPI, env: dict[str, str],
                                                        mia_home: Path) -> None:
    make_agent("dmd", {"cron": "0 8 * * 1"}, {"every": "1d"})
    outputs = [mia(env, "triggers", "deploy", "--json"), mia(env, "triggers", "deploy"),
               mia(env, "triggers", "status", "--remote", "--json"), mia(env, "triggers", "status", "--remote"),
               mia(env, "--debug", "triggers", "undeploy", "--json")]

    assert all(r.returncode == 0 for r in outputs), [r.stderr for r in outputs]
    assert cloud.violations == []  # the fake saw the keys only in secret_text bindings
    secrets = (PPLX_KEY, NCBI_KEY, cloud.token)
    for result in outputs:
        assert not any(s in result.stdout or s in result.stderr for s in secrets)
    for path in mia_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path


def test_removing_a_deployed_trigger_stops_its_cloud_chain_first(cloud: FakeCloudflareAPI,
                                                                  env: dict[str, str]) -> None:
    kept, removed = make_agent("dmd", {"cron": "0 8 * * 1"}, {"every": "1d"})
    deploy_json(env)
    chain = {i for i in cloud.state.instances["mia-research"] if i.startswith(f"trg-{removed}-")}
    assert chain

    paused = mia(env, "triggers", "pause", str(kept))
    assert "still runs in the cloud" in paused.stderr  # pausing alone does not reach Cloudflare
    result = mia(env, "triggers", "remove", str(removed))

    assert result.returncode == 0, result.stderr
    assert "Stopped trigger" in result.stderr and "Removed trigger" in result.stderr
    states = cloud.state.instances["mia-research"]
    assert all(states[i]["status"] == "terminated" for i in chain)
    status = json.loads(mia(env, "triggers", "status", "--json").stdout)
    assert [t["trigger_id"] for t in status["triggers"]] == [kept]


def test_a_deployed_trigger_stays_when_cloudflare_cannot_stop_it(cloud: FakeCloudflareAPI,
                                                                  env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"every": "1d"})
    deploy_json(env)
    result = mia({**env, "CLOUDFLARE_API_TOKEN": "wrong-token"}, "triggers", "remove", str(trigger))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    listed = json.loads(mia(env, "triggers", "list", "--json").stdout)
    assert [t["id"] for t in listed] == [trigger] and listed[0]["deployed"] is True


def test_a_workflow_deleted_outside_mia_is_registered_again_with_fresh_chains(cloud: FakeCloudflareAPI,
                                                                               env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"cron": "0 8 * * 1"})
    deploy_json(env)
    assert deploy_json(env)["uploaded"] is False  # nothing changed: no upload
    cloud.state.workflows.pop("mia-research")  # deleted in the dashboard, instances and all
    cloud.state.instances.pop("mia-research", None)

    report = deploy_json(env)

    assert report["uploaded"] is True and "mia-research" in cloud.state.workflows
    assert [(t["trigger_id"], t["action"]) for t in report["triggers"]] == [(trigger, "created")]
    assert cloud.state.instances["mia-research"][report["triggers"][0]["instance"]]["status"] == "waiting"


def test_status_says_an_interval_trigger_repeats_and_a_cron_one_is_planned_until_a_time(
        cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    weekly, = make_agent("dmd", {"cron": "0 8 * * 1"})
    hourly, = make_agent("sma", {"every": "6h"})
    deploy_json(env)
    lines = mia(env, "triggers", "status").stdout.splitlines()
    assert "planned until open-ended" not in "\n".join(lines)
    assert any(line.startswith(f"trigger {hourly} · sma · repeats with no end date") for line in lines), lines
    assert any(line.startswith(f"trigger {weekly} · dmd · planned until 20") for line in lines), lines


def test_deleting_an_agent_stops_its_triggers_in_the_cloud(cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"every": "1d"})
    deploy_json(env)
    started = [i for i in cloud.state.instances["mia-research"] if i.startswith(f"trg-{trigger}-")]
    assert started

    result = mia(env, "agents", "delete", "dmd", "--yes")

    assert result.returncode == 0, result.stderr
    assert f"Stopped trigger {trigger} in the cloud" in result.stderr
    states = cloud.state.instances["mia-research"]
    assert all(states[i]["status"] == "terminated" for i in started)  # no chain fires on for a deleted agent
    status = json.loads(mia(env, "triggers", "status", "--json").stdout)
    assert status["triggers"] == []
