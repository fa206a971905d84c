"""The cloud Worker's report gets the same identifier audit as a local one: invented links and ids are removed."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from mia.store.db import open_registry

from .test_workflow_workerd import PREFIX, agent_with_trigger, node, run_in_workerd, settings_for


def test_a_cloud_report_loses_invented_links_and_ids_and_says_how_many(tmp_path: Path) -> None:
    node()
    with FakeServices(llm=ResearchLLM(invented_ids=True)) as fake:
        settings = settings_for(fake)
        params, iid = agent_with_trigger(open_registry(settings.registry_path))
        out = run_in_workerd(tmp_path, settings, fake, params, iid)
    objects = {k.removeprefix(PREFIX): v for k, v in out["objects"].items()}
    report = objects["agents/dmd/report.md"]
    body = report.split("\n## Sources\n")[0]
    for invented in ("journal.example", "10.5555/abc.123", "example.org/page", "38999999", "NCT09999999", "[99]"):
        assert invented not in body
    assert body.count("*(citation removed: not a retrieved source)*") == 6
    assert "removed 1 citation(s) and 5 link(s) or identifier(s)" in report
    record = json.loads(objects[f"agents/dmd/runs/{iid}.json"])
    assert record["identifiers_removed"] == 5 and record["citations_removed"] == 1
