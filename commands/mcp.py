"""`mia mcp`: mia's research agents as a Model Context Protocol server over stdio, for other AI tools.

Built with the official MCP Python SDK (`mcp` 2.x, `mcp.server.MCPServer`, documented at
https://py.sdk.modelcontextprotocol.io/). stdout carries the protocol only: nothing here prints.
Research runs go on in background threads of the server process (as in `mia chat`); a tool that starts
one returns within its `wait_seconds` bound, and `research_status` polls it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from mia.agents.chat.background import Background, BackgroundJob
    from mia.settings import Settings
    from mia.store.agents import AgentRecord
    from mia.store.db import Registry

MAX_WAIT_SECONDS = 30.0
START_GRACE_SECONDS = 5.0  # how long a start waits for the run's record even when asked not to wait
POLL_SECONDS = 0.05
REPORT_URI = "mia://agents/{name}/report"
INSTRUCTIONS = (
    "mia runs durable medical research agents that search PubMed, Europe PMC, ClinicalTrials.gov and the web "
    "and write cited reports. Start one with start_research, poll it with research_status until finished is "
    "true, then read_report. ask_agent sends an existing agent a follow-up; add_trigger wakes it on a schedule.")

F = TypeVar("F", bound=Callable[..., Any])


def mcp() -> None:
    """Serve mia over MCP on stdin/stdout (for desktop assistants and other agents)."""
    from mia.agents.chat.background import Background
    from mia.commands.common import open_state

    settings, registry = open_state()  # fails early, on stderr, when the registry cannot be used
    registry.close()
    if sys.stdin.isatty():  # a person, not an MCP client: say what this is (stderr; stdout is the protocol)
        sys.stderr.write("mia mcp speaks the Model Context Protocol on stdin/stdout: start it from an MCP client "
                         "(see the README, 'mia for other AI tools'). Ctrl+C stops it.\n")
    build_server(settings, Background(settings)).run("stdio")


def mia_errors(fn: F) -> F:
    """Turn a MiaError into the SDK's ToolError: the client gets an error result with mia's message and hint."""
    from mcp.server.mcpserver.exceptions import ToolError

    from mia.errors import MiaError

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MiaError as exc:
            raise ToolError(str(exc)) from None  # str() is the message, then the hint on its own line

    return wrapper  # type: ignore[return-value]


class MiaTools:
    """The tools' bodies: each opens its own registry connection (the SDK runs sync tools in worker threads)."""

    def __init__(self, settings: Settings, background: Background) -> None:
        self.settings = settings
        self.background = background

    @contextmanager
    def registry(self) -> Iterator[Registry]:
        from mia.store.db import open_registry

        registry = open_registry(self.settings.registry_path)
        try:
            yield registry
        finally:
            registry.close()

    def start_research(self, question: str, sources: list[str] | None = None, depth: str | None = None,
                       name: str | None = None, files: list[str] | None = None,
                       wait_seconds: float = 5.0) -> dict[str, Any]:
        """Start a research agent; returns within `wait_seconds` (at most 30) with its name, run and status.

        `files`: absolute paths, folders or globs of the person's own PDF, DOCX, Markdown or text files on this
        machine; they are copied to the agent and cited with their page."""
        from mia.agents.research.service import validate_request

        with self.registry() as registry:
            slug = name or self._free_name(registry, question)
            request = validate_request(self.settings, question=question, sources=",".join(sources or []) or None,
                                       depth=depth, budget=None, model=None, name=slug, files=files or ())
            if registry.one("SELECT 1 AS x FROM agents WHERE slug = ?", (slug,)) or self.background.reserved(slug):
                from mia.errors import UsageError

                raise UsageError(f"An agent named '{slug}' already exists.",
                                 "Pick another name, or send it a follow-up with ask_agent.")
        job = self.background.spawn(request, conversation_id=None)
        return self._after_start(job, slug, wait_seconds)

    def ask_agent(self, agent: str, follow_up: str, wait_seconds: float = 5.0) -> dict[str, Any]:
        """Start a follow-up run of an existing agent (a new report version); returns like start_research."""
        from mia.errors import RunConflict, UsageError
        from mia.store.agents import get_agent

        if not follow_up.strip():
            raise UsageError("The follow-up is empty.", "Say what the agent should look into now.")
        with self.registry() as registry:
            record = get_agent(registry, agent)
            busy = not self._status(registry, record, self._job(record.slug))["finished"]
        if busy:
            raise RunConflict(f"Agent '{record.slug}' is already working.",
                              "Poll research_status until it has finished, then ask again.")
        job = self.background.follow_up(record.slug, follow_up, conversation_id=None)
        return self._after_start(job, record.slug, wait_seconds, after_run=record.last_run_id)

    def research_status(self, agent: str) -> dict[str, Any]:
        """Where an agent's latest run is: status, stage, run id, cost; `finished` says whether to stop polling."""
        from mia.errors import NotFoundError
        from mia.store.agents import get_agent

        job = self._job(agent)
        with self.registry() as registry:
            try:
                record = get_agent(registry, agent)
            except NotFoundError:
                if job is None:
                    raise
                if job.running:  # the agent's record is about to be written
                    return {"agent": agent, "status": "starting", "finished": False, "run_id": None}
                return {"agent": agent, "status": job.status, "finished": True, "run_id": None,
                        "message": job.message}
            return self._status(registry, record, self._job(record.slug))

    def _status(self, registry: Registry, record: AgentRecord, job: BackgroundJob | None) -> dict[str, Any]:
        from mia.store.runs import FINISHED, abandoned_runs, latest_run

        run = latest_run(registry, record.id)
        spend = registry.one("SELECT COALESCE(SUM(cost_usd), 0) AS cost FROM usage WHERE agent_id = ?",
                             (record.id,))
        interrupted = (run is not None and (job is None or not job.running)
                       and run.id in {r.id for r in abandoned_runs(registry)})
        finished = run is None or run.status in FINISHED or interrupted
        if job is not None and job.running:
            finished = False
        data: dict[str, Any] = {
            "agent": record.slug, "status": "interrupted" if interrupted else record.status, "finished": finished,
            "run_id": run.id if run else None, "run_status": run.status if run else None,
            "stage": run.stage if run else None, "outcome": run.outcome if run else None,
            "report_version": record.report_version, "report_uri": REPORT_URI.format(name=record.slug),
            "cost_usd": round(float((spend or {"cost": 0})["cost"]), 6)}
        if run is not None and run.error:
            data["error"] = run.error
        if interrupted:
            data["message"] = (f"The run was interrupted. Resume it with `mia agents resume {record.slug}` "
                               "in a terminal.")
        elif job is not None and not job.running:
            data["message"] = job.message
        return data

    def _job(self, name: str) -> BackgroundJob | None:
        return next((j for j in reversed(self.background.jobs) if j.name == name), None)

    def list_agents(self) -> dict[str, Any]:
        """Every research agent (`agents`: each in the shape `mia agents list --json` prints)."""
        from mia.commands.agents import agent_json
        from mia.store.agents import list_agents

        with self.registry() as registry:
            return {"agents": [agent_json(self.settings, registry, a) for a in list_agents(registry)]}

    def read_report(self, agent: str, version: int | None = None) -> dict[str, Any]:
        """An agent's report (latest, or `version`) as Markdown, with its numbered sources."""
        import json

        from mia.errors import NotFoundError
        from mia.store.agents import get_agent
        from mia.store.workspace import Workspace

        with self.registry() as registry:
            record = get_agent(registry, agent)
        folder = Workspace(self.settings.workspace_root).agent_dir(record.slug)
        path = folder / "report.md" if version is None else folder / "reports" / f"v{version}.md"
        if not path.is_file():
            which = "no report yet" if version is None else f"no report v{version}"
            raise NotFoundError(f"Agent '{record.slug}' has {which} (status: {record.status}, latest version "
                                f"v{record.report_version}).", "Poll research_status until it has finished.")
        try:
            sources = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            sources = []
        keys = ("number", "title", "url", "kind", "identifier", "date")
        return {"agent": record.slug, "version": version or record.report_version, "status": record.status,
                "report": path.read_text(encoding="utf-8"),
                "sources": [{k: s.get(k) for k in keys} for s in sources if isinstance(s, dict)]}

    def add_trigger(self, agent: str, cron: str | None = None, every: str | None = None, at: str | None = None,
                    tz: str | None = None, instruction: str = "") -> dict[str, Any]:
        """Wake an agent on a schedule (cron + tz, an interval like 6h, or one time); the same twice is one."""
        from mia.agents.schedule.triggers import add
        from mia.commands.triggers import trigger_json

        with self.registry() as registry:
            record, created = add(registry, agent_ref=agent, cron=cron, tz=tz, every=every, at=at,
                                  instruction=instruction)
            return {**trigger_json(record), "created": created}

    def report_resource(self, name: str) -> str:
        """The text of an agent's latest report (the resource mia://agents/{name}/report)."""
        from mcp.server.mcpserver.exceptions import ResourceNotFoundError

        from mia.errors import MiaError

        try:
            return str(self.read_report(name)["report"])
        except MiaError as exc:
            raise ResourceNotFoundError(str(exc)) from None

    def _free_name(self, registry: Registry, question: str) -> str:
        from mia.store.workspace import slugify

        base = slugify(question)
        name, n = base, 2
        while registry.one("SELECT 1 AS x FROM agents WHERE slug = ?", (name,)) or self.background.reserved(name):
            name, n = f"{base}-{n}", n + 1
        return name

    def _after_start(self, job: BackgroundJob, slug: str, wait_seconds: float,
                     after_run: str | None = None) -> dict[str, Any]:
        """Wait (bounded) for the job to finish, or at least for its run to be recorded; then its status."""
        from mia.errors import MiaError

        wait = min(max(float(wait_seconds), 0.0), MAX_WAIT_SECONDS)
        started = time.monotonic()
        while job.running:
            elapsed = time.monotonic() - started
            if elapsed >= wait and (elapsed >= wait + START_GRACE_SECONDS or self._run_id(slug, after_run)):
                break
            time.sleep(POLL_SECONDS)
        if job.status == "failed" and not self._run_id(slug, after_run):
            raise MiaError(job.message, "Fix the cause and call the tool again.")
        return self.research_status(job.name if not job.running else slug)

    def _run_id(self, slug: str, after_run: str | None) -> str | None:
        from mia.errors import NotFoundError
        from mia.store.agents import get_agent
        from mia.store.runs import latest_run

        with self.registry() as registry:
            try:
                run = latest_run(registry, get_agent(registry, slug).id)
            except NotFoundError:
                return None
        return run.id if run is not None and run.id != after_run else None


def build_server(settings: Settings, background: Background) -> MCPServer:
    """The MCP server: six tools and one resource per agent (its latest report, as Markdown)."""
    from mcp.server import MCPServer
    from mcp_types import Resource

    from mia import __version__
    from mia.store.agents import list_agents

    tools = MiaTools(settings, background)

    class MiaServer(MCPServer):
        async def list_resources(self) -> list[Resource]:
            """One resource per agent that has a report, listed fresh on every request."""
            import anyio.to_thread

            def agents() -> list[Resource]:
                with tools.registry() as registry:
                    return [Resource(uri=REPORT_URI.format(name=a.slug), name=f"{a.slug} report",
                                     description=f"Latest report (v{a.report_version}) on: {a.question[:200]}",
                                     mime_type="text/markdown")
                            for a in list_agents(registry) if a.report_version > 0]

            return [*await super().list_resources(), *await anyio.to_thread.run_sync(agents)]

    server = MiaServer("mia", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    for method in (tools.start_research, tools.research_status, tools.list_agents, tools.read_report,
                   tools.ask_agent, tools.add_trigger):
        server.add_tool(mia_errors(method), name=method.__name__, description=method.__doc__)
    server.resource(REPORT_URI, name="report", mime_type="text/markdown",
                    description="An agent's latest report, as Markdown.")(tools.report_resource)
    return server
