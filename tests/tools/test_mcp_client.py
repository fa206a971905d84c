"""MCP servers' tools from synchronous code: a real server started by the test, over stdio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mia.errors import ServiceError
from mia.settings import MCPServerSettings
from mia.tools.mcp_client import MCPHub

SERVER = Path(__file__).resolve().parents[1] / "fakes" / "mcp_notes_server.py"


def notes_server(tmp_path: Path, **extra: object) -> MCPServerSettings:
    return MCPServerSettings.model_validate({"name": "notes", "command": sys.executable, "args": [str(SERVER)],
                                             "env": {"NOTES_FILE": str(tmp_path / "notes.txt")}, **extra})


def test_the_hub_lists_a_servers_tools_and_calls_one(tmp_path: Path) -> None:
    with MCPHub([notes_server(tmp_path)], log_dir=tmp_path / "logs") as hub:
        tools = {t.name: t for t in hub.tools()}
        assert set(tools) == {"lookup", "post_note", "fail"}
        assert tools["post_note"].input_schema["properties"]["text"]["type"] == "string"
        assert tools["post_note"].trusted is False and tools["post_note"].description.startswith("Post a note")
        result = hub.call("notes", "post_note", {"text": "hello"})
        assert not result.is_error and result.text == "Posted: hello"
        failed = hub.call("notes", "fail", {"reason": "no"})
        assert failed.is_error and "refused: no" in failed.text
    assert (tmp_path / "notes.txt").read_text() == "hello\n"


def test_a_server_that_does_not_start_is_left_out_with_its_reason(tmp_path: Path) -> None:
    broken = MCPServerSettings(name="broken", command=str(tmp_path / "no-such-server"))
    with MCPHub([broken, notes_server(tmp_path)], log_dir=tmp_path / "logs") as hub:
        assert {t.server for t in hub.tools()} == {"notes"}
        assert "The MCP server 'broken'" in hub.errors["broken"] and "did not start" in hub.errors["broken"]
        with pytest.raises(ServiceError, match="did not start"):
            hub.connect("broken")


def test_a_server_that_exits_at_once_is_reported_not_hung_on(tmp_path: Path) -> None:
    quitter = MCPServerSettings(name="quitter", command=sys.executable, args=["-c", "import sys; sys.exit(3)"])
    with MCPHub([quitter], log_dir=tmp_path / "logs") as hub, pytest.raises(ServiceError) as caught:
        hub.connect("quitter")
    assert "The MCP server 'quitter'" in caught.value.message
