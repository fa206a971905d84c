"""A research run records study design and status, and a retracted article supports nothing in the report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.corpus import Article, Corpus
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices

from .conftest import Mia, base_env

WORDS = "DMD treatments gene therapy exon skipping corticosteroids"
RETRACTED = Article("99019901", f"{WORDS}: a retracted miracle", "Retraction Test Journal", 2021, "Feb",
                    [("Smith", "Jane")], [("", f"{WORDS} cured every boy in this fabricated cohort.")],
                    pub_types=("Journal Article", "Retracted Publication"), retraction_in="99019999")
RCT = Article("99019903", f"{WORDS}: a randomised trial", "Trial Test Journal", 2023, "Apr", [("Doe", "John")],
              [("", f"{WORDS} were compared with placebo in 200 boys.")],
              pub_types=("Journal Article", "Randomized Controlled Trial"))


@pytest.fixture
def levels_mia(mia_home: Path) -> Iterator[Mia]:
    corpus = Corpus()
    corpus.add_pubmed(RCT)
    corpus.add_pubmed(RETRACTED)
    with FakeServices(corpus=corpus, llm=ResearchLLM()) as fake:
        yield Mia({**base_env(mia_home), **fake.env()})


def test_a_retracted_article_is_flagged_never_cited_and_its_claims_are_withheld(levels_mia: Mia) -> None:
    result = levels_mia.run("research", "DMD treatments", "--sources", "pubmed", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    report_path = Path(json.loads(result.stdout)["report_path"])
    report, folder = report_path.read_text(), report_path.parent
    sources = {s["identifier"]: s for s in json.loads((folder / "sources.json").read_text())}
    bad, good = sources["99019901"], sources["99019903"]
    assert bad["retracted"] is True and "Retracted Publication" in bad["publication_types"]
    assert good["publication_types"] == ["Journal Article", "Randomized Controlled Trial"] and not good["retracted"]
    body = report.split("\n## Sources", 1)[0]
    assert f"[{bad['number']}]" not in body and "(citation removed: retracted article)" in body  # cited, taken out
    assert "retracted (PMID 99019901)" in report and "never support a claim" in report
    claims = json.loads((folder / "evidence" / "claims.json").read_text())
    from_bad = [c for c in claims if c["source"] == bad["number"]]
    assert from_bad and all(c.get("withheld") == "retracted" for c in from_bad)
    if f"[{good['number']}]" in body:
        assert re.search(rf"- \[{good['number']}\] .*randomised controlled trial", report)
