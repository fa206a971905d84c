"""Tools of the MCP servers in `mcp.servers`, offered to the Interaction Agent under the prefix `SERVER__`.

A server marked `trusted` has its tools run when the model calls them. Every tool of any other server goes
through the approval mechanism (`needs_approval`): the call becomes a pending approval (action `mcp_call`,
payload: server, tool, arguments; carried out by `mia.agents.outreach.mcp_calls`) and runs only when a person
approves it with `mia approvals approve`.
Whatever a tool returns reaches the model as data, like web results.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from mia.agents.chat.tool_registry import Tool, ToolContext, ToolError, ToolRegistry
from mia.agents.chat.tools import default_tools
from mia.agents.outreach.mcp_calls import ACTION
from mia.settings import Settings
from mia.tools.mcp_client import MCPHub, RemoteTool

MAX_NAME = 64  # the longest function name OpenAI-style tool lists accept


class RemoteArgs(BaseModel):
    """Whatever the remote tool's own JSON Schema describes; the server validates it."""

    model_config = ConfigDict(extra="allow")


def tool_name(server: str, tool: str) -> str:
    """`server__tool`, in the characters function names may use."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}__{tool}")[:MAX_NAME]


def chat_tools(settings: Settings, hub: MCPHub | None) -> ToolRegistry:
    """The Interaction Agent's tools plus the tools of every configured MCP server that starts."""
    registry = default_tools()
    if hub is None:
        return registry
    for remote in hub.tools():
        name = tool_name(remote.server, remote.name)
        if registry.get(name) is None:
            registry.register(remote_tool(hub, remote, name))
    return registry


def remote_tool(hub: MCPHub, remote: RemoteTool, name: str) -> Tool:
    """One MCP tool as a chat tool; untrusted servers' tools need a person's approval."""
    def run(ctx: ToolContext, args: RemoteArgs) -> str:
        result = hub.call(remote.server, remote.name, args.model_dump())
        if result.is_error:
            raise ToolError(f"'{remote.name}' on the MCP server '{remote.server}' reported an error: "
                            f"{result.text[:2000]}")
        return result.text

    def payload(args: BaseModel) -> dict[str, Any]:
        return {"server": remote.server, "tool": remote.name, "arguments": args.model_dump(mode="json")}

    approval = "" if remote.trusted else " Runs only after the person approves it."
    description = f"[MCP server '{remote.server}']{approval} {remote.description}".strip()
    return Tool(name, description[:1024], RemoteArgs, run, needs_approval=not remote.trusted,
                parameters=_parameters(remote.input_schema), action=ACTION, approval_payload=payload)


def _parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """The tool's JSON Schema as a function's parameters (an object, even when the server sent none)."""
    if schema.get("type") != "object":
        return {"type": "object", "properties": {}, "required": []}
    return {"type": "object", "properties": dict(schema.get("properties") or {}),
            "required": list(schema.get("required") or [])}
