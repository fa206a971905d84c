"""Workflows instances as the real API keeps them: ids never reused, cursor paging, rollingBack, 409s.

The fake (tests/fakes/cloudflare_api.py) names the documentation each behaviour follows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.test_cloud_deploy import deploy_json, make_agent, mia
from fakes.cloudflare_api import FakeCloudflareAPI

from mia.settings import load_settings
from mia.store.db import open_registry

WF = "mia-research"


@pytest.fixture
def cloud() -> Iterator[FakeCloudflareAPI]:
    with FakeCloudflareAPI(page_size=3) as fake:
        yield fake


@pytest.fixture
def env(cloud: FakeCloudflareAPI, mia_home: Path) -> dict[str, str]:
    from e2e.conftest import base_env

    return {**base_env(mia_home), **cloud.env(), "MIA_R2_BUCKET": "mia-team"}


def chain_of(cloud: FakeCloudflareAPI, trigger: int) -> dict[str, str]:
    return {i: v["status"] for i, v in cloud.state.instances[WF].items() if i.startswith(f"trg-{trigger}-")}


def remote(env: dict[str, str]) -> dict[int, list[dict]]:
    result = mia(env, "triggers", "status", "--remote", "--json")
    assert result.returncode == 0, result.stderr
    return {row["trigger_id"]: row["instances"] for row in json.loads(result.stdout)["triggers"]}


def test_an_agent_deployed_again_after_its_undeploy_gets_a_live_instance(cloud: FakeCloudflareAPI,
                                                                          env: dict[str, str]) -> None:
    dmd, = make_agent("dmd", {"cron": "0 8 * * 1"})
    make_agent("sma", {"every": "12h"})  # keeps the Workflow (and the old ids) alive
    first = deploy_json(env)["triggers"]
    old = next(t["instance"] for t in first if t["trigger_id"] == dmd)
    assert mia(env, "triggers", "undeploy", "dmd", "--json").returncode == 0
    assert cloud.state.instances[WF][old]["status"] == "terminated"

    again = {t["trigger_id"]: t for t in deploy_json(env, "dmd")["triggers"]}

    new = again[dmd]["instance"]
    assert again[dmd]["action"] == "created" and new != old
    assert cloud.state.instances[WF][new]["status"] == "waiting"
    assert remote(env)[dmd] == [{"role": "next", "id": new, "slot": cloud.state.instances[WF][new]["params"]["slot"],
                                 "status": "waiting", "error": None}]


def test_pause_deploy_resume_deploy_starts_a_live_chain(cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"cron": "0 8 * * *"})
    make_agent("sma", {"every": "1d"})
    deploy_json(env)
    assert mia(env, "triggers", "pause", str(trigger)).returncode == 0
    assert {t["action"] for t in deploy_json(env)["triggers"] if t["trigger_id"] == trigger} == {"withdrawn"}
    assert mia(env, "triggers", "resume", str(trigger)).returncode == 0

    report = {t["trigger_id"]: t for t in deploy_json(env)["triggers"]}

    assert report[trigger]["action"] == "created"
    statuses = chain_of(cloud, trigger)
    assert statuses[report[trigger]["instance"]] == "waiting"
    assert sorted(statuses.values()) == ["terminated", "waiting"]
    assert remote(env)[trigger][0]["status"] == "waiting"


def forget_deployment(trigger: int) -> None:
    """The registry loses its record of a chain (a deploy that died before writing it, or an old backup)."""
    registry = open_registry(load_settings().registry_path)
    registry.execute("DELETE FROM cloud_triggers WHERE trigger_id = ?", (trigger,))
    registry.execute("UPDATE triggers SET deployed = 0 WHERE id = ?", (trigger,))
    registry.close()


def test_an_id_held_by_a_terminated_instance_is_never_recorded_as_created(cloud: FakeCloudflareAPI,
                                                                          env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"every": "6h"})
    held = deploy_json(env)["triggers"][0]["instance"]
    forget_deployment(trigger)
    cloud.set_instance(WF, held, status="terminated")

    report = deploy_json(env)["triggers"][0]

    assert report["action"] == "created" and report["instance"] != held
    assert cloud.state.instances[WF][report["instance"]]["status"] == "waiting"
    assert remote(env)[trigger][0]["status"] == "waiting"


def test_a_live_instance_under_the_same_id_is_adopted_not_doubled(cloud: FakeCloudflareAPI,
                                                                  env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"every": "6h"})
    held = deploy_json(env)["triggers"][0]["instance"]
    forget_deployment(trigger)

    report = deploy_json(env)["triggers"][0]

    assert report["instance"] == held and list(chain_of(cloud, trigger)) == [held]
    listed = json.loads(mia(env, "triggers", "list", "--json").stdout)
    assert listed[0]["deployed"] is True


def test_undeploy_follows_the_cursor_through_every_page(cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    dmd, = make_agent("dmd", {"every": "1h"})
    make_agent("sma", {"every": "1h"})
    head = next(t["instance"] for t in deploy_json(env)["triggers"] if t["trigger_id"] == dmd)
    instances = cloud.state.instances[WF]
    for n in range(8):  # earlier links of the chain, still waiting on their step.sleep
        instances[f"{head[:-16]}2030010{n}T000000Z"] = {"status": "waiting", "params": {}, "error": None}

    result = mia(env, "triggers", "undeploy", "dmd", "--json")

    assert result.returncode == 0, result.stderr
    assert set(chain_of(cloud, dmd).values()) == {"terminated"}
    terminated = json.loads(result.stdout)["triggers"][0]["terminated"]
    assert len(terminated) == 9
    listing = [c for c in cloud.calls if c.method == "GET" and c.path.endswith("/instances")]
    assert len(listing) > 6  # 9 waiting dmd + 1 sma over pages of 3, plus one empty page per other status


def test_undeploy_terminates_an_instance_that_is_rolling_back(cloud: FakeCloudflareAPI,
                                                              env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"every": "1d"})
    make_agent("sma", {"every": "1d"})
    head = next(t["instance"] for t in deploy_json(env)["triggers"] if t["trigger_id"] == trigger)
    cloud.set_instance(WF, head, status="rollingBack")

    report = json.loads(mia(env, "triggers", "undeploy", "dmd", "--json").stdout)

    assert report["triggers"][0]["terminated"] == [head]
    assert cloud.state.instances[WF][head]["status"] == "terminated"


def test_a_conflict_on_put_is_reported_once_not_retried(cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    make_agent("dmd", {"every": "1d"})
    cloud.fail_next(f"PUT /client/v4/accounts/acct-test/workflows/{WF}", 409, 10210,
                    "workflow.conflict: another update of this workflow is in progress")

    result = mia(env, "triggers", "deploy")

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "another update of this workflow is in progress" in result.stderr
    assert [c.status for c in cloud.calls if c.method == "PUT" and c.path.endswith(f"/workflows/{WF}")] == [409]
    listed = json.loads(mia(env, "triggers", "list", "--json").stdout)
    assert listed[0]["deployed"] is False


def test_a_us_jurisdiction_bucket_is_bound_with_its_jurisdiction(cloud: FakeCloudflareAPI, env: dict[str, str]) -> None:
    make_agent("dmd", {"every": "1d"})

    deploy_json({**env, "MIA_R2_JURISDICTION": "us"})

    assert cloud.violations == []
    bucket = next(b for b in cloud.state.scripts["mia-agents"]["metadata"]["bindings"] if b["type"] == "r2_bucket")
    assert bucket["jurisdiction"] == "us"


def test_a_server_that_pages_without_a_cursor_is_read_to_its_empty_page(env: dict[str, str]) -> None:
    with FakeCloudflareAPI(page_size=2, paging="page") as legacy:
        env = {**env, **legacy.env()}
        trigger, = make_agent("dmd", {"every": "1h"})
        make_agent("sma", {"every": "1h"})
        head = next(t["instance"] for t in deploy_json(env)["triggers"] if t["trigger_id"] == trigger)
        for n in range(5):
            legacy.state.instances[WF][f"{head[:-16]}2030010{n}T000000Z"] = {"status": "waiting", "params": {},
                                                                             "error": None}

        result = mia(env, "triggers", "undeploy", "dmd", "--json")

        assert result.returncode == 0, result.stderr
        assert set(chain_of(legacy, trigger).values()) == {"terminated"}


def test_a_chain_that_cannot_be_started_again_is_handed_back_to_local_cron(cloud: FakeCloudflareAPI,
                                                                           env: dict[str, str]) -> None:
    trigger, = make_agent("dmd", {"every": "6h"})
    deploy_json(env)
    registry = open_registry(load_settings().registry_path)
    registry.execute("UPDATE agents SET depth = 'deep' WHERE slug = 'dmd'")  # a new fingerprint: a new chain
    registry.close()
    for _ in range(5):  # every id it will ask for is refused
        cloud.fail_next(f"POST /client/v4/accounts/acct-test/workflows/{WF}/instances", 409, 10202,
                        "instance.already_exists")

    result = mia(env, "triggers", "deploy")

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "refused every new instance id" in result.stderr
    listed = json.loads(mia(env, "triggers", "list", "--json").stdout)
    assert listed[0]["id"] == trigger and listed[0]["deployed"] is False
