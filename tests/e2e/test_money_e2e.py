"""A budget too small to plan says the minimum, with the budget shown as it was given."""

from __future__ import annotations

from .conftest import Mia


def test_a_budget_too_small_to_plan_says_the_minimum(mia: Mia) -> None:
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--budget", "0.001")
    assert result.returncode == 1 and "The budget of $0.001 does not cover planning" in result.stderr
    assert "at least $0.0" in result.stderr and "$0.00 " not in result.stderr


def test_run_records_have_whole_counts_and_the_agents_status_word(mia: Mia, mia_home) -> None:  # type: ignore[no-untyped-def]
    import json

    out = json.loads(mia.run("research", "DMD treatments", "--depth", "quick", "--json").stdout)
    record = json.loads((mia_home / "workspace" / "agents" / out["name"] / "runs" / f"{out['run_id']}.json")
                        .read_text())
    assert all(isinstance(record["usage"][k], int) for k in ("input_tokens", "output_tokens", "requests"))
    agent = json.loads(mia.run("agents", "show", out["name"], "--json").stdout)
    assert record["status"] == agent["status"] == out["status"]


def test_a_digest_says_it_is_not_synthesized_once(mia_home) -> None:  # type: ignore[no-untyped-def]
    from fakes.server import FakeServices
    from fakes.silent import env_for

    from .conftest import base_env

    with FakeServices() as fake:
        result = Mia({**base_env(mia_home), **env_for(fake.url)}).run("research", "DMD treatments", "--sources",
                                                                      "pubmed,europepmc,trials")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Not synthesized") == 1 and "No LLM configured" not in result.stdout
    assert result.stderr.count("Not synthesized") == 1


def test_a_run_cut_short_by_the_budget_shows_one_summary_of_what_was_skipped(mia: Mia) -> None:
    result = mia.run("research", "DMD treatments", "--depth", "standard", "--budget", "0.012")
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Budget reached" in line]
    searches = [line for line in lines if "search" in line]
    evidence = [line for line in lines if "evidence for sub-question" in line]
    assert len(searches) <= 1 and len(evidence) <= 1 and lines, result.stderr
