"""`mia mcp` end to end: the MCP SDK's own client starts the installed `mia mcp` over stdio and researches."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from .conftest import MIA, Mia

NOTES_SERVER = Path(__file__).resolve().parents[1] / "fakes" / "mcp_notes_server.py"
TOOLS = {"start_research", "research_status", "list_agents", "read_report", "ask_agent", "add_trigger"}


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.content and json.loads(result.content[0].text) == result.structured_content
    return dict(result.structured_content)


async def poll_until_finished(client: Client, agent: str, seconds: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = structured(await client.call_tool("research_status", {"agent": agent}))
        if status["finished"]:
            return status
        await anyio.sleep(0.2)
    raise AssertionError(f"{agent} did not finish in {seconds} s")


def test_an_mcp_client_starts_a_research_polls_it_and_reads_the_cited_report(mia: Mia) -> None:
    server = StdioServerParameters(command=MIA, args=["mcp"], env=mia.env)

    async def session() -> None:
        async with Client(server, read_timeout_seconds=60) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            started = time.monotonic()
            start = structured(await client.call_tool(
                "start_research", {"question": "DMD treatments", "depth": "quick", "wait_seconds": 0}))
            assert time.monotonic() - started < 10  # bounded: it does not wait for the run
            assert start["agent"] == "dmd-treatments" and start["run_id"]
            done = await poll_until_finished(client, "dmd-treatments")
            assert done["status"] == "done" and done["run_id"] == start["run_id"] and done["cost_usd"] > 0
            report = structured(await client.call_tool("read_report", {"agent": "dmd-treatments"}))
            assert report["version"] == 1 and "## Sources" in report["report"]
            numbers = {s["number"] for s in report["sources"]}
            assert len(numbers) > 5 and {"url", "title", "kind"} <= set(report["sources"][0])
            resources = (await client.list_resources()).resources
            assert [str(r.uri) for r in resources] == ["mia://agents/dmd-treatments/report"]
            read = await client.read_resource("mia://agents/dmd-treatments/report")
            assert read.contents[0].text == report["report"]
            agents = structured(await client.call_tool("list_agents", {}))["agents"]
            assert [a["name"] for a in agents] == ["dmd-treatments"]
            trigger = structured(await client.call_tool(
                "add_trigger", {"agent": "dmd-treatments", "every": "1d", "instruction": "new phase 3 results"}))
            assert trigger["created"] and trigger["agent"] == "dmd-treatments" and trigger["kind"] == "every"
            follow = structured(await client.call_tool(
                "ask_agent", {"agent": "dmd-treatments", "follow_up": "What about exon skipping?",
                              "wait_seconds": 0}))
            assert follow["run_id"] and follow["run_id"] != start["run_id"] and not follow["finished"]
            again = await client.call_tool("ask_agent", {"agent": "dmd-treatments", "follow_up": "And more?"})
            assert again.is_error and "already working" in again.content[0].text  # one run at a time
            followed = await poll_until_finished(client, "dmd-treatments")
            assert followed["run_id"] == follow["run_id"] and followed["run_status"] == "succeeded"

    anyio.run(session)


def test_tool_errors_reach_the_mcp_client_with_mias_message_and_hint(mia: Mia) -> None:
    server = StdioServerParameters(command=MIA, args=["mcp"], env=mia.env)

    async def session() -> None:
        async with Client(server, read_timeout_seconds=60) as client:
            missing = await client.call_tool("read_report", {"agent": "no-such-agent"})
            assert missing.is_error
            assert "No research agent named 'no-such-agent'." in missing.content[0].text
            assert "mia agents list" in missing.content[0].text  # the hint travels too
            nofile = await client.call_tool("start_research", {"question": "DMD", "files": ["/nowhere/*.pdf"]})
            assert nofile.is_error and "No file matches '/nowhere/*.pdf'." in nofile.content[0].text
            empty = await client.call_tool("start_research", {"question": "   "})
            assert empty.is_error and "The research question is empty." in empty.content[0].text
            trigger = await client.call_tool("add_trigger", {"agent": "no-such-agent", "every": "6h"})
            assert trigger.is_error and "no-such-agent" in trigger.content[0].text

    anyio.run(session)


def test_doctor_lists_each_mcp_server_and_whether_it_answers_tools_list(mia: Mia, tmp_path: Path) -> None:
    servers = [{"name": "notes", "command": sys.executable, "args": [str(NOTES_SERVER)],
                "env": {"NOTES_FILE": str(tmp_path / "notes.txt")}},
               {"name": "gone", "command": str(tmp_path / "no-such-server"), "trusted": True}]
    result = mia.run("doctor", "--json", extra_env={"MIA_MCP_SERVERS": json.dumps(servers)})
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    notes, gone = checks["MCP server notes"], checks["MCP server gone"]
    assert notes["status"] == "ok" and notes["detail"].startswith("3 tool(s) (lookup, post_note, fail)")
    assert "wait for approval" in notes["detail"]
    assert gone["status"] == "warn" and "did not start" in gone["detail"] and "mcp.servers" in gone["fix"]
    assert result.returncode == 0, result.stdout  # an MCP server is not what research needs
    text = mia.run("doctor", extra_env={"MIA_MCP_SERVERS": json.dumps(servers), "COLUMNS": "80"}).stdout
    assert "MCP server notes: 3 tool(s)" in text and "warn  MCP server gone" in text


def test_an_mcp_client_researches_with_the_persons_own_pdf(mia: Mia, tmp_path: Path) -> None:
    from fakes.documents import make_pdf

    pdf = make_pdf(tmp_path / "protocol.pdf", ["Eligibility.", "DMD treatments: the primary endpoint was "
                                                                 "dystrophin expression at week 48."])
    server = StdioServerParameters(command=MIA, args=["mcp"], env=mia.env)

    async def session() -> None:
        async with Client(server, read_timeout_seconds=60) as client:
            start = structured(await client.call_tool("start_research", {
                "question": "DMD treatments", "depth": "quick", "sources": ["pubmed"], "files": [str(pdf)],
                "wait_seconds": 30}))
            await poll_until_finished(client, start["agent"])
            report = structured(await client.call_tool("read_report", {"agent": start["agent"]}))
            assert "protocol.pdf, p. 2" in {s["title"] for s in report["sources"]}

    anyio.run(session)
