"""`mcp.servers`: a list of tables in config.toml (or JSON in MIA_MCP_SERVERS), checked, shown with env masked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mia.errors import ConfigError, UsageError
from mia.settings import describe, load_settings, set_value

BOARD = '''
[[mcp.servers]]
name = "board"
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/notes"]

[mcp.servers.env]
BOARD_TOKEN = "tok-1234567890"

[[mcp.servers]]
name = "glossary"
url = "http://127.0.0.1:8000/mcp"
trusted = true
'''


def test_servers_come_from_config_toml_as_a_list_of_tables() -> None:
    Path(os.environ["MIA_CONFIG"]).parent.mkdir(parents=True, exist_ok=True)
    Path(os.environ["MIA_CONFIG"]).write_text(BOARD)
    board, glossary = load_settings().mcp.servers
    assert (board.name, board.command, board.args[-1], board.trusted) == ("board", "npx", "/srv/notes", False)
    assert (glossary.url, glossary.trusted, glossary.command) == ("http://127.0.0.1:8000/mcp", True, None)
    [row] = [r for r in describe(load_settings()) if r["key"] == "mcp.servers"]
    assert row["value"][0]["env"] == {"BOARD_TOKEN": "****"} and "tok-1234567890" not in str(row)


def test_a_server_needs_exactly_one_way_to_be_reached_and_a_unique_name() -> None:
    with pytest.raises(ConfigError, match="needs one way to reach it"):
        load_settings(env={"MIA_MCP_SERVERS": '[{"name": "x", "command": "a", "url": "http://127.0.0.1/mcp"}]'})
    with pytest.raises(ConfigError, match="same name"):
        load_settings(env={"MIA_MCP_SERVERS": '[{"name": "x", "command": "a"}, {"name": "x", "command": "b"}]'})
    with pytest.raises(ConfigError, match="JSON list of servers"):
        load_settings(env={"MIA_MCP_SERVERS": "board"})


def test_config_set_takes_the_list_as_json_and_refuses_a_broken_one() -> None:
    set_value("mcp.servers", '[{"name": "board", "command": "npx", "args": ["-y", "server"]}]')
    assert load_settings().mcp.servers[0].args == ["-y", "server"]
    with pytest.raises(UsageError, match="takes a JSON list"):
        set_value("mcp.servers", "board")
    with pytest.raises(UsageError, match="needs one way to reach it"):
        set_value("mcp.servers", '[{"name": "b"}]')
