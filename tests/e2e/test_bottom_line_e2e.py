"""A research report opens with its bottom line, wherever the model put it."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.research_llm import ResearchLLM

from .conftest import Mia


def first_paragraph_after_the_header(report: str) -> str:
    paragraphs = [p for p in report.split("\n\n") if p.strip()]
    body = [p for p in paragraphs if not p.startswith(("# ", "_", ">"))]
    return body[0]


def test_a_report_opens_with_the_bottom_line_even_when_the_model_wrote_it_last(
        mia: Mia, research_llm: ResearchLLM) -> None:
    research_llm.bottom_line_at = "end"
    research_llm.verdict = "No"
    result = mia.run("research", "Does vamorolone slow DMD?", "--depth", "quick", "--json")
    assert result.returncode == 0, result.stderr
    report = Path(json.loads(result.stdout)["report_path"]).read_text()
    opening = first_paragraph_after_the_header(report)
    assert opening.startswith("**Bottom line:** No — ") and opening.endswith("[1].")
    assert report.count("Bottom line") == 1
