"""The conversation and the agent panel."""

from __future__ import annotations

import asyncio

from markdown_it import MarkdownIt
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Heading
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from mia.agents.chat.tool_registry import tool_label
from mia.store.conversations import MessageRecord

SHOWN_MESSAGES = 120
_PARSER = MarkdownIt().enable("strikethrough").enable("table")  # as Rich parses Markdown


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


class _Fragment(_Markdown):
    """Part of a streamed answer: without the blank lines Rich puts before a list or a heading.

    SealedLines puts a blank line between parts where the Markdown had one, so a list sealed in pieces still
    reads as one list.
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        started = False
        segments = (item for item in super().__rich_console__(console, options) if isinstance(item, Segment))
        for line in Segment.split_lines(segments):
            if not started and not "".join(segment.text for segment in line).strip():
                continue
            started = True
            yield from line
            yield Segment.line()


class SealedLines(Widget):
    """The finished part of a streamed answer, rendered once into lines (Textual's line API).

    Layout then asks only for a line count, so an answer of any length costs nothing to lay out again; the
    Markdown is rendered anew only when the width changes.
    """

    DEFAULT_CSS = "SealedLines { height: auto; }"

    def __init__(self) -> None:
        super().__init__(classes="sealed")
        self.chunks: list[tuple[str, bool]] = []  # (Markdown, followed by a blank line)
        self._strips: list[Strip] = []
        self._width = 0

    def add(self, markdown: str, *, gap: bool) -> None:
        """Seal one more finished part."""
        self.chunks.append((markdown, gap))
        if self._width:
            self._strips += self._render_part(markdown, gap, self._width)
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._ensure(width)
        return len(self._strips)

    def render_line(self, y: int) -> Strip:
        self._ensure(self.size.width)
        return self._strips[y] if 0 <= y < len(self._strips) else Strip.blank(self.size.width, self.rich_style)

    def _ensure(self, width: int) -> None:
        if width != self._width and width > 0:
            self._width = width
            self._strips = [strip for markdown, gap in self.chunks for strip in self._render_part(markdown, gap, width)]

    def _render_part(self, markdown: str, gap: bool, width: int) -> list[Strip]:
        console = self.app.console
        lines = console.render_lines(_Fragment(markdown, hyperlinks=True), console.options.update_width(width),
                                     style=self.rich_style, pad=True)
        strips = [Strip(line, width) for line in lines]
        return [*strips, Strip.blank(width, self.rich_style)] if gap else strips


class HistoryAnswer(Static):
    """A stored answer."""

    def __init__(self, markdown: str) -> None:
        super().__init__(_Markdown(markdown, hyperlinks=True), classes="answer")
        self.text = markdown


class AnswerBlock(Vertical):
    """The answer being streamed: finished blocks are sealed into SealedLines, only the tail is rendered again.

    Both are Rich Markdown, as stored answers are, so an answer looks the same while it streams and after.
    Re-rendering costs what the tail costs, so the tail is kept short: once it holds more than SEAL_BLOCKS
    top-level blocks, or a list of more than SEAL_ITEMS items, everything before its last block (or last list
    item) is sealed. The last block is never sealed, because text still to come may change it.
    """

    DEFAULT_CSS = "AnswerBlock { height: auto; }"  # a Vertical would take 1fr and clip a long answer
    SEAL_BLOCKS = 1
    SEAL_ITEMS = 3

    def __init__(self) -> None:
        super().__init__(classes="answer streaming")
        self.text = ""
        self.tail = ""
        self.sealed = SealedLines()
        self.live = Static("", classes="live")
        self._queued: list[str] = []
        self._wakeup = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._finishing = False

    def compose(self) -> ComposeResult:
        yield self.sealed
        yield self.live

    def write(self, piece: str) -> None:
        """Queue a piece; one task renders whatever has queued up, so a fast stream is batched."""
        self.text += piece
        self._queued.append(piece)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        self._wakeup.set()

    def finish(self, suffix: str = "") -> None:
        """Append the rest (and a closing remark, e.g. *cancelled*); the drain task ends once it is shown.

        It does not wait, so a message handler that ends a turn never blocks the app on the drain.
        """
        if suffix:
            self.write(suffix)
        self._finishing = True
        self._wakeup.set()

    async def shown(self) -> None:
        """Wait until everything written is on screen (after `finish`)."""
        if self._drainer is not None:
            await self._drainer

    async def _drain(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            chunk = "".join(self._queued)
            self._queued.clear()
            if chunk:
                self.tail += chunk
                self._seal()
                self.live.update(_Fragment(self.tail, hyperlinks=True))
            elif self._finishing:
                return

    def _seal(self) -> None:
        cut = seal_point(self.tail, self.SEAL_BLOCKS, self.SEAL_ITEMS)
        if cut is None:
            return
        lines = self.tail.splitlines(keepends=True)
        sealed, self.tail = "".join(lines[:cut]), "".join(lines[cut:])
        self.sealed.add(sealed, gap=not lines[cut - 1].strip())  # a blank line between blocks keeps its space


def seal_point(text: str, max_blocks: int, max_items: int) -> int | None:
    """The line where the unsealed tail should start, or None while it is still short."""
    tokens = _PARSER.parse(text)
    blocks = [t for t in tokens if t.level == 0 and t.nesting != -1 and t.map]
    if len(blocks) > max_blocks:
        return blocks[-1].map[0] if blocks[-1].map else None
    if blocks and blocks[-1].type in ("bullet_list_open", "ordered_list_open"):
        items = [t for t in tokens if t.type == "list_item_open" and t.level == 1 and t.map]
        if len(items) > max_items and items[-1].map and items[-1].map[0] > 0:
            return items[-1].map[0]
    return None


def tool_note(label: str, ok: bool, summary: str) -> NoteBlock:
    """The note for one tool call, under the tool's label as a person reads it (`tool_label`)."""
    mark = "✓" if ok else "✗"
    return NoteBlock(f"⚙ {label} {mark} {summary}".rstrip(), "tool" if ok else "tool error")


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
            blocks.append(tool_note(tool_label(str(call.get("name", "tool"))), bool(call.get("ok")), ""))
        elif message.role == "event":
            blocks.append(NoteBlock(f"● {message.content}", "event"))
    return blocks


class ConversationView(VerticalScroll):
    """The messages of one conversation, newest at the bottom (kept in view unless the person scrolls up)."""

    def on_mount(self) -> None:
        self.anchor()

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
