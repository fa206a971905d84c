"""The `mia chat` app: a conversation with the Interaction Agent beside live research agents."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, Static

from mia.agents.chat.background import Background
from mia.agents.chat.interaction import InteractionAgent, TurnCancelled, start_conversation
from mia.agents.chat.tool_registry import ToolContext
from mia.errors import MiaError
from mia.store import conversations as conv_store
from mia.tui import data, messages
from mia.tui.palette import MiaCommands
from mia.tui.panel import AgentPanel
from mia.tui.plan_card import PlanCard
from mia.tui.screens import PromptScreen, ReportScreen, ReportView, UsageScreen
from mia.tui.widgets import AnswerBlock, ConversationView, NoteBlock, UserBlock, tool_note

if TYPE_CHECKING:
    from mia.agents.llm.client import LLMClient
    from mia.settings import Settings
    from mia.store.conversations import ConversationRecord
    from mia.store.db import Registry

RegistryFactory = Callable[[], "Registry"]
LLMFactory = Callable[[httpx.Client], "LLMClient"]


class MiaApp(App[None]):
    """The conversation, the research agents, their reports; every bit of I/O runs in a worker."""

    CSS_PATH = "mia.tcss"
    TITLE = "mia"
    COMMANDS = App.COMMANDS | {MiaCommands}
    BINDINGS = [
        Binding("escape", "cancel_answer", "Cancel answer", show=False),  # the input's placeholder says it
        Binding("ctrl+r", "new_research", "Research"),
        Binding("ctrl+n", "new_conversation", "New"),
        Binding("ctrl+o", "open_selected", "Report"),
        Binding("ctrl+b", "toggle_agents", "Agents"),
        Binding("ctrl+t", "show_usage", "Usage"),
        Binding("ctrl+g", "show_approvals", "Approvals"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    WIDE = 120  # from this many columns the agent panel shows everything; below, it is narrower

    # The messages, reachable as MiaApp.AnswerText etc. (workers, tests and the benchmark post them).
    AnswerText = messages.AnswerText
    ToolUsed = messages.ToolUsed
    TurnEnded = messages.TurnEnded
    ConversationLoaded = messages.ConversationLoaded
    AgentsRead = messages.AgentsRead
    ResearchEnded = messages.ResearchEnded
    Failed = messages.Failed

    def __init__(self, settings: Settings, registry_factory: RegistryFactory, llm_factory: LLMFactory, *,
                 http_factory: Callable[[], httpx.Client] | None = None, conversation_id: str | None = None,
                 continue_last: bool = False, refresh_seconds: float = 1.0) -> None:
        super().__init__()
        self.settings, self.registry_factory, self.llm_factory = settings, registry_factory, llm_factory
        self.http_factory = http_factory or (lambda: httpx.Client(
            timeout=httpx.Timeout(settings.llm.timeout, connect=10.0), follow_redirects=True))
        self.requested_conversation, self.continue_last = conversation_id, continue_last
        self.refresh_seconds = refresh_seconds
        self.registry: Registry | None = None
        self.http: httpx.Client | None = None
        self.llm: LLMClient | None = None
        self.background: Background | None = None
        self.conversation: ConversationRecord | None = None
        self.mcp_hub: Any = None  # the MCP servers in mcp.servers, started at the first turn that needs tools
        self.chat_tools: Any = None
        self.turn, self.turn_running, self.cancel_event = 0, False, threading.Event()
        self.answer_block: AnswerBlock | None = None
        self.thinking: NoteBlock | None = None
        self.loading = True
        self._quit_armed = False
        # Held, not queried: the active screen may be a report while the panel keeps updating.
        self.view = ConversationView(id="conversation")
        self.agent_panel = AgentPanel(id="agents")

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield self.view
                box = Input(placeholder="Message mia… Ctrl+P commands, Esc cancels", id="message",
                            select_on_focus=False)
                box.cursor_blink = not self.is_headless  # tests and snapshots see one steady cursor
                yield box
            with Vertical(id="side"):
                yield Static("Research agents", id="side-title")
                yield self.agent_panel
        yield Footer(id="footer")

    def on_mount(self) -> None:
        self.background = Background(self.settings, on_done=lambda job: self.post_message(self.ResearchEnded(job)),
                                     on_plan=lambda review: self.post_message(messages.PlanDrafted(review)))
        self.http = self.http_factory()
        self.query_one("#message", Input).focus()
        # What exists now (Textual, Rich, the app's own widgets) lives as long as the app: keep it out of the
        # full collections, which otherwise stall a streaming answer for 100+ ms now and then. Done once, here,
        # so widgets of conversations switched away from stay collectable.
        gc.freeze()
        self.open_state()
        self.set_interval(self.refresh_seconds, self.refresh_agents)

    def on_unmount(self) -> None:
        if self.background is not None:
            self.background.cancel_reviews()  # a plan nobody decided on searches nothing; its spend is kept
        if self.http is not None:
            self.http.close()
        if self.mcp_hub is not None:
            self.mcp_hub.close()  # ends the sessions and stops the MCP servers mia launched

    # -- workers: every registry read and every remote call happens off the UI thread ------------------------
    @work(thread=True, group="state", exit_on_error=False)
    def open_state(self) -> None:
        """Open the registry, then the conversation to show."""
        try:
            self.registry = self.registry_factory()
            conversation = start_conversation(self.registry, continue_last=self.continue_last,
                                              conversation_id=self.requested_conversation)
            self._post_conversation(conversation)
            self.post_message(self.AgentsRead(data.agent_rows(self.registry)))
        except MiaError as exc:
            self.post_message(self.Failed(exc.message, exc.hint))

    def _post_conversation(self, conversation: ConversationRecord) -> None:
        assert self.registry is not None
        self.post_message(self.ConversationLoaded(conversation, conv_store.messages(self.registry, conversation.id)))

    @work(thread=True, group="agents", exclusive=True, exit_on_error=False)
    def refresh_agents(self) -> None:
        """A short read of the agents (no transaction is left open)."""
        if self.registry is not None:
            self.post_message(self.AgentsRead(data.agent_rows(self.registry)))

    def switch_conversation(self, conversation_id: str | None) -> None:
        """Show another conversation (None: a new one); an answer in progress is cancelled first."""
        self.action_cancel_answer()
        self.loading = True
        self._load_conversation(conversation_id)

    @work(thread=True, group="state", exit_on_error=False)
    def _load_conversation(self, conversation_id: str | None) -> None:
        if self.registry is None:
            return
        try:
            conversation = (conv_store.get_conversation(self.registry, conversation_id) if conversation_id
                            else conv_store.new_conversation())
            self._post_conversation(conversation)
        except MiaError as exc:
            self.post_message(self.Failed(exc.message, exc.hint))

    @work(thread=True, group="turn", exit_on_error=False)
    def answer(self, text: str, turn: int, cancel: threading.Event) -> None:
        """One turn of the Interaction Agent; its pieces come back as messages."""
        try:
            agent = self._interaction_agent()
            agent.run_turn(text, on_text=lambda piece: self.post_message(self.AnswerText(turn, piece)),
                           on_tool=lambda outcome: self.post_message(self.ToolUsed(turn, outcome)), cancel=cancel)
            self.post_message(self.TurnEnded(turn))
        except TurnCancelled:
            self.post_message(self.TurnEnded(turn, cancelled=True))
        except MiaError as exc:
            self.post_message(self.TurnEnded(turn, error=exc.message, hint=exc.hint))
        except Exception as exc:  # a bug in one turn must not take the screen down
            self.post_message(self.TurnEnded(turn, error=f"Internal error: {type(exc).__name__}: {exc}",
                                             hint="Run `mia ask` with --debug to see the traceback."))

    def _interaction_agent(self) -> InteractionAgent:
        assert self.registry is not None and self.http is not None and self.background is not None
        assert self.conversation is not None
        if self.llm is None:
            self.llm = self.llm_factory(self.http)
        if self.settings.mcp.servers and self.chat_tools is None:
            from mia.agents.chat.mcp_tools import chat_tools
            from mia.agents.outreach.mcp_calls import open_hub

            self.mcp_hub = open_hub(self.settings)
            self.chat_tools = chat_tools(self.settings, self.mcp_hub)
        return InteractionAgent(settings=self.settings, registry=self.registry, llm=self.llm, http=self.http,
                                conversation_id=self.conversation.id, background=self.background,
                                tools=self.chat_tools)

    @work(thread=True, group="report", exclusive=True, exit_on_error=False)
    def open_report(self, agent_id: str) -> None:
        """Read an agent's report and sources, then show them."""
        if self.registry is None:
            return
        try:
            view = data.report_view(self.settings, self.registry, agent_id)
        except MiaError as exc:
            self.post_message(self.Failed(exc.message, exc.hint))
            return
        self.call_from_thread(self._show_report, view)

    @work(thread=True, group="research", exit_on_error=False)
    def start_research(self, question: str) -> None:
        """Start a research agent straight from the palette (no model turn needed)."""
        from mia.agents.chat.tools import SpawnResearchArgs, spawn_research

        if self.registry is None or self.http is None or self.background is None or self.conversation is None:
            return
        context = ToolContext(self.settings, self.registry, self.http, self.conversation.id, self.background)
        try:
            text = spawn_research(context, SpawnResearchArgs(question=question))
        except MiaError as exc:
            self.post_message(self.Failed(exc.message, exc.hint))
            return
        conv_store.add_message(self.registry, self.conversation.id, "event", text.split(" It runs")[0] + ".")
        self.call_from_thread(self.notify, text.split(" It runs")[0], title="Research")
        self.refresh_agents()

    @work(thread=True, group="research", exit_on_error=False)
    def resume_agent(self, slug: str) -> None:
        """Finish an agent's interrupted run in the background."""
        if self.background is not None:
            conversation_id = self.conversation.id if self.conversation else None
            self.background.resume(slug, conversation_id=conversation_id)
            self.call_from_thread(self.notify, f"Resuming the run of '{slug}'.", title="Research")

    @work(thread=True, group="usage", exclusive=True, exit_on_error=False)
    def action_show_usage(self) -> None:
        """Read spend by service and show it."""
        if self.registry is not None:
            rows = data.usage_rows(self.registry)
            self.call_from_thread(self.push_screen, UsageScreen(rows))

    def action_show_approvals(self) -> None:
        """What waits for the person's approval, in full."""
        from mia.tui.approvals import ApprovalsScreen

        if self.registry is not None:
            self.push_screen(ApprovalsScreen(self.settings, self.registry))

    def read_conversations(self) -> list[dict[str, Any]]:
        """For the palette (called in a thread)."""
        return conv_store.list_conversations(self.registry) if self.registry is not None else []

    # -- message handlers (UI thread) --------------------------------------------------------------------------
    async def on_conversation_loaded(self, message: messages.ConversationLoaded) -> None:
        self.conversation = message.conversation
        self.sub_title = message.conversation.title
        await self.view.show(message.messages)
        for review in self.background.pending_reviews() if self.background is not None else []:
            if review.conversation_id == message.conversation.id:
                await self.view.add(PlanCard(review))
        self.loading = False

    async def on_plan_drafted(self, message: messages.PlanDrafted) -> None:
        review = message.review
        if self.conversation is not None and review.conversation_id == self.conversation.id:
            await self.view.add(PlanCard(review))
        self.notify(f"The plan of '{review.name}' waits for you: Accept, Edit or Cancel.", title="Research")

    def on_agents_read(self, message: messages.AgentsRead) -> None:
        if self.agent_panel.is_mounted:
            self.agent_panel.update_rows(message.rows)

    def on_agent_panel_chosen(self, message: AgentPanel.Chosen) -> None:
        self.open_report(message.agent_id)

    def on_agent_panel_typed(self, message: AgentPanel.Typed) -> None:
        """A key typed on the agent table is meant for the message input."""
        box = self.query_one("#message", Input)
        box.focus()
        box.insert_text_at_cursor(message.character)

    def on_resize(self, event: events.Resize) -> None:
        """A laptop's 80 columns: a narrower agent panel, and the footer keeps every binding (not ^p)."""
        wide = event.size.width >= self.WIDE
        self.query_one("#side").styles.width = 56 if wide else 30
        self.query_one("#footer", Footer).show_command_palette = wide

    def action_toggle_agents(self) -> None:
        """Hide or show the agent panel (the conversation takes the whole width)."""
        side = self.query_one("#side")
        side.display = not side.display
        if not side.display and self.agent_panel.has_focus:
            self.focus_input()

    def _show_report(self, view: ReportView) -> None:
        """Show a report; closing it (Esc) returns to the message input, wherever the focus was."""
        self.focus_input()  # the screen underneath remembers its focus while the report is on top
        self.push_screen(ReportScreen(view))

    def focus_input(self) -> None:
        """Put the cursor back in the message input."""
        self.query_one("#message", Input).focus()

    def on_failed(self, message: messages.Failed) -> None:
        self.notify(message.message + (f"\n{message.hint}" if message.hint else ""), title="mia", severity="error",
                    timeout=8)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "message" or not event.value.strip():
            return
        if self.conversation is None:
            self.notify("Still opening the conversation…", severity="warning")
            return
        if self.turn_running:
            self.notify("mia is still answering; press Esc to cancel it.", severity="warning")
            return
        text = event.value.strip()
        event.input.value = ""
        if self.sub_title == conv_store.DEFAULT_TITLE:
            self.sub_title = conv_store.title_for(text)
        await self.view.query(".hint").remove()
        await self.view.add(UserBlock(text))
        self.thinking = NoteBlock("mia is thinking…  (Esc cancels)", "thinking")
        await self.view.add(self.thinking)
        self.turn += 1
        self.turn_running, self.answer_block = True, None
        self.cancel_event = threading.Event()
        self.answer(text, self.turn, self.cancel_event)

    async def on_answer_text(self, message: messages.AnswerText) -> None:
        if message.turn != self.turn:
            return  # a cancelled turn's late answer
        if self.answer_block is None:
            self.answer_block = AnswerBlock()
            if self.thinking is not None and self._thinking_shown():
                self.thinking.update(Text("mia is writing…  (Esc cancels)"))
                await self.view.mount(self.answer_block, before=self.thinking)
            else:
                await self.view.add(self.answer_block)
        self.answer_block.write(message.text)

    async def on_tool_used(self, message: messages.ToolUsed) -> None:
        if message.turn != self.turn:
            return
        outcome = message.outcome
        if self.answer_block is not None:  # text said before the call stays above it; the answer goes below
            self.answer_block.finish()
            self.answer_block = None
        note = tool_note(outcome.label, outcome.ok, outcome.summary)
        if self._thinking_shown():
            await self.view.mount(note, before=self.thinking)
        else:
            await self.view.add(note)

    async def on_turn_ended(self, message: messages.TurnEnded) -> None:
        if message.turn != self.turn:
            return
        await self._end_turn()
        if message.error:
            await self.view.add(NoteBlock(f"✗ {message.error}", "error"))
            self.notify(message.error + (f"\n{message.hint}" if message.hint else ""), title="mia",
                        severity="error", timeout=10)

    async def on_research_ended(self, message: messages.ResearchEnded) -> None:
        job = message.job
        if self.conversation is not None and job.conversation_id == self.conversation.id:
            await self.view.add(NoteBlock(f"● {job.message}", "event"))
        self.notify(job.message, title="Research", severity="error" if job.status == "failed" else "information",
                    timeout=8)
        self.refresh_agents()

    def _thinking_shown(self) -> bool:
        return self.thinking is not None and self.thinking.is_mounted

    async def _end_turn(self, remark: str = "") -> None:
        self.turn_running = False
        if self.thinking is not None and self.thinking.is_mounted:
            await self.thinking.remove()
        self.thinking = None
        if self.answer_block is not None:
            self.answer_block.finish(remark)

    # -- actions -----------------------------------------------------------------------------------------------
    def action_cancel_answer(self) -> None:
        """Stop waiting for the current answer; research agents keep running."""
        if not self.turn_running:
            return
        self.cancel_event.set()
        self.workers.cancel_group(self, "turn")
        self.turn += 1  # whatever the old turn still sends is ignored
        self.turn_running = False
        self.call_next(self._show_cancelled)

    async def _show_cancelled(self) -> None:
        await self._end_turn("\n\n*(cancelled)*")
        await self.view.add(NoteBlock("Answer cancelled. Research agents keep running.", "error"))

    def action_new_research(self) -> None:
        """Ask for a question, then start a research agent."""
        def start(question: str | None) -> None:
            if question:
                self.start_research(question)

        self.push_screen(PromptScreen("Research question", "e.g. gene therapy for Duchenne muscular dystrophy"),
                         start)

    def action_open_selected(self) -> None:
        """Open the report of the agent under the panel's cursor."""
        panel = self.agent_panel
        if panel.row_count == 0:
            self.notify("No research agents yet: ask mia to research something (or Ctrl+R).")
            return
        row_key, _ = panel.coordinate_to_cell_key(panel.cursor_coordinate)
        if row_key.value is not None:
            self.open_report(row_key.value)

    def action_new_conversation(self) -> None:
        self.switch_conversation(None)

    async def action_quit(self) -> None:
        """Quit; with research still running, ask for a second Ctrl+Q first."""
        running = self.background.running() if self.background is not None else []
        waiting = {review.name for review in self.background.pending_reviews()} if self.background else set()
        running = [job for job in running if job.name not in waiting]  # a plan card: nothing to resume later
        if running and not self._quit_armed:
            self._quit_armed = True
            names = ", ".join(job.name for job in running)
            resume = " or ".join(f"mia agents resume {job.name}" for job in running)
            self.notify(f"Research still running ({names}); quitting interrupts it (continue later with "
                        f"{resume}). Press Ctrl+Q again to quit.", severity="warning", timeout=8)
            return
        self.exit()


def create_app(settings: Settings, registry_factory: RegistryFactory, llm_factory: LLMFactory, *,
               http_factory: Callable[[], httpx.Client] | None = None, conversation_id: str | None = None,
               continue_last: bool = False, refresh_seconds: float = 1.0) -> MiaApp:
    """The one way to build the app, for the CLI and the tests alike."""
    return MiaApp(settings, registry_factory, llm_factory, http_factory=http_factory,
                  conversation_id=conversation_id, continue_last=continue_last, refresh_seconds=refresh_seconds)
