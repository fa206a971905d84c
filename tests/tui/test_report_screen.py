"""The report screen: a large report stays responsive, citations lead to their sources and back,
every source is listed with its link, and two versions can be compared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from fakes.finished_agent import big_report, make_finished_agent
from pilot_wait import until as wait_until
from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import OptionList, Static, TabbedContent

from mia.settings import load_settings
from mia.store.agents import get_agent
from mia.store.db import open_registry
from mia.tui import data
from mia.tui.report_lines import ReportLines
from mia.tui.report_screen import ReportScreen, ReportView, SourceScreen

CSS = Path(data.__file__).with_name("mia.tcss")


class Host(App[None]):
    """Only the report screen, with mia's stylesheet."""

    CSS_PATH = str(CSS)

    def __init__(self, view: ReportView) -> None:
        super().__init__()
        self.view = view

    def on_mount(self) -> None:
        self.push_screen(ReportScreen(self.view))


def view_of(slug: str = "dmd-treatments") -> ReportView:
    settings = load_settings({})
    registry = open_registry(settings.registry_path)
    return data.report_view(settings, registry, get_agent(registry, slug).id)


async def until(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 30) -> float:
    return await wait_until(pilot, condition, seconds, poll=0.01)


def lines_of(app: App[None]) -> ReportLines:
    return app.screen.query_one("#report-lines", ReportLines)


async def soon(condition: Callable[[], bool], seconds: float = 30) -> float:
    """Seconds until `condition` holds, polling with plain sleeps (pilot.pause waits for the screen's queues)."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > seconds:
            raise AssertionError("the screen never got there")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


def rendered(app: App[None]) -> bool:
    return "Enter or click" in str(app.screen.query_one("#report-status", Static).render())


def test_a_150_kb_report_with_400_sources_opens_and_keys_keep_working() -> None:
    """Textual's Markdown widget needed over a minute for this report; the figures are printed (-s)."""
    text, sources = big_report(kilobytes=150, sources=400)
    make_finished_agent(reports=[text], sources=sources, changes=False)
    view = view_of()
    assert len(view.report or "") > 150_000 and len(view.sources) == 400

    async def story() -> dict[str, float]:
        app = Host(view)
        figures: dict[str, float] = {}
        opened = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            await soon(lambda: isinstance(app.screen, ReportScreen) and bool(lines_of(app).strips))
            figures["first"] = time.perf_counter() - opened
            await soon(lambda: bool(lines_of(app).citations))  # the first section has none
            assert not rendered(app)  # the rest is still coming
            # A key while it renders (posted as the terminal driver does: pilot.press would first wait for
            # the process to be idle, which it is not while the render thread works).
            started = time.perf_counter()
            app.post_message(events.Key("n", "n"))
            figures["key"] = await soon(lambda: lines_of(app).cursor is not None)
            assert not rendered(app)
            figures["full"] = figures["first"] + await until(pilot, lambda: rendered(app))
            assert len(lines_of(app).strips) > 2000 and len(lines_of(app).citations) > 1000
            started = time.perf_counter()
            await pilot.press("s")
            await until(pilot, lambda: app.screen.query_one(TabbedContent).active == "sources")
            figures["sources"] = time.perf_counter() - started
            assert app.screen.query_one("#source-list", OptionList).option_count == 400
        app = Host(view)
        async with app.run_test(size=(120, 40)) as pilot:  # Escape in the middle of rendering
            await until(pilot, lambda: isinstance(app.screen, ReportScreen) and bool(lines_of(app).strips))
            assert not rendered(app)
            started = time.perf_counter()
            app.post_message(events.Key("escape", None))
            figures["escape"] = await soon(lambda: not isinstance(app.screen, ReportScreen))
        return figures

    figures = asyncio.run(story())
    print(f"\n150 KB report, 400 sources: first lines {figures['first']:.2f} s, a key while rendering "
          f"{figures['key'] * 1000:.0f} ms, Escape while rendering {figures['escape'] * 1000:.0f} ms, fully "
          f"rendered {figures['full']:.2f} s, Sources tab {figures['sources'] * 1000:.0f} ms")
    assert figures["first"] < 5 and figures["key"] < 3 and figures["escape"] < 3


def test_a_citation_leads_to_its_source_and_escape_comes_back_to_the_same_place() -> None:
    make_finished_agent()

    async def story() -> None:
        app = Host(view_of())
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ReportScreen) and bool(lines_of(app).citations))
            lines = lines_of(app)
            await pilot.press("n", "n")  # walk to the second citation: [2]
            assert lines.citations[lines.cursor or 0].number == 2
            top = lines.scroll_offset.y
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, SourceScreen))
            detail = str(app.screen.query_one("#source-detail", Static).render())
            assert "[2] EMBARK: gene transfer therapy" in detail and "Clinical trial (ClinicalTrials.gov)" in detail
            assert "Evidence level: not graded" in detail and "https://clinicaltrials.gov/study/NCT05096221" in detail
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, ReportScreen))
            assert lines_of(app).scroll_offset.y == top and lines_of(app).cursor == lines.cursor
            cite = lines.citations[0]  # a click on [1] follows it too
            await pilot.click("#report-lines", offset=(cite.start + 1 - lines.scroll_offset.x,
                                                       cite.line - lines.scroll_offset.y))
            await until(pilot, lambda: isinstance(app.screen, SourceScreen))
            detail = str(app.screen.query_one("#source-detail", Static).render())
            assert "[1] Delandistrogene" in detail and "https://doi.org/10.1038/s41591-024-00001-x" in detail

    asyncio.run(story())


def test_every_retrieved_source_is_listed_with_its_link() -> None:
    make_finished_agent()

    async def story() -> None:
        app = Host(view_of())
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ReportScreen))
            await pilot.press("s")
            options = app.screen.query_one("#source-list", OptionList)
            assert options.option_count == 5  # 4 cited and the one only retrieved
            await pilot.press("end", "enter")
            await until(pilot, lambda: isinstance(app.screen, SourceScreen))
            detail = str(app.screen.query_one("#source-detail", Static).render())
            assert "[5] Vamorolone versus prednisone" in detail
            assert "https://pubmed.ncbi.nlm.nih.gov/36000001/" in detail

    asyncio.run(story())


def test_versions_are_listed_with_their_change_notes_and_two_picked_show_the_diff() -> None:
    make_finished_agent()

    async def story() -> None:
        app = Host(view_of())
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ReportScreen))
            await pilot.press("v")
            versions = app.screen.query_one("#version-list", OptionList)
            labels = [str(versions.get_option_at_index(i).prompt) for i in range(versions.option_count)]
            assert labels == ["v2  New papers (1)", "v1  first report"]
            await pilot.press("enter", "down", "enter")
            diff = app.screen.query_one("#diff-lines", ReportLines)
            await until(pilot, lambda: bool(diff.strips))
            text = [strip.text for strip in diff.strips]
            assert text[0] == "--- dmd-treatments/v1.md" and any(t.startswith("+Givinostat slowed") for t in text)

    asyncio.run(story())
