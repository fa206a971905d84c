"""`mia config set/unset`, confirmations, unknown ids and exports: what a person sees, and the exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mia import paths
from mia.commands.app import main
from mia.settings import load_settings
from mia.store.agents import create_agent
from mia.store.db import open_registry


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_set_refuses_an_unknown_source_naming_the_allowed_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "set", "research.sources", "web,foo")
    assert code == 2 and "'foo'" in err and "web, pubmed, europepmc, trials" in err
    assert not paths.config_file().exists()


@pytest.mark.parametrize(("key", "value", "words"), [
    ("research.budget_usd", "-5", "at least 0"),
    ("research.depth", "extreme", "one of quick, standard or deep"),
    ("research.concurrency", "100", "at most 64"),
])
def test_config_set_checks_type_and_range_in_plain_words(capsys: pytest.CaptureFixture[str], key: str, value: str,
                                                         words: str) -> None:
    code, _, err = run(capsys, "config", "set", key, value)
    assert code == 2 and words in err and key in err
    assert "No such option" not in err and "Input should" not in err


def test_an_invalid_value_in_the_file_names_the_file_and_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[research]\nconcurrency = "many"\n')
    code, _, err = run(capsys, "config", "show")
    assert code == 1 and str(config) in err and "research.concurrency" in err and "whole number" in err
    assert "Input should" not in err


def test_unsetting_a_key_that_is_not_set_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "unset", "smtp.host")
    assert code == 1 and "'smtp.host' is not set" in err


def test_inbox_read_of_an_unknown_id_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "inbox", "read", "99")
    assert code == 1 and "No inbox entry with id 99" in err


def _agent() -> None:
    create_agent(open_registry(load_settings().registry_path), question="DMD treatments", sources=["pubmed"],
                 depth="quick", model="", budget_usd=0.5)


def test_a_deliberate_no_exits_1_with_cancelled(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _agent()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, _, err = run(capsys, "agents", "delete", "dmd-treatments")
    assert code == 1 and "Cancelled." in err and "Aborted" not in err
    assert run(capsys, "agents", "show", "dmd-treatments")[0] == 0


def test_no_answer_from_a_script_is_a_usage_error_naming_yes_not_an_interrupt(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _agent()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script or cron job: standard input ends at once
    code, _, err = run(capsys, "agents", "delete", "dmd-treatments")
    assert code == 2 and "Aborted" not in err, err
    assert "not a terminal" in err and "--yes" in err
    assert run(capsys, "agents", "show", "dmd-treatments")[0] == 0


def test_export_into_a_missing_folder_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _agent()
    code, _, err = run(capsys, "agents", "export", "dmd-treatments", "--output", str(tmp_path / "no" / "a.tar.gz"))
    assert code == 2 and "does not exist" in err and not (tmp_path / "no").exists()


def test_export_reports_the_same_absolute_path_in_text_and_json(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _agent()
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "agents", "export", "dmd-treatments", "--output", "a.tar.gz")
    assert code == 0 and f"to {tmp_path / 'a.tar.gz'}" in err.replace("\n", "")
    code, out, _ = run(capsys, "agents", "export", "dmd-treatments", "--output", "b.tar.gz", "--json")
    assert code == 0 and json.loads(out)["path"] == str(tmp_path / "b.tar.gz")
