"""`mia ask` with an extra MCP server: its effectful tool waits for `mia approvals approve`, end to end."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.chat_llm import ChatLLM
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices, LLMReply, ScriptedLLM

from .conftest import Mia

NOTES_SERVER = Path(__file__).resolve().parents[1] / "fakes" / "mcp_notes_server.py"


@pytest.fixture
def chat() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def services(chat: ScriptedLLM, research_llm: ResearchLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=ChatLLM(chat, research_llm)) as fake:
        yield fake


def test_an_mcp_servers_effectful_tool_waits_for_approval_then_runs(mia: Mia, chat: ScriptedLLM,
                                                                    tmp_path: Path) -> None:
    notes = tmp_path / "board.txt"
    servers = [{"name": "board", "command": sys.executable, "args": [str(NOTES_SERVER)],
                "env": {"NOTES_FILE": str(notes)}}]
    env = {"MIA_MCP_SERVERS": json.dumps(servers)}
    chat.push(LLMReply(tool_calls=[{"name": "board__post_note", "arguments": {"text": "Trial readout Friday"}}]),
              "I asked to post it; it waits for your approval.")
    asked = mia.run("ask", "--json", "Post 'Trial readout Friday' to the board", extra_env=env)
    assert asked.returncode == 0, asked.stderr
    out = json.loads(asked.stdout)
    assert out["tool_calls"] == [{"name": "board__post_note", "arguments": {"text": "Trial readout Friday"},
                                  "ok": True}]
    assert not notes.exists()
    [pending] = json.loads(mia.run("approvals", "list", "--json", extra_env=env).stdout)
    assert pending["action"] == "mcp_call" and pending["payload"]["tool"] == "post_note"
    shown = mia.run("approvals", "show", str(pending["id"]), extra_env=env)
    assert "board__post_note" in shown.stdout and "Trial readout Friday" in shown.stdout
    approved = mia.run("approvals", "approve", str(pending["id"]), "--yes", extra_env=env)
    assert approved.returncode == 0, approved.stderr
    assert notes.read_text() == "Trial readout Friday\n"
    again = mia.run("approvals", "approve", str(pending["id"]), "--yes", extra_env=env)
    assert again.returncode != 0 and notes.read_text() == "Trial readout Friday\n"  # once only
