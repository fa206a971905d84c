"""The Interaction Agent's tools: research agents, reports, follow-ups, web search, workspace files."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mia.agents.chat.document_tools import SEARCH_DOCUMENTS
from mia.agents.chat.tool_registry import Tool, ToolContext, ToolError, ToolRegistry
from mia.errors import WorkspaceError
from mia.store import agents as agent_store
from mia.store.workspace import Workspace, slugify

MAX_REPORT_CHARS = 12_000
MAX_FILE_CHARS = 20_000
MAX_WRITE_CHARS = 200_000
MAX_LISTED = 200
SourceName = Literal["web", "pubmed", "europepmc", "trials"]


class SpawnResearchArgs(BaseModel):
    question: str = Field(description="The research question, e.g. 'gene therapy for Duchenne muscular dystrophy'.")
    sources: list[SourceName] = Field(default_factory=list,
                                      description="Sources to search (web, pubmed, europepmc, trials); "
                                                  "empty for the configured default.")
    depth: Literal["quick", "standard", "deep"] | None = Field(
        default=None, description="quick, standard or deep; leave out for the configured default.")


class AgentArgs(BaseModel):
    agent: str = Field(description="The research agent's name (slug) or id.")


class AskAgentArgs(BaseModel):
    agent: str = Field(description="The research agent's name (slug) or id.")
    follow_up: str = Field(description="What the agent should look into now; it writes a new report version.")


class SearchArgs(BaseModel):
    query: str = Field(min_length=2, description="A short web search query.")


class NoArgs(BaseModel):
    """No arguments."""


class PathArgs(BaseModel):
    path: str = Field(description="A path relative to the workspace folder, e.g. 'notes/ideas.md'.")


class ListArgs(BaseModel):
    path: str = Field(default=".", description="A folder relative to the workspace ('.' for all of it).")


class WriteArgs(BaseModel):
    path: str = Field(description="A path relative to the workspace folder, e.g. 'notes/ideas.md'.")
    content: str = Field(max_length=MAX_WRITE_CHARS, description="The whole text of the file.")


class DraftEmailArgs(BaseModel):
    to: str = Field(description="The recipient's e-mail address, e.g. an investigator's or author's.")
    subject: str = Field(description="A one-line subject.")
    body: str = Field(description="The whole message, polite and specific, signed by the person.")
    reason: str = Field(description="Why this message is needed: what the research cannot answer without it.")
    agent: str | None = Field(default=None, description="The research agent it is for (name), if any.")


def draft_email(ctx: ToolContext, args: DraftEmailArgs) -> str:
    """Draft only: the person must approve before anything is sent."""
    from mia.agents.outreach.mail import draft_email as make_draft

    record = make_draft(ctx.settings, ctx.registry, agent_ref=args.agent, to=args.to, subject=args.subject,
                        body=args.body, reason=args.reason, requested_by=f"conversation {ctx.conversation_id}",
                        after_untrusted_text=ctx.untrusted)
    return (f"Draft saved; it waits for the person's approval (#{record.id}) and is not sent. They can read it "
            f"with `mia approvals show {record.id}` and send it with `mia approvals approve {record.id}`.")


def free_agent_name(ctx: ToolContext, question: str) -> str:
    """A slug for a new agent that no agent, and no research about to start, uses yet."""
    base = slugify(question)
    taken = {row["slug"] for row in ctx.registry.query(
        "SELECT slug FROM agents WHERE slug = ? OR slug LIKE ?", (base, f"{base}-%"))}
    name, n = base, 2
    while name in taken or ctx.background.reserved(name):
        name, n = f"{base}-{n}", n + 1
    return name


def spawn_research(ctx: ToolContext, args: SpawnResearchArgs) -> str:
    """Validate the request, then start the run in the background."""
    from mia.agents.research.service import validate_request

    name = free_agent_name(ctx, args.question)
    request = validate_request(ctx.settings, question=args.question, sources=",".join(args.sources) or None,
                               depth=args.depth, budget=None, model=None, name=name)
    ctx.background.spawn(request, conversation_id=ctx.conversation_id)
    review = (" Its plan is shown to the person first, to accept, edit or cancel; nothing is searched before "
              "they decide." if ctx.background.reviewing else "")
    return (f"Started research agent '{name}' (depth {request.depth}, sources {', '.join(request.sources)}, "
            f"budget ${request.budget_usd:.2f}). It runs in the background; a notice will arrive in this "
            f"conversation when it finishes.{review} Do not wait for it.")


def list_agents(ctx: ToolContext, args: NoArgs) -> str:
    """Every agent with its status, report version and cost."""
    agents = agent_store.list_agents(ctx.registry)
    if not agents:
        return "No research agents yet."
    costs = {row["agent_id"]: row["cost"] for row in ctx.registry.query(
        "SELECT agent_id, SUM(cost_usd) AS cost FROM usage WHERE agent_id IS NOT NULL GROUP BY agent_id")}
    lines = [f"- {a.slug}: {a.status}, report v{a.report_version}, ${costs.get(a.id, 0.0):.4f}, "
             f"last run {a.last_run_at or '-'} — question: {a.question}" for a in agents]
    return f"{len(agents)} research agent(s):\n" + "\n".join(lines)


def read_report(ctx: ToolContext, args: AgentArgs) -> str:
    """The agent's latest report (cut to a readable length)."""
    agent = agent_store.get_agent(ctx.registry, args.agent)
    path = Workspace(ctx.settings.workspace_root).agent_dir(agent.slug) / "report.md"
    if not path.exists():
        raise ToolError(f"Agent '{agent.slug}' has no report yet (status: {agent.status}).",
                        "Tell the person it is still working, or check back later.")
    text = path.read_text(encoding="utf-8")
    if len(text) > MAX_REPORT_CHARS:
        text = text[:MAX_REPORT_CHARS] + f"\n[… the report goes on; {len(text):,} characters in all]"
    return f"Report of '{agent.slug}' (v{agent.report_version}, status {agent.status}):\n\n{text}"


def ask_agent(ctx: ToolContext, args: AskAgentArgs) -> str:
    """Start a follow-up run of an existing agent in the background."""
    agent = agent_store.get_agent(ctx.registry, args.agent)
    if not args.follow_up.strip():
        raise ToolError("The follow-up is empty.", "Say what the agent should look into.")
    if any(job.name == agent.slug for job in ctx.background.running()):
        raise ToolError(f"Agent '{agent.slug}' is already working.", "Wait for its notice, then ask again.")
    ctx.background.follow_up(agent.slug, args.follow_up, conversation_id=ctx.conversation_id)
    return (f"Agent '{agent.slug}' is looking into the follow-up in the background and will write report "
            f"v{agent.report_version + 1}; a notice will arrive when it finishes.")


def search_web(ctx: ToolContext, args: SearchArgs) -> str:
    """A quick Perplexity search; the results are data."""
    from mia.tools.search import build_search_clients

    clients, notices = build_search_clients(ctx.settings, ctx.http, ["web"])
    if "web" not in clients:
        raise ToolError(notices[0] if notices else "Web search is not configured.")
    result = clients["web"].search(args.query, max_results=6)
    ctx.spend(result.usage)
    if not result.sources:
        return f"No web results for '{args.query}'."
    blocks = [f"[{n}] {s.title} ({s.date or 'undated'})\n{s.url}\n{s.snippet}"
              for n, s in enumerate(result.sources, start=1)]
    return f"Web results for '{args.query}':\n\n" + "\n\n".join(blocks)


def read_file(ctx: ToolContext, args: PathArgs) -> str:
    """A text file from the workspace."""
    text = Workspace(ctx.settings.workspace_root).read_text(args.path)
    if len(text) > MAX_FILE_CHARS:
        text = text[:MAX_FILE_CHARS] + f"\n[… {len(text):,} characters in all]"
    return f"Contents of '{args.path}':\n\n{text}"


def write_file(ctx: ToolContext, args: WriteArgs) -> str:
    """Write (or replace) a text file in the workspace."""
    Workspace(ctx.settings.workspace_root).write_text(args.path, args.content)
    return f"Wrote {len(args.content):,} characters to '{args.path}' in the workspace."


def list_files(ctx: ToolContext, args: ListArgs) -> str:
    """Files under a workspace folder; links that lead outside it are left out."""
    workspace = Workspace(ctx.settings.workspace_root)
    names = []
    for name in workspace.list_files(args.path):
        try:
            workspace.resolve(name)
        except WorkspaceError:
            continue
        names.append(name)
    if not names:
        return f"No files under '{args.path}'."
    shown = names[:MAX_LISTED]
    more = f"\n[… and {len(names) - MAX_LISTED} more]" if len(names) > MAX_LISTED else ""
    return f"{len(names)} file(s) under '{args.path}':\n" + "\n".join(shown) + more


def default_tools() -> ToolRegistry:
    """The tools of the Interaction Agent (register more, e.g. triggers, on the returned registry)."""
    return ToolRegistry([
        Tool("spawn_research", "Start a new research agent on a question; it runs in the background and writes "
             "a cited report.", SpawnResearchArgs, spawn_research),
        Tool("list_agents", "List the research agents with their status, report version and cost.",
             NoArgs, list_agents),
        Tool("read_report", "Read a research agent's latest report.", AgentArgs, read_report),
        Tool("ask_agent", "Ask an existing research agent a follow-up; it searches again and writes a new "
             "report version in the background.", AskAgentArgs, ask_agent),
        Tool("search_web", "A quick web search (Perplexity) for facts that do not need a whole research agent.",
             SearchArgs, search_web),
        Tool("read_file", "Read a text file in the workspace folder.", PathArgs, read_file),
        Tool("write_file", "Write a text file in the workspace folder (replaces it if it exists).",
             WriteArgs, write_file),
        Tool("list_files", "List the files in a folder of the workspace.", ListArgs, list_files),
        Tool("draft_email", "Draft an e-mail to an expert (an investigator, an author). It is NOT sent: the "
             "person reviews it and approves or denies it.", DraftEmailArgs, draft_email),
        SEARCH_DOCUMENTS,
    ])
