"""`mia eval pubmedqa --offline` end to end: the installed CLI, the shipped abstracts, a loopback model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.eval_llm import EvalLLM, Script
from fakes.server import FakeServices

from mia.agents.eval.dataset import select

from .conftest import Mia, base_env

ITEMS = select("dev", 3)


@pytest.fixture
def eval_mia(mia_home: Path) -> Iterator[tuple[Mia, FakeServices]]:
    scripts = {ITEMS[0].question: Script(pmid=ITEMS[0].pmid, verdict=ITEMS[0].label.capitalize()),
               ITEMS[1].question: Script(pmid=ITEMS[1].pmid, verdict="No"),
               ITEMS[2].question: Script(pmid=ITEMS[2].pmid, verdict="Uncertain", cite="other")}
    with FakeServices(llm=EvalLLM(scripts)) as fake:
        yield Mia({**base_env(mia_home), **fake.env(), "COLUMNS": "80"}), fake


def test_an_offline_eval_scores_answers_saves_the_record_and_keeps_its_agents_apart(
        eval_mia: tuple[Mia, FakeServices], mia_home: Path) -> None:
    mia, fake = eval_mia
    result = mia.run("eval", "pubmedqa", "--offline", "--split", "dev", "--n", "3", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    labels = [i.label for i in ITEMS]
    expected_accuracy = round(sum([True, labels[1] == "no", labels[2] == "maybe"]) / 3, 4)
    assert record["figures"]["accuracy"] == expected_accuracy and record["figures"]["gold_retrieved"] == 1.0
    assert record["figures"]["gold_cited"] == round(2 / 3, 4) and record["figures"]["quotes_verified"] == 1.0
    assert record["offline"] is True and record["split"] == "dev" and Path(record["path"]).exists()
    assert fake.count("pubmed") == fake.count("europepmc") == fake.count("perplexity") == 0  # nothing searched online
    assert json.loads(mia.run("agents", "list", "--json").stdout) == []
    table = mia.run("eval", "list")
    assert record["id"] in table.stdout and f"{expected_accuracy * 100:.1f}%" in table.stdout
    deleted = mia.run("eval", "delete", record["id"], "--yes")
    assert deleted.returncode == 0 and "Deleted 3 eval agent(s)" in deleted.stderr
    assert not any((mia_home / "workspace" / "agents").iterdir())


def test_the_eval_table_fits_80_columns_and_says_where_the_record_is(eval_mia: tuple[Mia, FakeServices]) -> None:
    mia, _ = eval_mia
    result = mia.run("eval", "pubmedqa", "--offline", "--split", "dev", "--n", "1")
    assert result.returncode == 0, result.stderr
    assert "verdict accuracy" in result.stdout and "gold PMID cited" in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "[1/1] PMID " in result.stderr and "Saved: " in result.stderr and "mia eval delete" in result.stderr


def test_a_bad_split_is_a_usage_error_without_a_traceback(eval_mia: tuple[Mia, FakeServices]) -> None:
    mia, _ = eval_mia
    result = mia.run("eval", "pubmedqa", "--offline", "--split", "train")
    assert result.returncode == 2 and "Unknown split 'train'" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
