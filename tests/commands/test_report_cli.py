"""`mia report`: a report as a person reads it, at a terminal, into a pipe, through a pager, as a diff."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from fakes.finished_agent import REPORT_V1, REPORT_V2, make_finished_agent

from mia.commands import report as report_cmd
from mia.commands.app import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def agent() -> Path:
    return make_finished_agent()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_cmd, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")


@pytest.fixture
def pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A $PAGER that records what it was given."""
    seen = tmp_path / "paged.txt"
    script = tmp_path / "pager.sh"
    script.write_text(f"#!/bin/sh\ncat > {seen}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PAGER", str(script))
    return seen


def test_into_a_pipe_the_report_is_the_raw_markdown(capsys: pytest.CaptureFixture[str], agent: Path) -> None:
    code, out, err = run(capsys, "report", "dmd-treatments")
    assert code == 0 and out == REPORT_V2 and err == ""


def test_an_older_version_is_printed_with_version(capsys: pytest.CaptureFixture[str], agent: Path) -> None:
    code, out, _ = run(capsys, "report", "dmd-treatments", "--version", "1")
    assert code == 0 and out == REPORT_V1


def test_at_a_terminal_the_report_is_rendered(capsys: pytest.CaptureFixture[str], agent: Path,
                                             terminal: None) -> None:
    code, out, _ = run(capsys, "report", "dmd-treatments")
    assert code == 0 and "\x1b[" in out and "Summary" in out
    assert "## Summary" not in out  # rendered, not raw


def test_pager_gets_the_report_and_a_long_report_at_a_terminal_is_paged_without_asking(
        capsys: pytest.CaptureFixture[str], agent: Path, pager: Path, terminal: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "report", "dmd-treatments", "--pager")
    assert code == 0 and out == "" and "Givinostat" in pager.read_text()
    pager.unlink()
    monkeypatch.setenv("LINES", "10")
    code, out, _ = run(capsys, "report", "dmd-treatments")
    assert code == 0 and out == "" and "Givinostat" in pager.read_text()


def test_without_a_pager_setting_less_dash_r_is_used(capsys: pytest.CaptureFixture[str], agent: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.delenv("PAGER", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: calls.append(argv))
    code, _, _ = run(capsys, "report", "dmd-treatments", "--pager")
    assert code == 0 and calls == [["less", "-R"]]


def test_a_pager_that_does_not_exist_falls_back_to_printing(capsys: pytest.CaptureFixture[str], agent: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGER", "/nonexistent/pager")
    code, out, err = run(capsys, "report", "dmd-treatments", "--pager")
    assert code == 0 and out == REPORT_V2 and "could not be started" in err


def test_diff_shows_what_changed_between_the_last_two_versions(capsys: pytest.CaptureFixture[str],
                                                              agent: Path) -> None:
    code, out, _ = run(capsys, "report", "dmd-treatments", "--diff")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "--- dmd-treatments/v1.md" and lines[1] == "+++ dmd-treatments/v2.md"
    assert any(line.startswith("+Givinostat slowed decline") for line in lines)
    assert "-_Research agent dmd-treatments · report v1 · 2026-11-01 · 5 sources (PubMed 3, ClinicalTrials.gov 1, " \
           "Web 1)_" in lines


def test_diff_of_named_versions_and_the_reverse(capsys: pytest.CaptureFixture[str], agent: Path) -> None:
    code, out, _ = run(capsys, "report", "dmd-treatments", "--diff", "2", "1")
    assert code == 0 and out.startswith("--- dmd-treatments/v2.md\n+++ dmd-treatments/v1.md")
    assert any(line.startswith("-Givinostat") for line in out.splitlines())


def test_diff_is_coloured_at_a_terminal(capsys: pytest.CaptureFixture[str], agent: Path, terminal: None) -> None:
    code, out, _ = run(capsys, "report", "dmd-treatments", "--diff", "1", "2")
    assert code == 0 and "\x1b[32m+Givinostat" in out and "\x1b[31m-_Research" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--diff", "1", "7"], "has no report v7"),
    (["--version", "9"], "has no report v9"),
    (["3"], "Unexpected argument '3'"),
    (["--diff", "1", "2", "3"], "two versions at most"),
])
def test_bad_versions_are_usage_errors_that_name_the_existing_ones(capsys: pytest.CaptureFixture[str],
                                                                  agent: Path, args: list[str], message: str) -> None:
    code, out, err = run(capsys, "report", "dmd-treatments", *args)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_diff_of_a_single_version_says_there_is_nothing_to_compare(capsys: pytest.CaptureFixture[str]) -> None:
    make_finished_agent(reports=[REPORT_V1])
    code, _, err = run(capsys, "report", "dmd-treatments", "--diff")
    assert code == 2 and "nothing to compare" in err


def test_an_agent_without_a_report_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    make_finished_agent(reports=[])
    code, out, err = run(capsys, "report", "dmd-treatments")
    assert code == 1 and out == "" and "has no report yet" in err and "mia agents show dmd-treatments" in err


def test_an_unknown_agent_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "report", "nope")
    assert code == 1 and "No research agent named 'nope'" in err


def test_sources_lists_every_retrieved_source_with_its_link(capsys: pytest.CaptureFixture[str],
                                                           agent: Path) -> None:
    code, out, _ = run(capsys, "report", "dmd-treatments", "--sources")
    assert code == 0 and "## Cited in the report (4)" in out and "## Also retrieved (1)" in out
    assert "- [5] [Vamorolone versus prednisone: a randomized trial](https://pubmed.ncbi.nlm.nih.gov/36000001/)" in out
    assert out.index("[1] [Delandistrogene") < out.index("## Also retrieved")


def test_the_command_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--help")
    assert code == 0 and "--diff" in out and "--pager" in out and "--sources" in out
