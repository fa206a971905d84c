"""Other MCP servers' tools, for the Interaction Agent: connect, list tools, call one, from synchronous code.

Built on the official MCP Python SDK's `Client` (https://py.sdk.modelcontextprotocol.io/, "Clients"): a
command is launched as a stdio subprocess (`stdio_client`, its stderr going to MIA_HOME/logs/mcp-NAME.log so
it never draws over the terminal), a URL is reached over Streamable HTTP. The SDK is async; `MCPHub` runs
its event loop in one background thread (anyio's blocking portal) and keeps each server's session open
until `close()`. The server's environment is the SDK's safe default plus the server's own `env`: mia's
credentials are never passed on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from mia.errors import ServiceError
from mia.settings import MCPServerSettings, Settings
from mia.tools.health import Check

CONNECT_SECONDS = 30.0
CALL_SECONDS = 120.0


@dataclass
class RemoteTool:
    """One tool of an MCP server: its name there, what it says it does, and its JSON Schema."""

    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    trusted: bool


@dataclass
class RemoteResult:
    """A tool call's outcome: its text content (what a model may read) and whether the tool reported an error."""

    text: str
    is_error: bool


@dataclass
class _Connection:
    spec: MCPServerSettings
    client: Any
    exit: Any  # the portal-wrapped context manager that closes the session and the process
    tools: list[RemoteTool] = field(default_factory=list)


def result_text(result: Any) -> str:
    """The text of a CallToolResult: text blocks as they are, other blocks named, structured content as JSON."""
    import json

    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource" and hasattr(getattr(block, "resource", None), "text"):
            parts.append(block.resource.text)
        else:
            parts.append(f"[{kind or 'content'} omitted]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


class MCPHub:
    """Connections to the configured MCP servers, opened on first use and closed together."""

    def __init__(self, servers: list[MCPServerSettings], *, log_dir: Path | None = None) -> None:
        self.servers = {s.name: s for s in servers}
        self.log_dir = log_dir
        self.errors: dict[str, str] = {}  # server name -> why it could not be used
        self._connections: dict[str, _Connection] = {}
        self._portal_cm: Any = None
        self._portal: Any = None
        self._logs: list[TextIO] = []

    def __enter__(self) -> MCPHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tools(self) -> list[RemoteTool]:
        """Every tool of every server that started; a server that failed is left out, its reason in `errors`."""
        found: list[RemoteTool] = []
        for name in self.servers:
            if name in self.errors:
                continue
            try:
                found += self.connect(name).tools
            except ServiceError as exc:
                self.errors[name] = exc.message
        return found

    def connect(self, name: str) -> _Connection:
        """The open session of server `name` (started now if needed); ServiceError when it cannot start."""
        if name in self._connections:
            return self._connections[name]
        spec = self.servers[name]
        portal = self._start_portal()
        try:
            wrapped = portal.wrap_async_context_manager(self._client(spec))
            client = wrapped.__enter__()
        except Exception as exc:  # a missing command, a crash at start-up, a refused connection
            raise self._failure(spec, "did not start", exc) from None
        connection = _Connection(spec, client, wrapped)
        try:
            listed = portal.call(self._list_tools, client)
        except Exception as exc:
            wrapped.__exit__(None, None, None)
            raise self._failure(spec, "did not answer tools/list", exc) from None
        connection.tools = [RemoteTool(spec.name, t.name, t.description or "", dict(t.input_schema or {}),
                                       spec.trusted) for t in listed]
        self._connections[name] = connection
        return connection

    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> RemoteResult:
        """Call one tool; a protocol failure or a timeout is a ServiceError, a tool's own error is `is_error`."""
        connection = self.connect(server)
        try:
            result = self._portal.call(self._call, connection.client, tool, arguments)
        except Exception as exc:
            raise self._failure(connection.spec, f"failed to run '{tool}'", exc) from None
        return RemoteResult(result_text(result), bool(getattr(result, "is_error", False)))

    def close(self) -> None:
        """End every session (and stop the servers mia launched), then the event loop thread."""
        for connection in self._connections.values():
            with contextlib.suppress(Exception):
                connection.exit.__exit__(None, None, None)
        self._connections.clear()
        if self._portal_cm is not None:
            with contextlib.suppress(Exception):
                self._portal_cm.__exit__(None, None, None)
            self._portal_cm = self._portal = None
        for log in self._logs:
            log.close()
        self._logs.clear()

    # --- inside the event loop ---------------------------------------------------------------

    @staticmethod
    async def _list_tools(client: Any) -> list[Any]:
        import anyio

        with anyio.fail_after(CONNECT_SECONDS):
            tools: list[Any] = []
            cursor = None
            while True:
                page = await client.list_tools(cursor=cursor) if cursor else await client.list_tools()
                tools += page.tools
                cursor = getattr(page, "next_cursor", None)
                if not cursor:
                    return tools

    @staticmethod
    async def _call(client: Any, tool: str, arguments: dict[str, Any]) -> Any:
        import anyio

        with anyio.fail_after(CALL_SECONDS):
            return await client.call_tool(tool, arguments, read_timeout_seconds=CALL_SECONDS)

    # --- helpers -----------------------------------------------------------------------------

    def _start_portal(self) -> Any:
        if self._portal is None:
            from anyio.from_thread import start_blocking_portal

            self._portal_cm = start_blocking_portal()
            self._portal = self._portal_cm.__enter__()
        return self._portal

    def _client(self, spec: MCPServerSettings) -> Any:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if spec.url:
            return Client(streamable_http_client(spec.url), read_timeout_seconds=CONNECT_SECONDS)
        params = StdioServerParameters(command=spec.command or "", args=spec.args, env=spec.env or None)
        return Client(stdio_client(params, errlog=self._log(spec.name)), read_timeout_seconds=CONNECT_SECONDS)

    def _log(self, name: str) -> TextIO:
        import os
        import sys

        if self.log_dir is None:
            return open(os.devnull, "w")  # noqa: SIM115 - closed in close()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            log = open(self.log_dir / f"mcp-{name}.log", "a", encoding="utf-8")  # noqa: SIM115
        except OSError:
            return sys.stderr
        self._logs.append(log)
        return log

    def _failure(self, spec: MCPServerSettings, what: str, exc: BaseException) -> ServiceError:
        reason = _reason(exc)
        where = spec.url or " ".join([spec.command or "", *spec.args])
        log = f" Its messages are in {self.log_dir / f'mcp-{spec.name}.log'}." if self.log_dir and spec.command else ""
        return ServiceError(f"The MCP server '{spec.name}' ({where}) {what}: {reason}.",
                            f"Check its entry in mcp.servers (`mia config show`).{log}", service=f"MCP {spec.name}")


def _reason(exc: BaseException) -> str:
    """The innermost useful message of an exception (the SDK wraps failures in exception groups)."""
    for inner in _leaves(exc):
        text = str(inner).strip()
        if text:
            return f"{type(inner).__name__}: {text}"[:300]
    return type(exc).__name__


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def mcp_server_checks(settings: Settings) -> list[Callable[[], Check]]:
    """`mia doctor`'s lines for `mcp.servers`: does each server start and answer tools/list?"""
    def check(spec: MCPServerSettings) -> Check:
        trust = "trusted: its tools run without approval" if spec.trusted else "its tools wait for approval"
        with MCPHub([spec], log_dir=settings.home / "logs") as hub:
            try:
                tools = hub.connect(spec.name).tools
            except ServiceError as exc:
                return Check(f"MCP server {spec.name}", "warn", exc.message, exc.hint or "")
        names = ", ".join(t.name for t in tools[:6]) + (", …" if len(tools) > 6 else "")
        return Check(f"MCP server {spec.name}", "ok", f"{len(tools)} tool(s) ({names}); {trust}")

    return [partial(check, spec) for spec in settings.mcp.servers]
