"""`mia research` input edges: the question from stdin, bytes that are not UTF-8, questions in other scripts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import MIA, Mia


def run(mia: Mia, args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([MIA, *args], input=stdin, capture_output=True, timeout=120, env=mia.env)


def agents(mia: Mia) -> list[dict[str, object]]:
    return json.loads(mia.run("agents", "list", "--json").stdout)


def test_a_dash_reads_the_question_from_standard_input(mia: Mia) -> None:
    result = run(mia, ["research", "-", "--depth", "quick", "--json"], b"  DMD treatments\n")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["name"] == "dmd-treatments"
    assert json.loads(mia.run("agents", "show", "dmd-treatments", "--json").stdout)["question"] == "DMD treatments"


def test_a_question_over_several_lines_becomes_one_line(mia: Mia) -> None:
    typed = b"DMD treatments:\n\tgene therapy\n  or exon skipping?\n"
    result = run(mia, ["research", "-", "--depth", "quick", "--json"], typed)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    question = "DMD treatments: gene therapy or exon skipping?"
    assert json.loads(mia.run("agents", "show", str(out["name"]), "--json").stdout)["question"] == question
    assert Path(out["report_path"]).read_text().startswith(f"# {question}\n")  # a title, and a table row, of one line


@pytest.mark.parametrize(("args", "stdin", "words"), [
    (["research", "-"], b"DMD \xff treatments", "not valid UTF-8: byte 0xff"),
    (["research", "-"], ("word " * 900).encode(), "4,499 characters long"),
    (["research", "-"], b"   \n", "question is empty"),
    (["research", b"DMD \xff treatments"], b"", "not valid UTF-8: byte 0xff"),
])
def test_bad_input_is_a_usage_error_that_leaves_nothing_behind(mia: Mia, args: list[str | bytes], stdin: bytes,
                                                                words: str) -> None:
    result = subprocess.run([MIA, *args], input=stdin, capture_output=True, timeout=60, env=mia.env)
    err = result.stderr.decode()
    assert result.returncode == 2 and words in err and "Traceback" not in err, err
    assert agents(mia) == []


@pytest.mark.parametrize(("question", "name"), [
    ("Лечение мышечной дистрофии Дюшенна", "lechenie-myshechnoy-distrofii-dyushenna"),
    ("治疗杜氏肌营养不良", "zhi-liao-du-shi-ji-ying-yang-bu-liang"),
])
def test_a_question_in_another_script_gets_a_meaningful_agent_name(mia: Mia, mia_home: Path, question: str,
                                                                   name: str) -> None:
    result = mia.run("research", question, "--depth", "quick", "--sources", "pubmed", "--json")
    assert result.stdout, result.stderr
    assert json.loads(result.stdout)["name"] == name
    assert (mia_home / "workspace" / "agents" / name / "report.md").exists()
