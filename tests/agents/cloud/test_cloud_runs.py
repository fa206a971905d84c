"""Cloud runs pulled into the workspace enter the registry once; material changes reach the inbox."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mia.agents.cloud.runs import record_cloud_runs
from mia.errors import ServiceError
from mia.settings import load_settings
from mia.store import agents as agent_store
from mia.store import inbox
from mia.store import runs as run_store
from mia.store.db import open_registry
from mia.store.workspace import write_atomic
from mia.tools.cloudflare import CloudflareAPI, CloudflareError


def cloud_record(run_id: str, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "origin": "cloud", "trigger_id": 3, "slot": "2026-12-01T08:00:00Z",
            "question": "DMD treatments", "pipeline": "cloud/research/1", "report_version": 2, "outcome": "complete",
            "sources": 12, "citations_removed": 0, "notices": [], "finished_at": "2026-12-01T08:03:00Z",
            "usage": {"cost_usd": 0.02, "items": [{"service": "Workers AI", "model": "m", "input_tokens": 900,
                                                   "output_tokens": 300, "neurons": 80.0, "cost_usd": 0.015,
                                                   "requests": 1},
                                                  {"service": "Perplexity", "cost_usd": 0.005, "requests": 1}]},
            **fields}


def test_cloud_run_records_are_recorded_once_with_usage_and_an_inbox_entry_for_material_changes() -> None:
    settings = load_settings()
    registry = open_registry(settings.registry_path)
    agent = agent_store.create_agent(registry, question="DMD treatments", sources=["pubmed"], depth="quick",
                                     model="m", budget_usd=1, slug="dmd")
    runs = settings.workspace_root / "agents" / "dmd" / "runs"
    changes = {"material": True, "new_papers": [{"title": "A"}, {"title": "B"}], "new_trials": [{"title": "T"}],
               "new_web": [], "status_changes": [], "checked": 12}
    write_atomic(runs / "trg-3-abcdef-20261201T080000Z.json", json.dumps(cloud_record(
        "trg-3-abcdef-20261201T080000Z", changes=changes, files={"changes": "changes/20261201T080000Z.md"})))
    write_atomic(runs / "trg-3-abcdef-20261202T080000Z.json", json.dumps(cloud_record(
        "trg-3-abcdef-20261202T080000Z", outcome="failed", error="AiError: capacity", report_version=None)))
    write_atomic(runs / "0123456789abcdef.json", json.dumps({"run_id": "0123456789abcdef", "outcome": "complete"}))

    recorded = record_cloud_runs(settings, registry)

    assert [(r.run_id, r.outcome, r.notified) for r in recorded] == [
        ("trg-3-abcdef-20261201T080000Z", "complete", True), ("trg-3-abcdef-20261202T080000Z", "failed", False)]
    ok = run_store.get_run(registry, "trg-3-abcdef-20261201T080000Z")
    assert (ok.origin, ok.status, ok.outcome, ok.agent_id) == ("cloud", "succeeded", "complete", agent.id)
    failed = run_store.get_run(registry, "trg-3-abcdef-20261202T080000Z")
    assert (failed.status, failed.error) == ("failed", "AiError: capacity")
    assert registry.one("SELECT trigger_id FROM runs WHERE id = ?", (ok.id,)) == {"trigger_id": 3}
    assert run_store.run_spend(registry, ok.id)["cost_usd"] == pytest.approx(0.02)
    assert agent_store.get_agent(registry, "dmd").report_version == 2
    messages = inbox.list_messages(registry)
    assert [m["title"] for m in messages] == ["dmd: 2 new papers, 1 new trial"]
    assert messages[0]["path"].endswith("agents/dmd/changes/20261201T080000Z.md")
    assert registry.one("SELECT COUNT(*) AS n FROM runs") == {"n": 2}  # the local record was left alone

    assert record_cloud_runs(settings, registry) == []
    assert len(inbox.list_messages(registry)) == 1


def test_instance_creation_sends_instance_id_and_treats_already_exists_as_done() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if isinstance(body["params"], dict):  # a server that wants params as a JSON string
            return httpx.Response(400, json={"success": False, "errors": [{"code": 10001,
                                                                           "message": "params: expected string"}]})
        if len(seen) > 2:
            return httpx.Response(409, json={"success": False, "errors": [{"code": 10202,
                                                                           "message": "instance.already_exists"}]})
        return httpx.Response(201, json={"success": True, "result": {"id": body["instance_id"]}, "errors": []})

    api = CloudflareAPI(http=httpx.Client(transport=httpx.MockTransport(handler)), base_url="https://cf.test/v4",
                        account_id="acct", api_token="tok", sleep=lambda s: None)

    assert api.create_instance("wf", "trg-1-abcdef-20261201T080000Z", {"slot": "x"}) is True
    assert api.create_instance("wf", "trg-1-abcdef-20261201T080000Z", {"slot": "x"}) is False
    assert "id" not in seen[0] and seen[0]["instance_id"] == "trg-1-abcdef-20261201T080000Z"
    assert seen[1]["params"] == json.dumps({"slot": "x"}) and len(seen) == 4  # the 409 was not retried


def test_a_refused_upload_names_the_r2_permission_when_the_bucket_is_the_problem() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"success": False, "errors": [
            {"code": 10000, "message": "Authentication error: R2 bucket binding not allowed"}]})

    api = CloudflareAPI(http=httpx.Client(transport=httpx.MockTransport(handler)), base_url="https://cf.test/v4",
                        account_id="acct", api_token="s3cr3t-value", sleep=lambda s: None)

    with pytest.raises(CloudflareError) as caught:
        api.upload_script("mia-agents", {"main_module": "index.js"}, "export default {}")
    assert isinstance(caught.value, ServiceError) and caught.value.code == 10000
    assert "Workers R2 Storage Edit" in caught.value.message and "s3cr3t-value" not in str(caught.value)
