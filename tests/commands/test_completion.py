"""Shell completion: the installed `mia` completes agent names, trigger ids and approval ids."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fakes.finished_agent import make_finished_agent

from mia.settings import load_settings
from mia.store import approvals, triggers
from mia.store.agents import get_agent
from mia.store.db import open_registry

MIA = str(Path(sys.executable).parent / "mia")


def complete(line: str, shell: str = "zsh") -> list[str]:
    """What the shell gets for the last word of `line` (the protocol the installed script speaks)."""
    words = line.split(" ")
    env = {**os.environ, "_MIA_COMPLETE": f"complete_{shell}", "COMP_WORDS": line,  # bash
           "COMP_CWORD": str(len(words) - 1), "_TYPER_COMPLETE_ARGS": line}  # zsh
    done = subprocess.run([MIA], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture
def registry_with_things() -> None:
    make_finished_agent(slug="dmd-treatments")
    make_finished_agent(slug="sma-gene-therapy")
    registry = open_registry(load_settings({}).registry_path)
    agent = get_agent(registry, "dmd-treatments")
    triggers.add_trigger(registry, agent_id=agent.id, kind="every", spec="1w", tz="UTC",
                         instruction="new phase 3 results", next_due=None)
    approvals.request(registry, action="send_email", agent_id=agent.id, summary="Ask the EMBARK investigator",
                      reason="dosing", payload={}, requested_by="test", after_untrusted_text=False)


def test_agent_names_complete_with_their_question(registry_with_things: None) -> None:
    assert complete("mia report dmd", "bash") == ["dmd-treatments"]
    zsh = "\n".join(complete("mia export "))
    assert '"dmd-treatments":"DMD treatments"' in zsh and '"sma-gene-therapy":' in zsh
    assert complete("mia triggers add sma", "bash") == ["sma-gene-therapy"]
    assert complete("mia agents show s", "bash") == ["sma-gene-therapy"]


def test_trigger_and_approval_ids_complete(registry_with_things: None) -> None:
    assert complete("mia triggers pause ", "bash") == ["1"]
    zsh = "\n".join(complete("mia triggers show "))
    assert '"1":"dmd-treatments · every 1w · new phase 3 results"' in zsh
    assert complete("mia approvals approve ", "bash") == ["1"]
    assert any("pending · Ask the EMBARK investigator" in line for line in complete("mia approvals show "))


def test_without_a_registry_completion_offers_nothing_and_creates_nothing(mia_home: Path) -> None:
    assert complete("mia report ", "bash") == []
    assert not (mia_home / "registry.db").exists()


def test_install_completion_writes_the_script_for_the_shell(tmp_path: Path) -> None:
    # The shell is named: detection walks the process tree, which has no shell under some CI runners.
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    done = subprocess.run([MIA, "--install-completion", "bash"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    script = (tmp_path / ".bash_completions" / "mia.sh").read_text()
    assert "_MIA_COMPLETE=complete_bash" in script and ".bash_completions/mia.sh" in (tmp_path / ".bashrc").read_text()


def test_completion_code_is_not_loaded_by_mia_help() -> None:
    code = ("import sys; from mia.commands.app import main; import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
            "print('mia.settings' in sys.modules, 'sqlite3' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=tempfile.gettempdir())  # the checkout's mia/ would shadow the installed package
    assert done.stdout.split() == ["False", "False"], done.stderr
