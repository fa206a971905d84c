"""The agent panel: research agents with live status, cost and last run, fitted to the space it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import DataTable

STATUS_STYLE = {"done": "green", "failed": "red", "cut_short": "yellow", "digest": "yellow", "no_sources": "yellow",
                "new": "dim", "running": "cyan", "planning": "cyan", "searching": "cyan", "extracting": "cyan",
                "writing": "cyan", "verifying": "cyan", "waiting": "magenta", "interrupted": "yellow",
                "uncited": "yellow", "no_evidence": "yellow", "truncated": "yellow", "not_synthesized": "yellow"}
BUSY = {"running", "planning", "searching", "extracting", "writing", "verifying"}
WIDTHS = {"status": 11, "cost": 7, "last run": 11}  # "interrupted", "$12.345", "11-30 08:15" (status: see widths)
MIN_NAME = 10  # below this, cost and last run give way so the name and status stay readable


def fit(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut with an ellipsis."""
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


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
    next_due: str | None = None
    pending_approvals: int = 0

    @property
    def shown_status(self) -> str:
        """The stored status, or 'waiting' when an idle agent waits for an approval or its next trigger."""
        if self.status not in BUSY and (self.pending_approvals or self.next_due):
            return "waiting"
        return self.status

    def cells(self, name_width: int = 40, columns: tuple[str, ...] = ("agent", "status", "cost", "last run")
              ) -> tuple[Any, ...]:
        """The row's cells for `columns`, the name cut to `name_width` with an ellipsis."""
        shown = self.shown_status
        values = {"agent": fit(self.slug, name_width),
                  "status": Text(shown.replace("_", " "), style=STATUS_STYLE.get(shown, "")),
                  "cost": f"${self.cost_usd:.3f}",
                  "last run": (self.last_run_at or "-")[5:16].replace("T", " ")}
        return tuple(values[column] for column in columns)


class AgentPanel(DataTable[Any]):
    """Research agents with live status, cost so far and last run; Enter opens the report.

    The columns follow the panel's width: names are cut with an ellipsis, and when the panel is narrow
    (a laptop's 80 columns) cost and last run give way first. Printable keys typed here go to the input.
    """

    COLUMNS = ("agent", "status", "cost", "last run")

    @dataclass
    class Chosen(Message):
        """The person chose an agent (to open its report)."""

        agent_id: str

    @dataclass
    class Typed(Message):
        """A printable key was typed while the panel had focus (it belongs to the message input)."""

        character: str

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_by_id: dict[str, AgentRow] = {}
        self.shown_columns: tuple[str, ...] = ()
        self.name_width = 0

    def on_mount(self) -> None:
        self._layout(self.size.width or 56)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def widths(self) -> dict[str, int]:
        """Column widths: the status column is as wide as the longest status shown (at least 'searching')."""
        longest = max((len(row.shown_status) for row in self.rows_by_id.values()), default=0)
        return {**WIDTHS, "status": max(len("searching"), longest)}

    def layout_for(self, width: int) -> tuple[tuple[str, ...], int]:
        """(columns shown, name width) for a panel `width` cells wide."""
        widths = self.widths()
        for columns in (self.COLUMNS, self.COLUMNS[:2]):
            fixed = sum(widths[c] for c in columns[1:]) + 2 * self.cell_padding * len(columns) + 2  # + scrollbar
            if width - fixed >= MIN_NAME or len(columns) == 2:
                return columns, max(MIN_NAME // 2, width - fixed)
        raise AssertionError("unreachable")  # pragma: no cover

    def _layout(self, width: int, *, force: bool = False) -> None:
        columns, name_width = self.layout_for(width)
        if (columns, name_width) == (self.shown_columns, self.name_width) and not force:
            return
        cursor = self.cursor_row
        self.shown_columns, self.name_width = columns, name_width
        self.clear(columns=True)
        widths = self.widths()
        for column in columns:
            self.add_column(column, key=column, width=name_width if column == "agent" else widths[column])
        for row in self.rows_by_id.values():
            self.add_row(*row.cells(name_width, columns), key=row.id)
        if self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1))

    def update_rows(self, rows: list[AgentRow]) -> None:
        """Apply a fresh read of the registry: add, change and remove rows in place (the cursor stays)."""
        status_width = self.widths()["status"]
        fresh = {row.id: row for row in rows}
        for gone in set(self.rows_by_id) - set(fresh):
            self.remove_row(gone)
            del self.rows_by_id[gone]
        for row in rows:
            old = self.rows_by_id.get(row.id)
            if old is None:
                self.add_row(*row.cells(self.name_width, self.shown_columns), key=row.id)
            elif old != row:
                for column, value in zip(self.shown_columns, row.cells(self.name_width, self.shown_columns),
                                         strict=True):
                    self.update_cell(row.id, column, value)
            self.rows_by_id[row.id] = row
        if self.widths()["status"] != status_width and self.shown_columns:  # a longer (or no longer) status
            self._layout(self.size.width or 56, force=True)

    def status_of(self, slug: str) -> str | None:
        """The status shown for an agent (for tests and the palette)."""
        return next((row.shown_status for row in self.rows_by_id.values() if row.slug == slug), None)

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character and event.character != " ":
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(event.character))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(event.row_key.value))
