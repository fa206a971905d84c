"""A research run writes search_log.json and ends its report with a summary of the searches."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Mia


def test_a_run_logs_every_query_service_hit_count_and_time(mia: Mia) -> None:
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    report_path = Path(json.loads(result.stdout)["report_path"])
    log = json.loads((report_path.parent / "search_log.json").read_text())
    plan = json.loads((report_path.parent / "plan.json").read_text())
    assert len(log) == len(plan) * 4 and {e["status"] for e in log} == {"ok"}
    assert {e["service"] for e in log} == {"Perplexity", "PubMed", "Europe PMC", "ClinicalTrials.gov"}
    assert {e["query"] for e in log} == {sq["query"] for sq in plan}
    pubmed = [e for e in log if e["source"] == "pubmed"]
    assert all(isinstance(e["total"], int) and e["total"] >= e["results"] for e in pubmed)
    assert all(e["searched_at"].endswith("Z") for e in log)
    report = report_path.read_text()
    assert report.rstrip().endswith("_Every query, service, hit count and time is in search_log.json._")
    assert f'- "{plan[0]["query"]}" — ' in report.split("## Searches", 1)[1]
