"""A reranker on Workers AI when configured (#16, "Ranking before reading"): BM25 always, then the model's
order; its call is a durable, recorded step; when it fails, BM25's order is read and a notice says so."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from fakes.research_llm import ResearchLLM, task_of
from fakes.server import FakeServices, rerank_scores

from .conftest import Mia, base_env

RERANKER = "@cf/baai/bge-reranker-base"


def run(home: Path, services: FakeServices, reranker: str = RERANKER) -> tuple[int, str]:
    mia = Mia({**base_env(home), **services.env(), "MIA_RESEARCH_RERANKER": reranker})
    result = mia.run("research", "DMD treatments", "--sources", "pubmed,europepmc", "--depth", "quick")
    return result.returncode, result.stderr


def titles_in_prompt(services: FakeServices) -> list[str]:
    prompt = next(r.json["messages"][-1]["content"] for r in services.requests
                  if r.service == "workers-ai" and task_of(r.json or {}) == "extract")
    block = prompt.split("<sources>\n", 1)[1].split("\n</sources>", 1)[0]
    return [line.split(") ", 1)[1] for line in block.splitlines() if re.match(r"\[\d+\] \(", line)]


def test_the_reranker_orders_what_is_read_and_its_call_is_a_recorded_step(mia_home: Path, tmp_path: Path) -> None:
    with FakeServices(llm=ResearchLLM(sub_questions=1)) as plain:
        assert run(tmp_path / "plain" / "home", plain, reranker="")[0] == 0
        bm25 = titles_in_prompt(plain)
    with FakeServices(llm=ResearchLLM(sub_questions=1)) as services:
        code, stderr = run(mia_home, services)
        assert code == 0, stderr
        calls = [r for r in services.requests if "/ai/run/@cf/baai/bge-reranker-base" in r.path]
        assert len(calls) == 1
        body = calls[0].json
        assert body["query"].startswith("What is known about DMD treatments")
        assert [set(c) for c in body["contexts"]] == [{"text"}] * len(body["contexts"]) and len(body["contexts"]) > 2
        assert body["top_k"] == len(body["contexts"])
        texts = [c["text"] for c in body["contexts"]]
        scores = rerank_scores(body["query"], texts)
        best_first = [texts[n].split("\n", 1)[0] for n in sorted(range(len(texts)), key=lambda n: -scores[n])]
        shown = titles_in_prompt(services)
        assert len(shown) == min(8, len(texts))
        assert [title[:60] for title in shown] == [title[:60] for title in best_first[:8]]
        assert shown != bm25 and sorted(shown) == sorted(bm25)  # the same sources, read in the model's order
    with sqlite3.connect(mia_home / "registry.db") as db:
        steps = {row[0] for row in db.execute("SELECT step_key FROM run_steps WHERE status = 'done'")}
        usage = db.execute("SELECT model, input_tokens FROM usage WHERE step_key = 'rerank/0'").fetchall()
    assert "rerank/0" in steps
    assert usage and usage[0][0] == RERANKER and usage[0][1] > 0


def test_a_failing_reranker_falls_back_to_bm25_order_with_a_notice(mia_home: Path, tmp_path: Path) -> None:
    with FakeServices(llm=ResearchLLM(sub_questions=1)) as plain:
        code, stderr = run(tmp_path / "plain" / "home", plain, reranker="")
        assert code == 0, stderr
        bm25 = titles_in_prompt(plain)
        assert not [r for r in plain.requests if "reranker" in r.path]
    with FakeServices(llm=ResearchLLM(sub_questions=1), reranker_fault=500) as services:
        code, stderr = run(mia_home, services)
        assert code == 0, stderr
        assert [r.status for r in services.requests if "reranker" in r.path][-1] == 500
        assert titles_in_prompt(services) == bm25
    notices = [line for line in stderr.splitlines() if line.startswith("! ")]
    assert any("reranker @cf/baai/bge-reranker-base failed" in line and "BM25 order" in line for line in notices), \
        stderr
    report = (mia_home / "workspace" / "agents" / "dmd-treatments" / "report.md").read_text()
    assert "BM25 order" in report
    with sqlite3.connect(mia_home / "registry.db") as db:  # the failure is a stored step: a resume reads the same
        stored = db.execute("SELECT output_json FROM run_steps WHERE step_key = 'rerank/0' AND status = 'done'"
                            ).fetchall()
    assert stored and '"order": null' in stored[0][0]
