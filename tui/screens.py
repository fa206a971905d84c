"""Screens over the conversation: a report, a question prompt, a usage table."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, MarkdownViewer, Static


@dataclass
class ReportView:
    """What a report screen shows: the agent, its report, its sources."""

    slug: str
    status: str
    version: int
    cost_usd: float
    report: str | None
    sources: list[dict[str, object]]
    path: str
    triggers: list[str] = field(default_factory=list)  # one line each

    def markdown(self) -> str:
        """The report, or a note that there is none yet; sources are listed if the report lacks them."""
        if self.report is None:
            return f"# {self.slug}\n\nNo report yet (status: **{self.status}**)."
        if "## Sources" in self.report or not self.sources:
            return self.report
        lines = [f"{s.get('number', '-')}. [{s.get('title', '')}]({s.get('url', '')})" for s in self.sources]
        return self.report.rstrip() + "\n\n## Sources\n\n" + "\n".join(lines) + "\n"


class ReportScreen(Screen[None]):
    """An agent's report (MarkdownViewer with a table of contents) and its sources."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, view: ReportView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        v = self.view
        yield Static(f"{v.slug} · {v.status.replace('_', ' ')} · report v{v.version} · {len(v.sources)} sources · "
                     f"${v.cost_usd:.4f} · workspace/{v.path}", id="report-title", markup=False)
        triggers = "; ".join(v.triggers) if v.triggers else \
            f"none (add one with `mia triggers add {v.slug} --every 1w`)"
        yield Static(f"Triggers: {triggers}", id="report-triggers", markup=False)
        yield MarkdownViewer(v.markdown(), show_table_of_contents=False, id="report")
        yield Footer()


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
