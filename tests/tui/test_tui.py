"""The chat app under Pilot: answers render as Markdown, research shows up live, errors become notifications."""

from __future__ import annotations

import asyncio
import html
import os
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest
from fakes.chat_llm import ChatLLM
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices, LLMReply, ScriptedLLM
from pilot_wait import until
from textual.pilot import Pilot

from mia.agents.llm.client import LLMClient
from mia.errors import MissingCredentialError
from mia.settings import Settings, load_settings
from mia.store import conversations as conv_store
from mia.store.db import open_registry
from mia.tools.http import RetryPolicy
from mia.tui.app import MiaApp, create_app
from mia.tui.report_lines import ReportLines
from mia.tui.screens import ReportScreen, UsageScreen
from mia.tui.widgets import AnswerBlock, HistoryAnswer, NoteBlock, UserBlock


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
    return load_settings(env={**os.environ, **fake.env()})


def make_app(settings: Settings, llm_factory: Callable[[httpx.Client], LLMClient] | None = None,
             **options: Any) -> MiaApp:
    def llm(http: httpx.Client) -> LLMClient:
        client = LLMClient.from_settings(settings, http)
        client.retry = RetryPolicy(attempts=1)
        return client

    return create_app(settings, lambda: open_registry(settings.registry_path), llm_factory or llm,
                      refresh_seconds=0.2, **options)


def run(app: MiaApp, story: Callable[[MiaApp, Pilot[None]], Coroutine[Any, Any, None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: not app.loading)
            await story(app, pilot)

    asyncio.run(main())


async def say(pilot: Pilot[None], text: str) -> None:
    await pilot.click("#message")
    await pilot.press(*text, "enter")


def record_notifications(app: MiaApp) -> list[str]:
    seen: list[str] = []
    original = app.notify

    def notify(message: str, **options: Any) -> None:
        seen.append(message)
        original(message, **options)

    app.notify = notify
    return seen


def screen_text(app: MiaApp) -> str:
    """The screen as plain text, from the SVG screenshot (a snapshot reviewed by eye lives in the report)."""
    svg = app.export_screenshot()
    lines = re.findall(r'<g class="[^"]*" clip-path="url\(#[^)]*-clip-terminal\)">(.*?)</g>', svg, re.DOTALL)
    body = lines[0] if lines else svg
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")


def answers(app: MiaApp) -> list[Any]:
    return [w for w in app.query(".answer") if isinstance(w, AnswerBlock | HistoryAnswer)]


def call(name: str, **arguments: Any) -> LLMReply:
    return LLMReply(tool_calls=[{"name": name, "arguments": arguments}])


def test_a_typed_message_gets_a_markdown_answer(settings: Settings, chat: ScriptedLLM) -> None:
    chat.push("## Hello\n\nThis is **mia** with a list:\n\n- one\n- two")

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await say(pilot, "hi there")
        await until(pilot, lambda: not app.turn_running and bool(answers(app)))
        block = answers(app)[0]
        assert block.text.startswith("## Hello")
        assert [str(u.render()) for u in app.query(UserBlock)] == ["hi there"]
        await pilot.pause(0.2)
        screen = screen_text(app)
        assert "Hello" in screen and "hi there" in screen and "Research agents" in screen
        assert "Esc cancels" in screen and "##" not in screen  # rendered, not shown as source
        assert app.sub_title == "hi there"

    run(make_app(settings), story)


QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
LONG_ANSWER = "## Findings\n\n" + "\n".join(f"- finding {n}: exon skipping raised dystrophin [1]." for n in range(60))


def test_the_answer_streams_into_the_conversation_while_the_model_is_still_writing(
        settings: Settings, fake: FakeServices, chat: ScriptedLLM) -> None:
    fake.stream_pause = 0.01  # about 100 pieces a second, like a real model
    chat.push(LONG_ANSWER)
    streaming = load_settings(env={**os.environ, **fake.env(), "MIA_HOME": str(settings.home), "MIA_LLM_MODEL": QWEN})

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await say(pilot, "what is known?")
        await until(pilot, lambda: bool(answers(app)) and "finding 3" in screen_text(app))
        assert app.turn_running and "finding 59" not in answers(app)[0].text  # shown before the end arrived
        await until(pilot, lambda: not app.turn_running)
        assert answers(app)[0].text.strip() == LONG_ANSWER
        await until(pilot, lambda: "finding 59" in screen_text(app), timeout=10)
        assert "##" not in screen_text(app)

    run(make_app(streaming), story)


def test_escape_mid_stream_keeps_what_arrived_marks_it_cancelled_and_counts_its_cost(
        settings: Settings, fake: FakeServices, chat: ScriptedLLM) -> None:
    fake.stream_pause = 0.02
    chat.push(LLMReply(text=LONG_ANSWER, completion_tokens=5000))  # what a finished stream would report
    streaming = load_settings(env={**os.environ, **fake.env(), "MIA_HOME": str(settings.home), "MIA_LLM_MODEL": QWEN})

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await say(pilot, "what is known?")
        await until(pilot, lambda: bool(answers(app)) and "finding 2" in answers(app)[0].text)
        await pilot.press("escape")
        await until(pilot, lambda: any("cancelled" in str(n.render()) for n in app.query(NoteBlock)))
        shown = answers(app)[0].text
        assert shown.endswith("*(cancelled)*") and "finding 59" not in shown
        await pilot.pause(0.5)
        assert app.registry is not None and app.conversation is not None
        spent = app.registry.query("SELECT output_tokens FROM usage WHERE conversation_id = ?",
                                   (app.conversation.id,))
        assert len(spent) == 1 and 0 < spent[0]["output_tokens"] < 1000  # an estimate of what arrived

    run(make_app(streaming), story)


def test_text_before_a_tool_call_stays_above_its_note_and_the_answer_follows_below(
        settings: Settings, chat: ScriptedLLM) -> None:
    chat.push(LLMReply(text="Let me look at your agents.", tool_calls=[{"name": "list_agents", "arguments": {}}]),
              "You have **no** agents yet.")

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await say(pilot, "agents?")
        await until(pilot, lambda: not app.turn_running and len(answers(app)) == 2)
        order = [w for w in app.view.children if isinstance(w, AnswerBlock | NoteBlock)]
        kinds = [("tool" if isinstance(w, NoteBlock) else w.text.strip()) for w in order]
        assert kinds == ["Let me look at your agents.", "tool", "You have **no** agents yet."]

    run(make_app(settings), story)


def test_research_started_in_the_conversation_appears_in_the_panel_and_finishes(
        settings: Settings, chat: ScriptedLLM, research: ResearchLLM) -> None:
    gate = threading.Event()
    research.hold["synthesize"] = gate
    chat.push(call("spawn_research", question="DMD treatments", depth="quick"), "I started **dmd-treatments**.")

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await say(pilot, "research DMD treatments")
        await until(pilot, lambda: app.agent_panel.status_of("dmd-treatments") == "writing")
        assert not app.turn_running and "dmd-treatments" in answers(app)[0].text
        assert any("⚙ Research ✓" in str(n.render()) for n in app.query(NoteBlock))
        assert not any("spawn_research" in str(n.render()) for n in app.query(NoteBlock))
        gate.set()
        await until(pilot, lambda: app.agent_panel.status_of("dmd-treatments") == "done")
        await until(pilot, lambda: any("finished: done" in str(n.render()) for n in app.query(NoteBlock)))
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ReportScreen))
        lines = app.screen.query_one("#report-lines", ReportLines)
        await until(pilot, lambda: any("Summary" in strip.text for strip in lines.strips))
        assert app.screen.view.sources and "## Sources" in (app.screen.view.report or "")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReportScreen))

    run(make_app(settings), story)


def test_escape_cancels_the_answer_and_a_late_reply_is_dropped(settings: Settings, fake: FakeServices) -> None:
    gate = threading.Event()

    def slow(body: dict[str, Any], model: str) -> LLMReply:
        gate.wait(20)
        return LLMReply(text="a late answer")

    fake.llm = ChatLLM(slow)

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        await say(pilot, "take your time")
        await until(pilot, lambda: app.turn_running and app.thinking is not None)
        await pilot.press("escape")
        await until(pilot, lambda: not app.turn_running)
        await until(pilot, lambda: any("cancelled" in str(n.render()) for n in app.query(NoteBlock)))
        gate.set()
        await pilot.pause(0.5)
        assert not any("late answer" in block.text for block in answers(app))
        assert app.conversation is not None and app.registry is not None
        roles = [m.role for m in conv_store.messages(app.registry, app.conversation.id)]
        assert roles == ["user"]

    run(make_app(settings), story)


@pytest.mark.parametrize("status", [401, 500])
def test_a_failing_model_service_is_a_notification_not_a_crash(settings: Settings, fake: FakeServices,
                                                              chat: ScriptedLLM, status: int) -> None:
    fake.fail_next("workers-ai", status)
    chat.push("Working again.")

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        seen = record_notifications(app)
        await say(pilot, "hello")
        await until(pilot, lambda: not app.turn_running and bool(seen))
        assert "Workers AI" in seen[0] and any("✗" in str(n.render()) for n in app.query(NoteBlock))
        await say(pilot, "hello again")
        await until(pilot, lambda: not app.turn_running and bool(answers(app)))
        assert answers(app)[-1].text == "Working again."

    run(make_app(settings), story)


def test_missing_credentials_are_explained_in_a_notification(settings: Settings) -> None:
    def no_llm(http: httpx.Client) -> LLMClient:
        raise MissingCredentialError("Workers AI needs cloudflare.account_id (CLOUDFLARE_ACCOUNT_ID).",
                                     "Set them with `mia config set cloudflare.account_id ID`.")

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        seen = record_notifications(app)
        await say(pilot, "hello")
        await until(pilot, lambda: bool(seen))
        assert "CLOUDFLARE_ACCOUNT_ID" in seen[0] and "mia config set" in seen[0]

    run(make_app(settings, no_llm), story)


def test_continue_reopens_the_last_conversation_and_the_palette_switches(settings: Settings) -> None:
    registry = open_registry(settings.registry_path)
    old = conv_store.create_conversation(registry)
    conv_store.add_message(registry, old.id, "user", "an older question")
    last = conv_store.create_conversation(registry)
    conv_store.add_message(registry, last.id, "user", "the latest question")
    conv_store.add_message(registry, last.id, "assistant", "The **latest** answer.")
    registry.close()

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        assert app.conversation is not None and app.conversation.id == last.id
        assert answers(app)[0].text == "The **latest** answer."
        await pilot.press("ctrl+p")
        await pilot.press(*"switch conversation: an older")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.conversation is not None and app.conversation.id == old.id)
        await until(pilot, lambda: [str(u.render()) for u in app.query(UserBlock)] == ["an older question"])
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, UsageScreen))

    run(make_app(settings, continue_last=True), story)


def test_a_long_conversation_opens_with_only_its_recent_messages_mounted(settings: Settings) -> None:
    registry = open_registry(settings.registry_path)
    conversation = conv_store.create_conversation(registry)
    for n in range(300):
        conv_store.add_message(registry, conversation.id, "user" if n % 2 == 0 else "assistant", f"message {n}")
    registry.close()

    async def story(app: MiaApp, pilot: Pilot[None]) -> None:
        blocks = list(app.query(UserBlock)) + answers(app)
        assert len(blocks) == 120 and answers(app)[-1].text == "message 299"
        assert any("180 earlier messages" in str(n.render()) for n in app.query(NoteBlock))

    run(make_app(settings, conversation_id=conversation.id), story)


def test_the_approvals_panel_shows_a_draft_in_full_and_sends_only_after_a_yes(settings: Settings) -> None:
    from fakes.mail_servers import smtp_server

    from mia.agents.outreach.mail import draft_email
    from mia.tui.approvals import ApprovalsScreen

    with smtp_server() as smtp:
        mail_settings = load_settings(env={**os.environ, **smtp.env(), "MIA_HOME": str(settings.home)})
        registry = open_registry(mail_settings.registry_path)
        draft_email(mail_settings, registry, agent_ref=None, to="rossi@trials.example.org",
                    subject="FX-101 results", body="When will the 52-week results be published?",
                    reason="The report depends on them.", requested_by="test", after_untrusted_text=False)
        app = make_app(mail_settings)

        async def story(app: MiaApp, pilot: Pilot[None]) -> None:
            await pilot.press("ctrl+g")
            await until(pilot, lambda: isinstance(app.screen, ApprovalsScreen))
            text = screen_text(app)
            assert "rossi@trials.example.org" in text and "When will the 52-week results be published?" in text
            assert "Why: The report depends on them." in text
            await pilot.press("a")
            await pilot.pause(0.3)
            assert smtp.received == []  # "a" only arms it: nothing is sent before the yes
            await pilot.press("y")
            await until(pilot, lambda: len(smtp.received) == 1)

        run(app, story)
    assert smtp.received[0]["To"] == "rossi@trials.example.org"
