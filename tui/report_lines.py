"""A report as pre-rendered lines: any size scrolls at once, and its citations [n] can be walked and followed.

Textual's Markdown widget mounts a widget per block, which takes about a minute for a 150 KB report; here
rich renders the Markdown to lines in a thread, section by section, and the widget only paints the lines
on screen (the line API), so the first section shows at once and keys keep working while the rest comes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from rich.console import Console
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

_CITE = re.compile(r"\[(\d{1,4})\](?!\()")
_SECTION = re.compile(r"(?m)^(?=#{1,3} )")
CURSOR = Style(reverse=True, bold=True)
DIFF_STYLES = (("+++", Style(bold=True)), ("---", Style(bold=True)), ("@@", Style(color="cyan")),
               ("+", Style(color="green")), ("-", Style(color="red")))


@dataclass(frozen=True)
class Citation:
    """Where a citation [n] is drawn: line, first and last column (exclusive), and its number."""

    line: int
    start: int
    end: int
    number: int


def sections(markdown: str) -> list[str]:
    """The Markdown cut before each heading (level 1-3), so each piece renders alone."""
    return [part for part in _SECTION.split(markdown) if part.strip()]


def render_markdown(markdown: str, width: int) -> list[Strip]:
    """Rich's rendering of `markdown` at `width` columns, as strips (runs in a worker thread)."""
    console = Console(width=max(20, width), file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      legacy_windows=False)
    lines = console.render_lines(Markdown(markdown, hyperlinks=False), console.options, pad=False)
    return [Strip(line) for line in lines] + [Strip.blank(0)]


def diff_strips(lines: list[str]) -> list[Strip]:
    """A unified diff as coloured strips."""
    out = []
    for line in lines:
        style = next((s for prefix, s in DIFF_STYLES if line.startswith(prefix)), Style())
        out.append(Strip([Segment(line, style)]))
    return out


class ReportLines(ScrollView, can_focus=True):
    """Scrollable pre-rendered lines; `n`/`p` walk the citations, Enter or a click follows one."""

    BINDINGS = [
        Binding("n", "next_citation", "Next [n]"),
        Binding("p", "previous_citation", "Prev [n]", show=False),
        Binding("enter", "follow", "Follow [n]"),
        Binding("up", "scroll_up", show=False), Binding("down", "scroll_down", show=False),
        Binding("left", "scroll_left", show=False), Binding("right", "scroll_right", show=False),
        Binding("pageup", "page_up", show=False), Binding("pagedown", "page_down", show=False),
        Binding("home", "scroll_home", show=False), Binding("end", "scroll_end", show=False),
    ]

    class Followed(Message):
        """A citation was followed: show source `number`."""

        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.strips: list[Strip] = []
        self.citations: list[Citation] = []
        self.cursor: int | None = None  # index into self.citations
        self.known: set[int] = set()  # citation numbers that have a source
        self.widest = 0

    def clear(self) -> None:
        self.strips, self.citations, self.cursor, self.widest = [], [], None, 0
        self._resize()

    def append(self, strips: list[Strip]) -> None:
        """Add rendered lines at the end, finding the citations in them."""
        first = len(self.strips)
        self.strips.extend(strips)
        self.widest = max(self.widest, *(s.cell_length for s in strips), 0)
        for offset, strip in enumerate(strips):
            text = strip.text
            for match in _CITE.finditer(text):
                number = int(match.group(1))
                if not self.known or number in self.known:
                    self.citations.append(Citation(first + offset, match.start(), match.end(), number))
        self._resize()

    def _resize(self) -> None:
        self.virtual_size = Size(self.widest, len(self.strips))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        if index >= len(self.strips):
            return Strip.blank(self.size.width, self.rich_style)
        strip = self.strips[index]
        current = self.citations[self.cursor] if self.cursor is not None else None
        if current is not None and current.line == index:
            strip = Strip.join([strip.crop(0, current.start), strip.crop(current.start, current.end)
                                .apply_style(CURSOR), strip.crop(current.end)])
        return strip.crop(scroll_x, scroll_x + self.size.width).extend_cell_length(self.size.width)

    def _move(self, step: int) -> None:
        if not self.citations:
            self.notify("No citations here.")
            return
        top = self.scroll_offset.y
        if self.cursor is None or not top <= self.citations[self.cursor].line < top + self.size.height:
            visible = [i for i, c in enumerate(self.citations) if c.line >= top]
            self.cursor = (visible[0] if visible else 0) if step > 0 else max(0, (visible[0] if visible else 1) - 1)
        else:
            self.cursor = (self.cursor + step) % len(self.citations)
        line = self.citations[self.cursor].line
        if not top <= line < top + self.size.height:
            self.scroll_to(y=max(0, line - self.size.height // 3), animate=False)
        self.refresh()

    def action_next_citation(self) -> None:
        self._move(1)

    def action_previous_citation(self) -> None:
        self._move(-1)

    def action_follow(self) -> None:
        if self.cursor is None:
            self._move(1)
        if self.cursor is not None:
            self.post_message(self.Followed(self.citations[self.cursor].number))

    def on_click(self, event: events.Click) -> None:
        line, column = event.y + self.scroll_offset.y, event.x + self.scroll_offset.x
        for index, cite in enumerate(self.citations):
            if cite.line == line and cite.start <= column < cite.end:
                self.cursor = index
                self.refresh()
                self.post_message(self.Followed(cite.number))
                return

    def citation_text(self) -> Text:
        """The current citation, for a status line."""
        if self.cursor is None:
            return Text("")
        return Text(f"[{self.citations[self.cursor].number}]")
