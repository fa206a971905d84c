"""The Interaction Agent streams its answers: rounds with tools are streamed where the service allows it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes.chat_llm import ChatLLM
from fakes.server import FakeServices, LLMReply, ScriptedLLM

from mia.agents.chat.background import Background
from mia.agents.chat.interaction import InteractionAgent, TurnCancelled
from mia.agents.llm.client import LLMClient
from mia.agents.llm.tool_text import ToolTextGate
from mia.settings import load_settings
from mia.store import conversations as conv_store
from mia.store.db import Registry, open_registry

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
ANSWER = ("## Eteplirsen\n\nAccelerated approval in 2016 rested on dystrophin production [1], and the "
          "confirmatory trial is still running [2].\n\n- exon 51 skipping\n- weekly infusion\n")


@pytest.fixture
def fake(chat: ScriptedLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=ChatLLM(chat), stream_pause=0) as services:
        yield services


@pytest.fixture
def registry(fake: FakeServices) -> Iterator[Registry]:
    reg = open_registry(load_settings(env={**os.environ, **fake.env()}).registry_path)
    yield reg
    reg.close()


@pytest.fixture
def make_agent(fake: FakeServices, registry: Registry) -> Iterator[Any]:
    http = httpx.Client(timeout=30)

    def make(model: str = QWEN, stream_tools: str = "auto", provider: str = "workers-ai") -> InteractionAgent:
        env = {**os.environ, **fake.env(), "MIA_LLM_MODEL": model, "MIA_LLM_STREAM_TOOLS": stream_tools,
               "MIA_LLM_PROVIDER": provider}
        settings = load_settings(env=env)
        conversation = conv_store.create_conversation(registry)
        return InteractionAgent(settings=settings, registry=registry, llm=LLMClient.from_settings(settings, http),
                                http=http, conversation_id=conversation.id, background=Background(settings))

    yield make
    http.close()


def call(name: str, **arguments: Any) -> LLMReply:
    return LLMReply(tool_calls=[{"name": name, "arguments": arguments}])


def streamed(chat: ScriptedLLM) -> list[bool]:
    return [bool(body.get("stream")) for body, _ in chat.calls]


@pytest.mark.parametrize("provider", ["workers-ai", "openai"])
def test_an_openai_shape_model_streams_every_round_and_its_streamed_tool_calls_run(
        make_agent: Any, chat: ScriptedLLM, provider: str) -> None:
    chat.push(call("read_file", path="notes/dmd.md"), ANSWER)
    pieces: list[str] = []
    result = make_agent(QWEN, provider=provider).run_turn("What do my notes say?", on_text=pieces.append)
    assert streamed(chat) == [True, True]
    assert all(body.get("tools") for body, _ in chat.calls)  # tools stay on offer in streamed rounds
    # The call's arguments arrived in 8-character fragments and were put back together.
    assert [(o.name, o.arguments) for o in result.tool_calls] == [("read_file", {"path": "notes/dmd.md"})]
    assert len(pieces) > 10 and "".join(pieces).strip() == ANSWER.strip() == result.answer


def test_a_legacy_model_answers_the_person_unstreamed_and_streams_after_tool_results(
        make_agent: Any, chat: ScriptedLLM) -> None:
    chat.push(call("list_agents"), ANSWER)
    pieces: list[str] = []
    result = make_agent(LLAMA).run_turn("agents?", on_text=pieces.append)
    assert streamed(chat) == [False, True]
    assert len(pieces) > 10 and "".join(pieces).strip() == result.answer == ANSWER.strip()


def test_a_tool_call_in_a_legacy_stream_frame_is_run(make_agent: Any, chat: ScriptedLLM) -> None:
    chat.push(call("list_agents"), call("list_files"), "Done.")
    result = make_agent(LLAMA).run_turn("agents and files?")
    assert streamed(chat) == [False, True, True]
    assert [o.name for o in result.tool_calls] == ["list_agents", "list_files"] and result.answer == "Done."


@pytest.mark.parametrize(("mode", "expected"), [("always", [True, True]), ("never", [False, False])])
def test_llm_stream_tools_overrides_the_choice(make_agent: Any, chat: ScriptedLLM, mode: str,
                                               expected: list[bool]) -> None:
    chat.push(call("list_agents"), "None yet.")
    assert make_agent(LLAMA, stream_tools=mode).run_turn("agents?").answer == "None yet."
    assert streamed(chat) == expected


@pytest.mark.parametrize(("text", "preamble"), [
    ('{"name": "list_agents", "arguments": {}}', ""),
    ('Let me check.\n```json\n{"name": "list_agents", "arguments": {}}\n```', "Let me check.\n"),
    ('Let me check. <tool_call>{"name": "list_agents", "parameters": {}}</tool_call>', "Let me check. "),
])
def test_a_tool_call_written_as_text_in_a_stream_is_run_and_never_shown(make_agent: Any, chat: ScriptedLLM,
                                                                        text: str, preamble: str) -> None:
    chat.push(text, "None yet.")
    pieces: list[str] = []
    result = make_agent(QWEN).run_turn("agents?", on_text=pieces.append)
    assert [o.name for o in result.tool_calls] == ["list_agents"]
    assert "".join(pieces) == preamble + "None yet."


def test_the_gate_releases_an_ordinary_code_block_once_it_closes() -> None:
    shown: list[str] = []
    gate = ToolTextGate(shown.append)
    text = "Run this:\n```python\nprint('dystrophin')\n```\nThen compare [1].\n"
    block_end = text.index("```\nThen") + 3
    for i, char in enumerate(text):
        gate.feed(char)
        visible = "".join(shown)
        assert ("print" in visible) == (i + 1 >= block_end)  # held while open, out as soon as it closes
    assert gate.finish() == [] and "".join(shown) == text


def test_the_gate_holds_a_bare_json_call_even_after_leading_whitespace() -> None:
    shown: list[str] = []
    gate = ToolTextGate(shown.append)
    for piece in ("\n ", " {\"name\": ", "\"list_agents\", \"arguments\": {}}"):
        gate.feed(piece)
    assert [c.name for c in gate.finish()] == ["list_agents"] and shown == []


def test_the_gate_holds_a_partial_tag_until_it_is_known() -> None:
    shown: list[str] = []
    gate = ToolTextGate(shown.append)
    gate.feed("Checking <tool_")
    assert "".join(shown) == "Checking "
    gate.feed("call>{\"name\": \"list_agents\", \"arguments\": {}}</tool_call>")
    assert [c.name for c in gate.finish()] == ["list_agents"] and "".join(shown) == "Checking "


def test_cancelling_mid_stream_stops_reading_and_counts_what_was_received(make_agent: Any, chat: ScriptedLLM,
                                                                          registry: Registry) -> None:
    chat.push(ANSWER * 20)
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 5:
            cancel.set()

    agent = make_agent(QWEN)
    with pytest.raises(TurnCancelled):
        agent.run_turn("tell me everything", on_text=on_text, cancel=cancel)
    assert len(pieces) == 5
    usage = registry.query("SELECT * FROM usage WHERE conversation_id = ?", (agent.conversation_id,))
    assert len(usage) == 1 and usage[0]["output_tokens"] >= 1 and usage[0]["input_tokens"] > 100
    assert [m.role for m in conv_store.messages(registry, agent.conversation_id)] == ["user"]


def test_a_service_that_refuses_streamed_tools_is_asked_without_streaming(make_agent: Any, chat: ScriptedLLM,
                                                                          fake: FakeServices) -> None:
    chat.push("First answer.", "Second answer.")
    agent = make_agent(QWEN)  # the model's profile is read here, so the fault below meets the chat request
    fake.fail_next("workers-ai", 400)
    assert agent.run_turn("hello").answer == "First answer."
    assert agent.run_turn("again").answer == "Second answer."
    assert streamed(chat) == [False, False]  # the refusal is remembered for the session
    assert fake.count("workers-ai", status=400) == 1


@pytest.mark.parametrize("model", [QWEN, LLAMA])  # streamed, and (legacy, first round) unstreamed
@pytest.mark.parametrize("text", [
    '{"name": "list_agents", "arguments": {}}\n{"name": "list_files", "arguments": {}}',
    '{"name": "list_agents", "arguments": {}}, {"name": "list_files", "arguments": {}}',
    '{&quot;name&quot;: &quot;list_agents&quot;, &quot;arguments&quot;: {}}\n'
    '{&quot;name&quot;: &quot;list_files&quot;, &quot;parameters&quot;: {}}',
    '<tool_call>\n{"name": "list_agents", "arguments": {}}\n{"name": "list_files", "arguments": {}}\n</tool_call>',
])
def test_tool_calls_small_models_write_as_text_run_and_are_never_shown(make_agent: Any, chat: ScriptedLLM,
                                                                      model: str, text: str) -> None:
    chat.push(text, "Nothing yet.")
    pieces: list[str] = []
    result = make_agent(model).run_turn("agents and files?", on_text=pieces.append)
    assert [o.name for o in result.tool_calls] == ["list_agents", "list_files"]
    assert "".join(pieces) == "Nothing yet." == result.answer


def test_an_empty_answer_is_an_error_that_counts_its_cost_not_a_placeholder(make_agent: Any, chat: ScriptedLLM,
                                                                            registry: Registry) -> None:
    from mia.errors import EmptyAnswer

    chat.push(LLMReply(text="<think>weighing it all", finish_reason="length"),
              LLMReply(text="<think>still weighing", finish_reason="length"))
    agent = make_agent(QWEN)
    with pytest.raises(EmptyAnswer, match="whole budget"):
        agent.run_turn("agents?")
    assert "/no_think" in chat.calls[1][0]["messages"][-1]["content"]
    spent = conv_store.conversation_spend(registry, agent.conversation_id)
    assert spent["output_tokens"] == 2 * 2048  # both attempts, at max_tokens each (the fake's estimate-free usage)


def test_a_reply_that_repeats_the_system_prompt_is_a_failed_turn(make_agent: Any, chat: ScriptedLLM) -> None:
    from mia.agents.chat.interaction import system_prompt
    from mia.errors import UnusableAnswer

    agent = make_agent(QWEN)
    chat.push(LLMReply(text=system_prompt(agent.registry) * 3, finish_reason="length"))
    with pytest.raises(UnusableAnswer, match="repeated its instructions instead of answering until it hit max_tokens"):
        agent.run_turn("agents?")


def test_an_answer_still_cut_off_after_the_continuations_says_so(make_agent: Any, chat: ScriptedLLM) -> None:
    chat.push(*(LLMReply(text=f"Part {n}", finish_reason="length") for n in range(3)))
    pieces: list[str] = []
    result = make_agent(QWEN).run_turn("everything about DMD?", on_text=pieces.append)
    assert result.answer.startswith("Part 0 Part 1 Part 2\n\n_The answer was cut off at the length limit")
    assert "llm.max_tokens" in result.answer and "".join(pieces) == result.answer
