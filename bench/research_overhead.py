"""Wall time of a research run divided by its critical path, against loopback fakes with fixed latency.

The fakes answer every LLM call after 300 ms and every search call after 200 ms; the plan has 6 sub-questions,
so 24 searches run, and the second look (depth deep: two rounds) proposes two follow-up searches a round. The
critical path is the sum over the dependent stages (plan, search, full-text reads and extract, each round's
gaps, search and extract, synthesize) of the slowest call chain in each, read from the fakes' request log, with only the
documented rate limits: a PubMed stage is its ESearch calls at NCBI's 10 requests/s (with a key) and then one
EFetch for all their PMIDs, since EFetch takes up to 200 ids a call. The model profile's discovery calls
before the plan (made once per model and cached in MIA_HOME; each run here meets a fresh fake, so each run
makes them) count as a stage too.
Target: ratio <= 1.15 (searches really run in parallel; mia adds little of its own waiting).

A second case shows the pipeline per sub-question: one sub-question's Europe PMC search answers SLOW_EXTRA
seconds late and the model serves one request at a time (llm.concurrency 1, as a small local server does).
The other sub-questions' extractions run while that search is out, so after it only its own extraction is
left; waiting for every search first would leave all of them queued behind it.
Run: python bench/research_overhead.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.research_llm import ResearchLLM, task_of  # noqa: E402
from fakes.server import FakeServices  # noqa: E402

LLM_LATENCY, SEARCH_LATENCY = 0.300, 0.200
GAP_QUERIES = 2  # the second look (depth deep) searches again twice: its rounds are on the critical path too
SEARCH_SERVICES = ("perplexity", "pubmed", "europepmc", "trials")


NCBI_RATE = 10.0  # requests/s NCBI documents with an API key (the bench sets one)


def pubmed_chain(searches: list[float], efetch: float) -> float:
    """The least time PubMed needs under its documented limit alone: the ESearch calls sent 1/rate apart, then
    one EFetch for every PMID (it takes up to 200 ids) once the last ESearch is in and its own slot has come."""
    if not searches:
        return 0.0
    last_in = max(k / NCBI_RATE + latency for k, latency in enumerate(searches))
    return max(last_in, len(searches) / NCBI_RATE) + efetch


def search_stage(search: list) -> float:
    """The least time a stage's searches need: the slowest service, PubMed as its rate-limited chain."""
    by_service = {s: max((r.finished - r.started for r in search if r.service == s), default=0.0)
                  for s in SEARCH_SERVICES if s != "pubmed"}
    efetch = max((r.finished - r.started for r in search if "efetch" in r.path), default=0.0)
    by_service["pubmed"] = pubmed_chain([r.finished - r.started for r in search if "esearch" in r.path], efetch)
    return max(by_service.values())


def critical_path(services: FakeServices) -> float:
    """Sum over the run's dependent stages of the slowest call in each: the LLM stages in the order they ran
    (plan, extract, a second look's gaps and extract, synthesize) and between two of them the searches started
    there; the model profile's discovery calls before the plan count as they ran (one after the other)."""
    llm = sorted((r for r in services.requests if r.service == "workers-ai"), key=lambda r: r.started)
    posts = [r for r in llm if r.method == "POST"]
    discovery = sum(r.finished - r.started for r in llm if r.method == "GET" and r.finished <= posts[0].started)
    stages: list[list] = []
    for request in posts:  # consecutive calls of one task form a stage (e.g. the extractions of one round)
        if stages and task_of(stages[-1][0].json or {}) == task_of(request.json or {}):
            stages[-1].append(request)
        else:
            stages.append([request])
    total = discovery
    search = [r for r in services.requests if r.service in SEARCH_SERVICES and "fullTextXML" not in r.path]
    full_text = [r for r in services.requests if "fullTextXML" in r.path]
    for n, stage in enumerate(stages):
        total += max(r.finished - r.started for r in stage)
        if task_of(stage[0].json or {}) == "extract":  # open full text is read (side by side) before extracting
            begin = max(r.finished for r in stages[n - 1]) if n else 0.0
            total += max((r.finished - r.started for r in full_text if begin <= r.started < stage[-1].started),
                         default=0.0)
        if n + 1 < len(stages):
            begin, end = max(r.finished for r in stage), min(r.started for r in stages[n + 1])
            between = [r for r in search if begin <= r.started < end]
            total += search_stage(between) if between else 0.0
    return total


def one_run(tmp: Path, index: int) -> tuple[float, float]:
    home = tmp / f"home-{index}"
    with FakeServices(llm=ResearchLLM(sub_questions=6, gap_queries=GAP_QUERIES),
                      latency={"workers-ai": LLM_LATENCY, **dict.fromkeys(SEARCH_SERVICES, SEARCH_LATENCY)}) as fake:
        os.environ.update({**fake.env(), "MIA_HOME": str(home), "MIA_CONFIG": str(tmp / "config.toml"),
                           "NCBI_API_KEY": "bench-key"})
        import httpx

        from mia.agents.research.service import spawn_research, validate_request
        from mia.settings import load_settings
        from mia.store.db import open_registry

        settings = load_settings()
        registry = open_registry(settings.registry_path)
        request = validate_request(settings, question="DMD treatments", sources=None, depth="deep", budget=5.0,
                                   model=None, name=None)
        with httpx.Client(timeout=30) as http:
            start = time.perf_counter()
            result = spawn_research(settings, registry, request, http=http, on_event=lambda kind, data: None)
            wall = time.perf_counter() - start
        assert result.status == "done", result.status
        return wall, critical_path(fake)


SLOW_EXTRA = 1.5
SLOW_SUB_QUESTIONS = 3


def slow_source_run(tmp: Path) -> dict[str, float]:
    """The second case: one slow search for one sub-question; the times after it, from the fakes' log."""
    from fakes.research_llm import FACETS

    home = tmp / "home-slow"
    (tmp / "config-slow.toml").write_text("[llm]\nconcurrency = 1\n")
    slow = {("europepmc", FACETS[SLOW_SUB_QUESTIONS - 1]): SLOW_EXTRA}
    with FakeServices(llm=ResearchLLM(sub_questions=SLOW_SUB_QUESTIONS),
                      latency={"workers-ai": LLM_LATENCY, **dict.fromkeys(SEARCH_SERVICES, SEARCH_LATENCY)},
                      slow_queries=slow) as fake:
        os.environ.update({**fake.env(), "MIA_HOME": str(home), "MIA_CONFIG": str(tmp / "config-slow.toml"),
                           "NCBI_API_KEY": "bench-key"})
        import httpx

        from mia.agents.research.service import spawn_research, validate_request
        from mia.settings import load_settings
        from mia.store.db import open_registry

        settings = load_settings()
        request = validate_request(settings, question="DMD treatments", sources="pubmed,europepmc", depth="quick",
                                   budget=5.0, model=None, name=None)
        with httpx.Client(timeout=30) as http:
            start = time.perf_counter()
            result = spawn_research(settings, open_registry(settings.registry_path), request, http=http,
                                    on_event=lambda kind, data: None)
            wall = time.perf_counter() - start
        assert result.status == "done", result.status
        slow_end = max(r.finished for r in fake.requests if r.service == "europepmc")
        extracts = [r for r in fake.requests if r.service == "workers-ai" and task_of(r.json or {}) == "extract"]
        return {"wall": wall, "early": sum(r.started < slow_end for r in extracts), "extracts": len(extracts),
                "after": max(r.finished for r in extracts) - slow_end}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one_run(Path(tmp), -1)  # warm imports and caches
        results = [one_run(Path(tmp), i) for i in range(args.runs)]
    ratios = [wall / path for wall, path in results]
    wall, path = statistics.median(w for w, _ in results), statistics.median(p for _, p in results)
    print(f"run wall time:  {wall * 1000:7.1f} ms (median of {args.runs})")
    print(f"critical path:  {path * 1000:7.1f} ms (profile, plan, then each stage's slowest call or search chain)")
    print(f"ratio:          {statistics.median(ratios):7.3f}  (target <= 1.15)")
    with tempfile.TemporaryDirectory() as tmp:
        slow = slow_source_run(Path(tmp))
    print(f"one slow source ({SLOW_EXTRA:.1f} s more for one of {SLOW_SUB_QUESTIONS} sub-questions, one model slot):")
    print(f"  extractions started before it answered: {slow['early']:.0f} of {slow['extracts']:.0f}")
    print(f"  extraction time left after it:  {slow['after'] * 1000:7.1f} ms (waiting for every search first: "
          f">= {slow['extracts'] * LLM_LATENCY * 1000:.0f} ms)")
    print(f"  run wall time:                  {slow['wall'] * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
