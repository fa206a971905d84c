"""`mia ask` (one turn, no TUI) and `mia chat` (the Textual app, or the list of conversations)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mia.commands.common import err_console, make_table, open_state, out_console, print_json

if TYPE_CHECKING:
    from mia.agents.chat.background import Background
    from mia.agents.chat.tool_registry import ToolOutcome


def ask(
    message: Annotated[str, typer.Argument(help='What to ask mia, e.g. "what do my agents say about DMD?"')],
    continue_: Annotated[bool, typer.Option("--continue", "-c", help="Continue the last conversation.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the answer.")] = False,
) -> None:
    """Ask the Interaction Agent one thing and print its answer (research it starts is awaited)."""
    import contextlib

    import httpx

    from mia.agents.chat.background import Background
    from mia.agents.chat.interaction import InteractionAgent, start_conversation
    from mia.agents.chat.mcp_tools import chat_tools
    from mia.agents.llm.client import LLMClient
    from mia.agents.outreach.mcp_calls import open_hub

    settings, registry = open_state()
    timeout = httpx.Timeout(settings.llm.timeout, connect=10.0)
    with httpx.Client(timeout=timeout, follow_redirects=True) as http, contextlib.ExitStack() as stack:
        llm = LLMClient.from_settings(settings, http)  # no credentials: a clear error before anything is stored
        conversation = start_conversation(registry, continue_last=continue_)
        background = Background(settings)
        hub = stack.enter_context(open_hub(settings)) if settings.mcp.servers else None
        agent = InteractionAgent(settings=settings, registry=registry, llm=llm, http=http,
                                 conversation_id=conversation.id, background=background,
                                 tools=chat_tools(settings, hub) if hub else None)
        if json_out:
            print_json(agent.run_turn(message).as_json())
        else:
            printer = AnswerPrinter()
            try:
                agent.run_turn(message, on_text=printer.write, on_tool=printer.tool)
            finally:
                printer.end()
        sys.stdout.flush()
        _await_research(background, quiet=json_out)


class AnswerPrinter:
    """Prints the answer as it streams: raw Markdown into a pipe; at a terminal, the rendered tail while it
    streams, then the whole part rendered once (text said before a tool call is its own part)."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.part = ""
        self.parts = 0
        self.live: Any = None

    def write(self, piece: str) -> None:
        """One streamed piece of the answer."""
        if not self.part and self.parts and not self.tty:
            sys.stdout.write("\n")  # a blank line between the parts of an answer
        self.part += piece
        if not self.tty:
            sys.stdout.write(piece)
            sys.stdout.flush()
            return
        if self.live is None:
            from rich.live import Live

            self.live = Live(_Tail(self), console=out_console(), refresh_per_second=12, transient=True)
            self.live.start()

    def tool(self, outcome: ToolOutcome) -> None:
        """A tool ran: finish the part before it, then note the call on stderr."""
        self.end()
        _show_tool(outcome)

    def end(self) -> None:
        """Finish the current part."""
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self.part:
            if self.tty:
                from rich.markdown import Markdown

                out_console().print(Markdown(self.part, hyperlinks=True))
            elif not self.part.endswith("\n"):
                sys.stdout.write("\n")
            self.parts += 1
        self.part = ""
        sys.stdout.flush()


class _Tail:
    """The last screenful of the part being streamed, rendered as Markdown when the live display refreshes."""

    def __init__(self, printer: AnswerPrinter) -> None:
        self.printer = printer

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.markdown import Markdown
        from rich.segment import Segment

        height = max(1, (options.max_height or console.height) - 1)
        source = self.printer.part.splitlines()
        recent = "\n".join(source[-3 * height:])  # enough for a screenful; the whole part is printed at the end
        lines = console.render_lines(Markdown(recent), options.update(height=None), pad=False)
        for line in lines[-height:]:
            yield from line
            yield Segment.line()


def _show_tool(outcome: ToolOutcome) -> None:
    from rich.text import Text

    mark = ("✓", "green") if outcome.ok else ("✗", "red")
    # Summaries quote tool output (citations like [1], web text): never interpret them as markup.
    err_console().print(Text.assemble((f"· {outcome.label} ", "dim"), mark, (f" {outcome.summary}", "dim")))


def _await_research(background: Background, *, quiet: bool) -> None:
    """Research started in this turn finishes before mia exits (Ctrl+C leaves it resumable)."""
    running = background.running()
    if not running:
        return
    console = err_console()
    if not quiet:
        names = ", ".join(f"'{job.name}'" for job in running)
        resume = " or ".join(f"`mia agents resume {job.name}`" for job in running)
        console.print(f"Research {names} is running; waiting for it to finish (Ctrl+C stops waiting; "
                      f"{resume} finishes it later).", highlight=False)
    background.wait()
    if not quiet:
        for job in background.jobs:
            console.print(f"● {job.message}", highlight=False, markup=False)


def chat(
    continue_: Annotated[bool, typer.Option("--continue", "-c", help="Reopen the last conversation.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List conversations instead of opening the app.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="With --list: print JSON.")] = False,
    conversation: Annotated[str | None, typer.Option("--conversation", help="Open this conversation (id).")] = None,
) -> None:
    """Open the chat app: talk to mia while research agents work beside the conversation."""
    from mia.errors import UsageError

    if json_out and not list_:
        raise UsageError("--json only goes with --list.", "Try: mia chat --list --json")
    if list_:
        _list_conversations(json_out)
        return
    if conversation is not None:  # an unknown id fails here, with the usual error, before the app opens
        from mia.store.conversations import get_conversation

        _, registry = open_state(notice=False)
        conversation = get_conversation(registry, conversation).id
    run_app(continue_last=continue_, conversation_id=conversation)


def run_app(*, continue_last: bool = False, conversation_id: str | None = None) -> None:
    """Build the app with the real registry and LLM, and run it."""
    from mia.agents.llm.client import LLMClient
    from mia.commands.common import load_settings
    from mia.store.db import open_registry
    from mia.tui.app import create_app

    settings = load_settings()
    app = create_app(settings, lambda: open_registry(settings.registry_path),
                     lambda http: LLMClient.from_settings(settings, http),
                     continue_last=continue_last, conversation_id=conversation_id)
    app.run()


def _list_conversations(json_out: bool) -> None:
    from mia.store.conversations import list_conversations

    _, registry = open_state(notice=False)
    rows = list_conversations(registry)
    if json_out:
        print_json([{"id": r["id"], "title": r["title"], "created_at": r["created_at"],
                     "updated_at": r["updated_at"], "messages": r["messages"]} for r in rows])
        return
    if not rows:
        err_console().print('No conversations yet. Start one with `mia chat` or `mia ask "…"`.')
        return
    out_console().print(make_table(
        ("id", "title", "updated", "messages"),
        ((r["id"], r["title"], r["updated_at"][:16].replace("T", " "), str(r["messages"])) for r in rows),
        right=("messages",), keep=("id", "updated", "messages")))
