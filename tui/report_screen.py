"""An agent's report: the text with followable citations, every retrieved source, versions and their diffs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.strip import Strip
from textual.widgets import Footer, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from mia.agents.research.references import links
from mia.models import Source
from mia.tui.report_lines import ReportLines, diff_strips, render_markdown, sections

READY = "n/p: citations · Enter or click: follow · s: sources · v: versions"
KIND = {"web": "Web page", "pubmed": "PubMed article", "europepmc": "Europe PMC record",
        "trial": "Clinical trial (ClinicalTrials.gov)", "correspondence": "Correspondence", "file": "Your document"}


@dataclass
class ReportView:
    """What a report screen shows: the agent, its report, every retrieved source, versions and change notes.

    `diff(old, new)` gives the unified diff lines of two versions (read when asked, in a worker).
    """

    slug: str
    status: str
    version: int
    cost_usd: float
    report: str | None
    sources: list[dict[str, object]]
    path: str
    triggers: list[str] = field(default_factory=list)  # one line each
    versions: list[int] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)  # version -> what its change note says
    diff: Callable[[int, int], list[str]] | None = None

    def markdown(self) -> str:
        """The report without its source list (the Sources tab lists every source), or a note without one."""
        if self.report is None:
            return f"# {self.slug}\n\nNo report yet (status: **{self.status}**)."
        body = self.report.split("\n## Sources", 1)[0].rstrip()
        return body + f"\n\n---\n\n*{len(self.sources)} retrieved sources: press **s** to see them all.*\n"

    def source(self, number: int) -> dict[str, object] | None:
        return next((s for s in self.sources if s.get("number") == number), None)


def source_text(raw: dict[str, object]) -> Text:
    """A source in full: title, kind, evidence level, facts, links and snippet."""
    try:
        source = Source.model_validate(raw)
    except ValueError:
        source = Source(kind="web", url=str(raw.get("url", "")), title=str(raw.get("title", "")))
    text = Text()
    text.append(f"[{source.number}] {source.title}\n\n", style="bold")
    level = raw.get("evidence_level") or raw.get("level")
    facts = [("Kind", KIND.get(source.kind, source.kind)), ("Evidence level", str(level or "not graded")),
             ("Identifier", source.identifier or ""), ("Authors", ", ".join(source.authors[:6])),
             ("Journal", source.journal or ""), ("Date", source.date or ""),
             ("Status", (source.status or "").replace("_", " ").lower()),
             ("Phases", ", ".join(_phase(p) for p in source.phases)),
             ("Sponsor", source.sponsor or ""),
             ("Retrieved as", f"#{raw['retrieved']}" if raw.get("retrieved") else "")]
    for label, value in facts:
        if value:
            text.append(f"{label}: ", style="bold")
            text.append(f"{value}\n")
    text.append("\nLink: ", style="bold")
    text.append(source.url + "\n", style=f"link {source.url}")
    for name, url in links(source):
        if url != source.url:
            text.append(f"{name}: ", style="bold")
            text.append(url + "\n", style=f"link {url}")
    if source.snippet:
        text.append("\n" + source.snippet + "\n", style="italic")
    return text


def _phase(phase: str) -> str:
    return phase.replace("EARLY_PHASE", "Early phase ").replace("PHASE", "Phase ").replace("NA", "not applicable")


class SourceScreen(ModalScreen[None]):
    """One source in full; Escape goes back to where the person was."""

    BINDINGS = [Binding("escape,q,b", "dismiss", "Back")]

    def __init__(self, raw: dict[str, object]) -> None:
        super().__init__()
        self.raw = raw

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="source-box"):
            yield Static(source_text(self.raw), id="source-detail")
            yield Static("Esc: back", classes="dim")


class ReportScreen(Screen[None]):
    """The report (rendered in a worker, citations followable), all sources, and versions with their diffs."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("r", "tab('report')", "Report"),
        Binding("s", "tab('sources')", "Sources"),
        Binding("v", "tab('versions')", "Versions"),
        # Also when the focus is elsewhere on the Report tab (its tab strip, after a click).
        Binding("n", "citation(1)", show=False), Binding("p", "citation(-1)", show=False),
    ]

    def __init__(self, view: ReportView) -> None:
        super().__init__()
        self.view = view
        self.picked: list[int] = []
        self.rendered_width = 0

    def compose(self) -> ComposeResult:
        v = self.view
        yield Static(f"{v.slug} · {v.status.replace('_', ' ')} · report v{v.version} · {len(v.sources)} sources · "
                     f"${v.cost_usd:.4f} · workspace/{v.path}", id="report-title", markup=False)
        triggers = "; ".join(v.triggers) if v.triggers else \
            f"none (add one with `mia triggers add {v.slug} --every 1w`)"
        yield Static(f"Triggers: {triggers}", id="report-triggers", markup=False)
        with TabbedContent(id="report-tabs"):
            with TabPane("Report", id="report"):
                yield Static("Rendering the report…", id="report-status")
                yield ReportLines(id="report-lines")
            with TabPane(f"Sources ({len(v.sources)})", id="sources"):
                yield OptionList(*self._source_options(), id="source-list")
            with TabPane(f"Versions ({len(v.versions)})", id="versions"), Vertical():
                yield Static("Pick two versions (Enter) to see what changed.", id="versions-help")
                yield OptionList(*self._version_options(), id="version-list")
                yield ReportLines(id="diff-lines")
        yield Footer()

    def _source_options(self) -> list[Option]:
        options = []
        for s in self.view.sources:
            kind = {"pubmed": "PubMed", "europepmc": "Europe PMC", "trial": "Trial"}.get(str(s.get("kind")),
                                                                                       str(s.get("kind", "")))
            ident = f" · {s['identifier']}" if s.get("identifier") else ""
            label = Text(f"[{s.get('number', '-')}] ", style="bold")
            label.append(f"{s.get('title', '')}")
            label.append(f"  {kind}{ident}", style="dim")
            options.append(Option(label, id=f"source-{s.get('number')}"))
        return options

    def _version_options(self) -> list[Option]:
        options = []
        for version in reversed(self.view.versions):
            note = self.view.notes.get(version, "first report" if version == self.view.versions[0] else "")
            options.append(Option(Text(f"v{version}  {note}"), id=f"version-{version}"))
        return options

    def on_mount(self) -> None:
        lines = self.query_one("#report-lines", ReportLines)
        lines.known = {int(n) for s in self.view.sources if isinstance(n := s.get("number"), int)}
        lines.focus()

    def on_resize(self) -> None:
        width = self.query_one("#report-lines", ReportLines).size.width or self.size.width - 2
        if width and width != self.rendered_width:
            self.rendered_width = width
            self.render_report(width)

    @work(thread=True, exclusive=True, group="render", exit_on_error=False)
    def render_report(self, width: int) -> None:
        """Render section by section in a thread; each part is shown as soon as it is ready."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        lines = self.query_one("#report-lines", ReportLines)
        self.app.call_from_thread(lines.clear)
        pending: list[Strip] = []
        shown = 0.0  # hand lines over in batches (the first at once), so the screen is not flooded
        for part in sections(self.view.markdown()):
            pending += render_markdown(part, width)
            if worker.is_cancelled:
                return
            if time.monotonic() - shown > 0.25:
                self.app.call_from_thread(lines.append, pending)
                pending, shown = [], time.monotonic()
        self.app.call_from_thread(lines.append, pending)
        self.app.call_from_thread(self._status, READY)

    def _status(self, text: str) -> None:
        self.query_one("#report-status", Static).update(text)

    def action_tab(self, tab: str) -> None:
        self.query_one("#report-tabs", TabbedContent).active = tab
        target = {"report": "#report-lines", "sources": "#source-list", "versions": "#version-list"}[tab]
        self.query_one(target).focus()

    def action_citation(self, step: int) -> None:
        if self.query_one("#report-tabs", TabbedContent).active != "report":
            return
        lines = self.query_one("#report-lines", ReportLines)
        lines.focus()
        lines.action_next_citation() if step > 0 else lines.action_previous_citation()

    def on_report_lines_followed(self, event: ReportLines.Followed) -> None:
        raw = self.view.source(event.number)
        if raw is None:
            self.notify(f"[{event.number}] is not among this report's sources.")
            return
        self.app.push_screen(SourceScreen(raw))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id.startswith("source-"):
            raw = self.view.source(int(option_id.removeprefix("source-")))
            if raw is not None:
                self.app.push_screen(SourceScreen(raw))
        elif option_id.startswith("version-"):
            self._pick(int(option_id.removeprefix("version-")))

    def _pick(self, version: int) -> None:
        self.picked = [v for v in self.picked if v != version][-1:] + [version]
        help_text = self.query_one("#versions-help", Static)
        if len(self.picked) < 2:
            help_text.update(f"Picked v{version}: pick another version to compare.")
            return
        old, new = sorted(self.picked)
        help_text.update(f"What changed from v{old} to v{new}:")
        self.show_diff(old, new)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def show_diff(self, old: int, new: int) -> None:
        lines = self.view.diff(old, new) if self.view.diff else []
        strips = diff_strips(lines or ["(no differences)"])
        view = self.query_one("#diff-lines", ReportLines)
        self.app.call_from_thread(view.clear)
        self.app.call_from_thread(view.append, strips)
