"""The CLI as a user meets it: help, JSON shapes, and errors without tracebacks."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mia import paths
from mia.commands.app import main
from mia.settings import load_settings
from mia.store.agents import create_agent
from mia.store.db import open_registry

AGENT_KEYS = {"id", "name", "question", "status", "sources", "depth", "model", "budget_usd", "cost_usd",
              "report_version", "report_path", "last_run_id", "last_run_at", "created_at"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command_group(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for group in ("research", "agents", "config", "doctor", "usage"):
        assert group in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip().startswith("mia 0.")


def test_agents_list_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    registry = open_registry(load_settings().registry_path)
    create_agent(registry, question="DMD treatments", sources=["pubmed", "trials"], depth="quick", model="m",
                 budget_usd=0.5)
    code, out, _ = run(capsys, "agents", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 1
    assert set(rows[0]) == AGENT_KEYS
    assert rows[0]["name"] == "dmd-treatments" and rows[0]["sources"] == ["pubmed", "trials"]
    code, out, _ = run(capsys, "agents", "show", "dmd-treatments", "--json")
    assert set(json.loads(out)) == AGENT_KEYS | {"runs", "files"}


def test_unknown_agent_is_a_clear_error_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "agents", "show", "nope")
    assert code == 1 and out == ""
    assert err.startswith("Error: No research agent named 'nope'.")
    assert "mia agents list" in err and "Traceback" not in err


def test_usage_with_nothing_recorded_says_so_and_prints_no_total(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "usage")
    assert code == 0 and out.strip() == "No usage recorded yet."


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "agents", "list", "--no-such-flag")
    assert code == 2 and "No such option" in err


@pytest.mark.parametrize(("args", "message"), [
    (["   "], "question is empty"),
    (["DMD", "--sources", "pubmed,bogus"], "Unknown source 'bogus'"),
    (["DMD", "--budget", "-1"], "must not be negative"),
    (["DMD", "--depth", "bottomless"], "Unknown depth"),
    (["DMD", "--name", "Not A Slug"], "not a valid agent name"),
    (["x" * 1_048_576], "1,048,576 characters"),
    (["DMD", "--sources", "file"], "no documents were given"),  # it would plan, pay and find nothing
])
def test_bad_research_input_writes_nothing(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run(capsys, "research", *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    settings = load_settings()
    if settings.registry_path.exists():
        assert open_registry(settings.registry_path).query("SELECT * FROM agents") == []
    assert not (settings.workspace_root / "agents").exists()


def test_secrets_are_never_taken_from_argv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "config", "set", "perplexity.api_key", "pplx-leak-me")
    assert code == 2 and "pplx-leak-me" not in out + err
    assert not paths.secrets_file().exists()


def test_secret_from_stdin_is_stored_0600_and_masked(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("pplx-from-stdin-123\n"))
    code, _, _ = run(capsys, "config", "set", "perplexity.api_key")
    assert code == 0
    assert stat.S_IMODE(paths.secrets_file().stat().st_mode) == 0o600
    code, out, err = run(capsys, "config", "show", "--json")
    rows = {r["key"]: r for r in json.loads(out)}
    assert rows["perplexity.api_key"]["value"] == "****"
    assert rows["perplexity.api_key"]["source"].startswith("secrets:")
    assert "pplx-from-stdin-123" not in out + err


def test_config_set_plain_value_and_show_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "config", "set", "research.budget_usd", "0.3")[0] == 0
    code, out, _ = run(capsys, "config", "show", "--json")
    rows = {r["key"]: r for r in json.loads(out)}
    assert rows["research.budget_usd"]["value"] == 0.3
    assert rows["research.budget_usd"]["source"] == f"config:{paths.config_file()}"


def test_open_secrets_file_makes_every_command_fail_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    path = paths.secrets_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[perplexity]\napi_key = "pplx-x"\n')
    path.chmod(0o644)
    code, _, err = run(capsys, "agents", "list")
    assert code == 1 and f"chmod 600 '{path}'" in err and "Traceback" not in err


def test_internal_errors_hide_the_traceback_unless_debug(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import mia.store.agents as agents_module

    def broken(_: object) -> list[object]:
        raise ValueError("boom")

    monkeypatch.setattr(agents_module, "list_agents", broken)
    code, _, err = run(capsys, "agents", "list")
    assert code == 1 and "unexpected internal error (ValueError)" in err and "--debug" in err
    with pytest.raises(ValueError):
        main(["--debug", "agents", "list"])


def test_installed_entry_point_keeps_stdout_clean_on_error(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "mia"
    result = subprocess.run([str(exe), "agents", "show", "ghost"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert "Error: No research agent named 'ghost'." in result.stderr and "Traceback" not in result.stderr


def test_text_with_square_brackets_is_printed_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    registry = open_registry(load_settings().registry_path)
    create_agent(registry, question="Is [bold] exon skipping [/x] durable [1]?", sources=["pubmed"],
                 depth="quick", model="m", budget_usd=0.5, slug="brackets")
    code, out, err = run(capsys, "agents", "show", "brackets")
    assert code == 0, err
    assert "question: Is [bold] exon skipping [/x] durable [1]?" in out


def test_agents_show_json_gives_each_runs_cost_in_whole_micro_dollars(capsys: pytest.CaptureFixture[str]) -> None:
    from mia.models import Usage
    from mia.store.runs import create_run, record_usage

    registry = open_registry(load_settings().registry_path)
    agent = create_agent(registry, question="DMD treatments", sources=["pubmed"], depth="quick", model="m",
                         budget_usd=0.5)
    run_record = create_run(registry, agent_id=agent.id, kind="research", params={}, code_version="t")
    for cost in (0.1, 0.2, 0.000000012):  # sums to 0.30000001200000004 in floating point
        record_usage(registry, Usage(service="Workers AI", cost_usd=cost), run_id=run_record.id, agent_id=agent.id,
                     step_key=None)
    code, out, _ = run(capsys, "agents", "show", "dmd-treatments", "--json")
    assert code == 0
    assert json.loads(out)["runs"][0]["cost_usd"] == 0.3 and json.loads(out)["cost_usd"] == 0.3
