"""Chat requests fit the model's context: tool results are cut, then the oldest turns are left out."""

from __future__ import annotations

import os
from typing import Any

import httpx
from fakes.server import FakeServices, LLMReply, ScriptedLLM
from pydantic import BaseModel, Field

from mia.agents.chat.background import Background
from mia.agents.chat.fitting import fit_messages, result_limit
from mia.agents.chat.interaction import InteractionAgent
from mia.agents.chat.tool_registry import Tool
from mia.agents.chat.tools import default_tools
from mia.agents.llm.client import LLMClient, estimate_tokens
from mia.settings import load_settings
from mia.store import conversations as conv_store
from mia.store.db import open_registry


def test_a_long_tool_result_is_cut_to_a_quarter_of_the_context_and_keeps_its_closing_tag() -> None:
    result = "<tool_result name=\"read_file\">" + "x" * 16_000 + "</tool_result>"
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "read it"},
                {"role": "tool", "content": result}]
    fitted = fit_messages(messages, context_tokens=2048, completion_tokens=512)
    content = fitted[-1]["content"]
    assert len(content) <= result_limit(2048) == 1536
    assert content.endswith("</tool_result>") and "cut to fit" in content
    assert messages[-1]["content"] == result  # the stored history is untouched


def test_the_oldest_turns_are_left_out_until_the_prompt_fits() -> None:
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "y" * 900}
               for i in range(20)]
    messages = [{"role": "system", "content": "system prompt"}, *history, {"role": "user", "content": "now?"}]
    fitted = fit_messages(messages, context_tokens=2048, completion_tokens=512)
    assert fitted[0]["content"] == "system prompt" and fitted[-1]["content"] == "now?"
    assert estimate_tokens(fitted) <= 2048 * 0.95 - 512
    assert fitted[1:-1] == history[-len(fitted) + 2:]  # the newest turns stay, in order


def test_results_whose_call_was_left_out_go_with_it() -> None:
    call = {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]}
    result = {"role": "tool", "content": "r" * 3000}
    messages = [{"role": "system", "content": "s"}, call, result, {"role": "user", "content": "q" * 1800},
                {"role": "user", "content": "and?"}]
    fitted = fit_messages(messages, context_tokens=1024, completion_tokens=256)
    assert [m["role"] for m in fitted] == ["system", "user", "user"]


class _Args(BaseModel):
    what: str = Field(description="What to fetch.")


def test_a_small_context_gets_a_cut_tool_result_from_the_interaction_agent(fake: FakeServices,
                                                                          chat: ScriptedLLM) -> None:
    """Tool results were cut at 16,000 characters whatever the model: more than a 2,048-token context holds."""
    settings = load_settings(env={**os.environ, **fake.env(), "MIA_LLM_CONTEXT_TOKENS": "2048"})
    registry = open_registry(settings.registry_path)
    tools = default_tools()
    tools.register(Tool("fetch", "Fetch a long page.", _Args, lambda ctx, args: "z" * 15_000))
    chat.push(LLMReply(tool_calls=[{"name": "fetch", "arguments": {"what": "page"}}]), "Done.")
    with httpx.Client(timeout=30) as http:
        agent = InteractionAgent(settings=settings, registry=registry, llm=LLMClient.from_settings(settings, http),
                                 http=http, conversation_id=conv_store.create_conversation(registry).id,
                                 background=Background(settings), tools=tools)
        assert agent.run_turn("fetch the page").answer == "Done."
    body: dict[str, Any] = chat.calls[-1][0]
    sent = [m["content"] for m in body["messages"] if m["role"] == "tool"][-1]
    assert len(sent) <= 1536 and "cut to fit" in sent
    assert estimate_tokens(body["messages"]) <= 2048 and body["max_tokens"] <= 1024
    registry.close()
