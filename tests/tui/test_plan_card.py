"""Plan review in mia chat (research.review_plans): the drafted plan is a card; what the person accepts is searched."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest
from fakes.chat_llm import ChatLLM
from fakes.research_llm import ResearchLLM
from fakes.server import SEARCH_SERVICES, FakeServices, LLMReply, ScriptedLLM
from pilot_wait import until
from textual.pilot import Pilot
from textual.widgets import Button, TextArea

from mia.agents.llm.client import LLMClient
from mia.agents.research.followup import follow_up_research
from mia.settings import Settings, load_settings
from mia.store.db import open_registry
from mia.tools.http import RetryPolicy
from mia.tui.app import MiaApp, create_app
from mia.tui.plan_card import PlanCard
from mia.tui.widgets import NoteBlock

PLANNED = ["DMD treatments gene therapy", "DMD treatments exon skipping", "DMD treatments corticosteroids"]


@pytest.fixture
def chat() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def research() -> ResearchLLM:
    return ResearchLLM()


@pytest.fixture
def fake(chat: ScriptedLLM, research: ResearchLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=ChatLLM(chat, research)) as services:
        yield services


@pytest.fixture
def settings(fake: FakeServices) -> Settings:
    return load_settings(env={**os.environ, **fake.env(), "MIA_RESEARCH_REVIEW_PLANS": "true"})


def run(settings: Settings, story: Callable[[MiaApp, Pilot[None]], Coroutine[Any, Any, None]]) -> None:
    def llm(http: httpx.Client) -> LLMClient:
        client = LLMClient.from_settings(settings, http)
        client.retry = RetryPolicy(attempts=1)
        return client

    app = create_app(settings, lambda: open_registry(settings.registry_path), llm, refresh_seconds=0.2)

    async def main() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: not app.loading)
            await story(app, pilot)

    asyncio.run(main())


async def start_research(app: MiaApp, pilot: Pilot[None], chat: ScriptedLLM) -> PlanCard:
    """Ask for research in the conversation; the card appears and nothing has been searched yet."""
    chat.push(LLMReply(tool_calls=[{"name": "spawn_research",
                                    "arguments": {"question": "DMD treatments", "depth": "quick"}}]),
              "I started **dmd-treatments**.")
    await pilot.click("#message")
    await pilot.press(*"research DMD treatments", "enter")
    await until(pilot, lambda: bool(app.query(PlanCard)) and not app.turn_running)
    await pilot.pause(0.2)
    return app.query_one(PlanCard)


async def press(pilot: Pilot[None], card: PlanCard, name: str) -> None:
    button = card.query_one(f".plan-{name}", Button)
    card.scroll_visible(animate=False)
    await pilot.pause(0.05)
    await pilot.click(button)


def searched(fake: FakeServices, service: str = "pubmed", arg: str = "term") -> set[str]:
    return {r.query[arg][0] for r in fake.requests if r.service == service and arg in r.query}


def finished(app: MiaApp) -> bool:
    return any("finished: done" in str(n.render()) for n in app.query(NoteBlock))


def test_the_plan_card_shows_the_plan_before_any_search_and_accept_searches_it(
        settings: Settings, fake: FakeServices, chat: ScriptedLLM, research: ResearchLLM) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        card = await start_research(app, pilot, chat)
        body = str(card.query_one(".plan-body").render())
        assert "1. What is known about DMD treatments and gene therapy?" in body
        assert all(f"query: {query}" in body for query in PLANNED)
        assert card.border_title == "Plan for research 'dmd-treatments'"
        assert not any(r.service in SEARCH_SERVICES for r in fake.requests)  # it waits for the person
        assert app.agent_panel.row_count == 0
        await press(pilot, card, "accept")
        await until(pilot, lambda: finished(app))
        assert "Accepted: searching 3 sub-question(s)." in str(card.query_one(".plan-body").render())

    run(settings, story)
    assert searched(fake) == set(PLANNED)
    assert searched(fake, "trials", "query.term") == set(PLANNED)
    assert research.tasks["plan"] == 1  # drafted once, for the card; the run searched it without planning again
    plan = json.loads((settings.workspace_root / "agents" / "dmd-treatments" / "plan.json").read_text())
    assert [sq["query"] for sq in plan] == PLANNED
    db = sqlite3.connect(settings.registry_path)
    assert db.execute("SELECT COUNT(*) FROM usage WHERE step_key = 'plan' AND agent_id IS NOT NULL").fetchone()[0]


def test_an_edited_query_is_what_is_searched_and_a_wrong_line_keeps_the_editor_open(
        settings: Settings, fake: FakeServices, chat: ScriptedLLM) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        card = await start_research(app, pilot, chat)
        await press(pilot, card, "edit")
        area = card.query_one(".plan-text", TextArea)
        assert area.has_focus and area.text.startswith("# Research plan for: DMD treatments")
        assert "press Ctrl+S" in area.text and "close the editor" not in area.text
        area.move_cursor(area.document.end)
        await pilot.press(*"nonsense")
        await press(pilot, card, "save")
        error = str(card.query_one(".plan-error").render())
        assert "is not understood: 'nonsense'" in error and area.display  # shown; still editing
        assert not any(r.service in SEARCH_SERVICES for r in fake.requests)
        await pilot.press(*["backspace"] * len("nonsense"), *"pubmed: givinostat safety", "ctrl+s")
        assert not area.display and not card.query_one(".plan-error").display
        assert "   pubmed: givinostat safety" in str(card.query_one(".plan-body").render())
        await press(pilot, card, "accept")
        await until(pilot, lambda: finished(app))

    run(settings, story)
    assert searched(fake) == {*PLANNED[:2], "givinostat safety"}  # the edited query replaced pubmed's
    assert searched(fake, "trials", "query.term") == set(PLANNED)  # the other sources keep the shared query
    plan = json.loads((settings.workspace_root / "agents" / "dmd-treatments" / "plan.json").read_text())
    assert plan[2]["queries"] == {"pubmed": "givinostat safety"}

    fake.reset_log()  # a scheduled wake-up (what a trigger runs) searches the reviewed plan again
    registry = open_registry(settings.registry_path)
    with httpx.Client(timeout=30) as http:
        follow_up_research(settings, registry, "dmd-treatments", instruction="", http=http,
                           on_event=lambda kind, data: None, force_report=False)
    registry.close()
    assert "givinostat safety" in searched(fake) and PLANNED[2] not in searched(fake)


def test_cancel_searches_nothing_makes_no_agent_and_keeps_the_planning_spend(
        settings: Settings, fake: FakeServices, chat: ScriptedLLM) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        card = await start_research(app, pilot, chat)
        assert card.query_one(".plan-accept", Button).has_focus  # the message box was empty: Enter accepts
        await pilot.press("right", "right")
        assert card.query_one(".plan-cancel", Button).has_focus
        await pilot.press("enter")
        await until(pilot, lambda: any("cancelled at its plan" in str(n.render()) for n in app.query(NoteBlock)))
        assert "Cancelled: nothing will be searched" in str(card.query_one(".plan-body").render())
        assert not card.query_one(".plan-review").display

    run(settings, story)
    assert not any(r.service in SEARCH_SERVICES for r in fake.requests)
    db = sqlite3.connect(settings.registry_path)
    assert db.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0
    spend = db.execute("SELECT COUNT(*), SUM(cost_usd) FROM usage WHERE step_key = 'plan-review' "
                       "AND agent_id IS NULL").fetchone()
    assert spend[0] == 1 and spend[1] > 0


def test_a_waiting_card_comes_back_with_its_conversation_and_quitting_cancels_it_with_its_spend(
        settings: Settings, fake: FakeServices, chat: ScriptedLLM) -> None:
    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await start_research(app, pilot, chat)
        assert app.conversation is not None
        first = app.conversation.id
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.conversation is not None and app.conversation.id != first)
        await pilot.pause(0.2)
        assert not app.query(PlanCard)  # the card belongs to the conversation the research was asked in
        app.switch_conversation(first)
        await until(pilot, lambda: bool(app.query(PlanCard)))
        await pilot.press("ctrl+q")  # nothing is running yet: no "press Ctrl+Q again", no resume hint
        await until(pilot, lambda: not app.is_running)

    run(settings, story)
    assert not any(r.service in SEARCH_SERVICES for r in fake.requests)
    db = sqlite3.connect(settings.registry_path)
    assert db.execute("SELECT COUNT(*) FROM usage WHERE step_key = 'plan-review'").fetchone()[0] == 1


def test_only_a_front_end_that_shows_plans_makes_research_wait_and_only_when_asked(settings: Settings) -> None:
    from mia.agents.chat.background import Background

    assert Background(settings, on_plan=print).reviewing
    assert not Background(settings).reviewing  # mia ask and scripts: nobody to show a card to, so no waiting
    off = settings.model_copy(update={"research": settings.research.model_copy(update={"review_plans": False})})
    assert not Background(off, on_plan=print).reviewing  # the default
