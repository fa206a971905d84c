"""The conversation and the agent panel."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Heading
from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Markdown, Static
from textual.widgets.markdown import MarkdownBlock

from mia.store.conversations import MessageRecord

SHOWN_MESSAGES = 120
STATUS_STYLE = {"done": "green", "failed": "red", "cut_short": "yellow", "digest": "yellow", "no_sources": "yellow",
                "new": "dim", "running": "cyan", "planning": "cyan", "searching": "cyan", "extracting": "cyan",
                "writing": "cyan", "verifying": "cyan"}


class UserBlock(Static):
    """A message the person typed."""

    def __init__(self, text: str) -> None:
        super().__init__(Text(text), classes="user")


class NoteBlock(Static):
    """A one-line note: a tool the assistant used, or news from a research agent."""

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(Text(text), classes=f"note {kind}")


class _LeftHeading(Heading):
    """Headings on the left, as the live Markdown widget shows them (Rich centres h1 and h2)."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.text.justify = "left"
        if self.tag in ("h1", "h2"):
            yield Text("")
        yield self.text


class _Markdown(RichMarkdown):
    elements = {**RichMarkdown.elements, "heading_open": _LeftHeading}


def static_markdown(text: str, classes: str = "") -> Static:
    """Finished Markdown as one cheap widget (many Textual Markdown blocks slow every layout pass)."""
    return Static(_Markdown(text, hyperlinks=True), classes=classes)


class HistoryAnswer(Static):
    """A stored answer."""

    def __init__(self, markdown: str) -> None:
        super().__init__(_Markdown(markdown, hyperlinks=True), classes="answer")
        self.text = markdown


class AnswerBlock(Vertical):
    """The answer being streamed: a live Markdown widget for the tail, finished parts sealed into Statics."""

    SEAL_BLOCKS = 6

    def __init__(self) -> None:
        super().__init__(classes="answer streaming")
        self.text = ""
        self.live = Markdown("")
        self._queued: list[str] = []
        self._wakeup = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._finishing = False

    def compose(self) -> ComposeResult:
        yield self.live

    async def write(self, piece: str) -> None:
        """Queue a piece; one task appends whatever has queued up, so a fast stream is batched."""
        self.text += piece
        self._queued.append(piece)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        self._wakeup.set()

    async def finish(self, suffix: str = "") -> None:
        """Append the rest (and a closing remark, e.g. *cancelled*) and wait until it is shown."""
        if suffix:
            await self.write(suffix)
        self._finishing = True
        self._wakeup.set()
        if self._drainer is not None:
            await self._drainer

    async def _drain(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            chunk = "".join(self._queued)
            self._queued.clear()
            if chunk:
                await self.live.append(chunk)
                await self._seal()
            elif self._finishing:
                return

    async def _seal(self) -> None:
        """Move all but the last top-level block out of the live widget into one Static."""
        blocks = [child for child in self.live.children if isinstance(child, MarkdownBlock)]
        if len(blocks) < self.SEAL_BLOCKS:
            return
        start = blocks[-1].source_range[0]
        lines = self.live.source.splitlines(keepends=True)
        await self.mount(static_markdown("".join(lines[:start]), "sealed"), before=self.live)
        await self.live.update("".join(lines[start:]))


def tool_note(name: str, ok: bool, summary: str) -> NoteBlock:
    """The note for one tool call."""
    mark = "✓" if ok else "✗"
    return NoteBlock(f"⚙ {name} {mark} {summary}".rstrip(), "tool" if ok else "tool error")


def blocks_for(messages: list[MessageRecord]) -> list[Widget]:
    """Widgets for stored messages (the last SHOWN_MESSAGES; older ones are summarised in one line)."""
    hidden = max(0, len(messages) - SHOWN_MESSAGES)
    blocks: list[Widget] = []
    if hidden:
        blocks.append(NoteBlock(f"… {hidden} earlier messages not shown", "older"))
    for message in messages[hidden:]:
        if message.role == "user":
            blocks.append(UserBlock(message.content))
        elif message.role == "assistant" and not message.tool_calls:
            blocks.append(HistoryAnswer(message.content))
        elif message.role == "tool":
            call = message.tool_calls or {}
            blocks.append(tool_note(str(call.get("name", "tool")), bool(call.get("ok")), ""))
        elif message.role == "event":
            blocks.append(NoteBlock(f"● {message.content}", "event"))
    return blocks


class ConversationView(VerticalScroll):
    """The messages of one conversation, newest at the bottom."""

    async def show(self, messages: list[MessageRecord]) -> None:
        """Replace what is shown with these stored messages."""
        await self.remove_children()
        blocks = blocks_for(messages)
        if blocks:
            await self.mount_all(blocks)
        else:
            await self.mount(NoteBlock("Ask anything, or `research <question>` to start a research agent. "
                                       "Ctrl+P opens the commands.", "hint"))
        self.scroll_end(animate=False)

    async def add(self, block: Widget) -> None:
        """Append one block and keep the newest in view."""
        await self.mount(block)
        self.scroll_end(animate=False)


@dataclass
class AgentRow:
    """What the panel shows of one agent."""

    id: str
    slug: str
    status: str
    report_version: int
    cost_usd: float
    last_run_at: str | None
    question: str

    def cells(self) -> tuple[Any, ...]:
        status = Text(self.status.replace("_", " "), style=STATUS_STYLE.get(self.status, ""))
        last = (self.last_run_at or "-")[5:16].replace("T", " ")
        return self.slug, status, f"${self.cost_usd:.3f}", last


class AgentPanel(DataTable[Any]):
    """Research agents with live status, cost so far and last run; Enter opens the report."""

    COLUMNS = ("agent", "status", "cost", "last run")

    @dataclass
    class Chosen(Message):
        """The person chose an agent (to open its report)."""

        agent_id: str

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_by_id: dict[str, AgentRow] = {}

    def on_mount(self) -> None:
        for column in self.COLUMNS:
            self.add_column(column, key=column)

    def update_rows(self, rows: list[AgentRow]) -> None:
        """Apply a fresh read of the registry: add, change and remove rows in place (the cursor stays)."""
        fresh = {row.id: row for row in rows}
        for gone in set(self.rows_by_id) - set(fresh):
            self.remove_row(gone)
            del self.rows_by_id[gone]
        for row in rows:
            old = self.rows_by_id.get(row.id)
            if old is None:
                self.add_row(*row.cells(), key=row.id)
            elif old != row:
                for column, value in zip(self.COLUMNS, row.cells(), strict=True):
                    self.update_cell(row.id, column, value)
            self.rows_by_id[row.id] = row

    def status_of(self, slug: str) -> str | None:
        """The status shown for an agent (for tests and the palette)."""
        return next((row.status for row in self.rows_by_id.values() if row.slug == slug), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(event.row_key.value))
