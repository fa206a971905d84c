"""The chat app on a laptop: 80×24 and 140×40 with realistic long agent names, focus, and when a conversation
is saved. Snapshots live in __snapshots__/test_laptop/ (look at new SVGs before committing them)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from pilot_wait import until as wait_until
from textual.pilot import Pilot
from textual.widgets import Input

from mia.commands.app import main
from mia.settings import Settings, load_settings
from mia.store import agents as agent_store
from mia.store import conversations as conv_store
from mia.store.db import open_registry
from mia.tui.app import MiaApp, create_app
from mia.tui.panel import AgentPanel, AgentRow
from mia.tui.screens import ReportScreen

LONG_AGENTS = [  # (question, slug, status, cost, last run)
    ("Duchenne muscular dystrophy exon skipping therapies", "duchenne-muscular-dystrophy-exon-skipping-therapies",
     "done", 0.0412, "2026-11-20T09:14:00+00:00"),
    ("Gene therapy trials in spinal muscular atrophy type 1", "spinal-muscular-atrophy-gene-therapy-trials",
     "searching", 0.0087, "2026-11-22T07:58:00+00:00"),
    ("CRISPR base editing for sickle cell disease", "crispr-base-editing-sickle-cell-disease", "failed", 0.0021,
     "2026-11-21T18:30:00+00:00"),
    ("GLP-1 agonists and cardiovascular outcomes", "glp1-cardiovascular", "waiting", 0.1234,
     "2026-11-23T10:02:00+00:00"),
]


@pytest.fixture
def seeded(tmp_path: Path) -> Settings:
    settings = load_settings(env={**os.environ, "MIA_HOME": str(tmp_path / "home"),
                                  "MIA_CONFIG": str(tmp_path / "config.toml"),
                                  "CLOUDFLARE_ACCOUNT_ID": "laptop", "CLOUDFLARE_API_TOKEN": "laptop"})
    registry = open_registry(settings.registry_path)
    for question, slug, status, cost, last in LONG_AGENTS:
        agent = agent_store.create_agent(registry, question=question, sources=["pubmed"], depth="standard",
                                         model="m", budget_usd=0.5, slug=slug)
        agent_store.set_status(registry, agent.id, status, last_run_at=last, created_at=last,
                               report_version=1 if status == "done" else 0)
        registry.execute("INSERT INTO usage (service, model, input_tokens, output_tokens, neurons, cost_usd, "
                         "latency_ms, requests, agent_id, created_at) VALUES ('Workers AI', 'm', 1, 1, 0, ?, 0, 1, "
                         "?, ?)", (cost, agent.id, last))
        if status == "done":
            folder = settings.workspace_root / "agents" / slug
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "report.md").write_text("# Exon skipping\n\nEteplirsen raises dystrophin [1].\n")
    conversation = conv_store.create_conversation(registry)
    conv_store.add_message(registry, conversation.id, "user", "What is new in DMD?")
    conv_store.add_message(registry, conversation.id, "assistant", "Givinostat slowed decline [3].")
    registry.close()
    return settings


def make_app(settings: Settings, **options: Any) -> MiaApp:
    def no_llm(http: Any) -> Any:
        raise AssertionError("these tests never ask the model")

    return create_app(settings, lambda: open_registry(settings.registry_path), no_llm, refresh_seconds=0.2,
                      **{"continue_last": True, **options})


async def until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    await wait_until(pilot, condition, settle=0.1)


def run(app: MiaApp, size: tuple[int, int], story: Callable[[MiaApp, Pilot[None]], Coroutine[Any, Any, None]]
        ) -> None:
    async def body() -> None:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: not app.loading and app.agent_panel.row_count == 4)
            await story(app, pilot)

    asyncio.run(body())


def panel_text(app: MiaApp) -> list[str]:
    panel = app.agent_panel
    return [" | ".join(str(panel.get_cell_at((r, c))) for c in range(len(panel.columns)))
            for r in range(panel.row_count)]


def test_at_140x40_the_panel_shows_status_cost_and_last_run_with_names_cut_by_an_ellipsis(seeded: Settings) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        assert app.agent_panel.shown_columns == ("agent", "status", "cost", "last run")
        rows = panel_text(app)
        assert rows[0].startswith("duchenne-") and "…" in rows[0].split(" | ")[0]
        assert rows[0].endswith("done | $0.041 | 11-20 09:14") and "searching" in rows[2]
        assert "waiting | $0.123" in rows[3]

    run(make_app(seeded), (140, 40), story)


def test_at_80x24_the_panel_shrinks_and_collapses_behind_a_key(seeded: Settings) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        side = app.query_one("#side")
        assert side.size.width <= 30 and app.agent_panel.shown_columns == ("agent", "status")
        assert app.query_one("#conversation").size.width >= 45
        assert [row.split(" | ")[1] for row in panel_text(app)] == ["done", "failed", "searching", "waiting"]
        await pilot.press("ctrl+b")
        await pilot.pause(0.1)
        assert not side.display and app.query_one("#conversation").size.width >= 75
        await pilot.press("ctrl+b")
        await pilot.pause(0.1)
        assert side.display

    run(make_app(seeded), (80, 24), story)


def test_focus_returns_to_the_input_after_the_report_and_typing_on_the_table_reaches_it(seeded: Settings) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        box = app.query_one("#message", Input)
        app.agent_panel.focus()
        await pilot.press("h", "i")
        assert box.has_focus and box.value == "hi"
        app.agent_panel.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReportScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReportScreen))
        assert app.focused is box

    run(make_app(seeded), (140, 40), story)


def test_the_input_box_stays_inside_its_pane(seeded: Settings) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        box, side = app.query_one("#message", Input).region, app.query_one("#side").region
        assert box.right <= side.x

    for size in ((80, 24), (140, 40)):
        run(make_app(seeded), size, story)


def test_cells_fit_the_name_to_the_width() -> None:
    row = AgentRow(id="a", slug="duchenne-muscular-dystrophy", status="done", report_version=1, cost_usd=0.5,
                   last_run_at=None, question="q")
    assert row.cells(10, ("agent", "status"))[0] == "duchenne-…"
    assert AgentPanel().layout_for(30)[0] == ("agent", "status")
    panel = AgentPanel()
    panel.rows_by_id["a"] = AgentRow(id="a", slug="x", status="not_synthesized", report_version=1, cost_usd=0,
                                     last_run_at=None, question="q")
    assert panel.widths()["status"] == len("not_synthesized")  # a long outcome word is never cut


def count_conversations(settings: Settings) -> int:
    registry = open_registry(settings.registry_path)
    try:
        return int(registry.one("SELECT COUNT(*) AS n FROM conversations")["n"])  # type: ignore[index]
    finally:
        registry.close()


def test_a_conversation_is_saved_only_once_it_has_a_message(seeded: Settings) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not app.loading)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not app.loading)

    run(make_app(seeded, continue_last=False), (140, 40), story)
    assert count_conversations(seeded) == 1


def test_continue_opens_the_last_conversation_with_messages(seeded: Settings) -> None:
    registry = open_registry(seeded.registry_path)
    conv_store.create_conversation(registry)  # an empty one left by an older mia
    registry.close()

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        assert app.conversation is not None and app.conversation.title == "What is new in DMD?"

    run(make_app(seeded), (140, 40), story)


def test_a_rejected_ask_and_an_unknown_conversation_leave_nothing_and_fail_at_the_command_line(
        seeded: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MIA_HOME", str(seeded.home))
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "laptop")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "laptop")
    assert main(["ask", ""]) != 0
    assert main(["chat", "--conversation", "nope-nope"]) == 1
    err = capsys.readouterr().err
    assert "No conversation 'nope-nope'" in err and "mia chat --list" in err
    assert count_conversations(seeded) == 1


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
def test_the_main_screen_at_laptop_sizes(snap_compare: Any, seeded: Settings, size: tuple[int, int]) -> None:
    app = make_app(seeded)

    async def ready(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: not app.loading and app.agent_panel.row_count == 4)

    assert snap_compare(app, terminal_size=size, run_before=ready)
