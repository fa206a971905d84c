"""Screens over the conversation: a report, a question prompt, a usage table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from mia.tui.report_screen import ReportScreen, ReportView

__all__ = ["PromptScreen", "ReportScreen", "ReportView", "UsageScreen"]


class PromptScreen(ModalScreen[str | None]):
    """Ask the person for one line of text (e.g. a research question)."""

    BINDINGS = [Binding("escape", "dismiss_empty", "Cancel")]

    def __init__(self, title: str, placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.placeholder = title, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(self.title_text)
            yield Input(placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_dismiss_empty(self) -> None:
        self.dismiss(None)


class UsageScreen(ModalScreen[None]):
    """Spend by service and model, as a Markdown table."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Close")]

    def __init__(self, rows: list[dict[str, object]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        from rich.table import Table

        table = Table(title="Usage by service and model", title_style="bold", expand=True)
        for name, justify in (("service", "left"), ("model", "left"), ("requests", "right"),
                              ("tokens in", "right"), ("tokens out", "right"), ("cost", "right")):
            table.add_column(name, justify=justify, no_wrap=name != "model")  # type: ignore[arg-type]
        total = 0.0
        for r in self.rows:
            cost = float(r["cost_usd"] or 0)  # type: ignore[arg-type]
            total += cost
            table.add_row(str(r["service"]), str(r["model"] or "-"), f"{r['requests']:,}",
                          f"{r['input_tokens']:,}", f"{r['output_tokens']:,}", f"${cost:.4f}")
        with Vertical(id="usage-box"):
            yield Static(table)
            yield Static(f"Total: ${total:.4f}" if self.rows else "No usage recorded yet.", id="usage-total")
            yield Static("Esc closes", classes="dim")
