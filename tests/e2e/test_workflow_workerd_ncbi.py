"""The generated Worker keeps NCBI's rate limit and reads MedlineDate like mia's Python client, in workerd."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from xml.etree import ElementTree as ET

from e2e.test_workflow_workerd import PREFIX, agent_with_trigger, node, run_in_workerd, settings_for
from fakes.corpus import Corpus
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from mia.store.db import open_registry
from mia.tools.pubmed import _date


def test_the_workers_pubmed_calls_keep_3_per_second_and_medline_dates_parse(tmp_path: Path) -> None:
    node()
    corpus = Corpus()
    irregular = corpus.pubmed[0] = dataclasses.replace(corpus.pubmed[0], medline_date="2024 Nov-Dec")
    with FakeServices(llm=ResearchLLM(), corpus=corpus, ncbi_rate_limit=True) as fake:
        settings = settings_for(fake)
        params, iid = agent_with_trigger(open_registry(settings.registry_path))

        out = run_in_workerd(tmp_path, settings, fake, params, iid)

        arrivals = sorted(r.started for r in fake.requests if r.service == "pubmed")
        limited = fake.count("pubmed", status=429)
    assert out["status"]["status"] == "complete", out["status"]
    assert len(arrivals) >= 8  # 4 searches: an ESearch and an EFetch each, all started together
    spans = [round(b - a, 3) for a, b in zip(arrivals, arrivals[3:], strict=False)]
    assert all(span >= 0.6 for span in spans), (spans, limited)  # 3/s, with room for a loaded machine
    sources = json.loads(out["objects"][f"{PREFIX}agents/dmd/sources.json"])
    found = next(s for s in sources if s["kind"] == "pubmed" and s["identifier"] == irregular.pmid)
    python = _date(ET.fromstring("<PubDate><MedlineDate>2024 Nov-Dec</MedlineDate></PubDate>"))
    assert found["date"] == python == "2024-11"
