"""The installed `mia` against fakes that stream the way real models do, including the ways they go wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.chat_llm import ChatLLM
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices, LLMReply, ScriptedLLM

from .conftest import Mia

QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


@pytest.fixture
def chat() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def services(chat: ScriptedLLM, research_llm: ResearchLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=ChatLLM(chat, research_llm), stream_pause=0) as fake:
        yield fake


def call(name: str, **arguments: Any) -> LLMReply:
    return LLMReply(tool_calls=[{"name": name, "arguments": arguments}])


def test_ask_with_gpt_oss_which_cannot_stream_on_ai_run_still_answers(mia: Mia, chat: ScriptedLLM,
                                                                      services: FakeServices) -> None:
    chat.push(call("list_agents"), "You have no research agents yet.")
    result = mia.run("ask", "--json", "Which agents do I have?",
                     extra_env={"MIA_LLM_MODEL": "@cf/openai/gpt-oss-120b"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["answer"] == "You have no research agents yet." and out["usage"]["output_tokens"] == 100
    # The first streamed request got JSON; from then on the model was asked without streaming.
    streamed = [bool(r.json.get("stream")) for r in services.requests if r.service == "workers-ai"]
    assert streamed == [True, False, False]


@pytest.mark.parametrize("form", ["pieces", "whole"])
def test_ask_runs_a_tool_call_that_a_legacy_model_streams_in_pieces_or_whole(mia: Mia, chat: ScriptedLLM,
                                                                             services: FakeServices,
                                                                             form: str) -> None:
    services.native_tool_stream = form
    chat.push(call("search_web", query="eteplirsen confirmatory trial"), "Nothing new this week.")
    result = mia.run("ask", "--json", "Anything new on eteplirsen?",
                     extra_env={"MIA_LLM_MODEL": LLAMA, "MIA_LLM_STREAM_TOOLS": "always"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["tool_calls"] == [{"name": "search_web", "arguments": {"query": "eteplirsen confirmatory trial"},
                                  "ok": True}]
    assert out["answer"] == "Nothing new this week."


def test_ask_after_a_tool_call_sends_the_call_with_string_content(mia: Mia, chat: ScriptedLLM) -> None:
    chat.push(call("list_agents"), "None yet.")
    result = mia.run("ask", "--json", "agents?", extra_env={"MIA_LLM_MODEL": QWEN})
    assert result.returncode == 0, result.stderr  # the fake refuses content: null with 400 5004, as Workers AI does
    sent = chat.calls[-1][0]["messages"]
    assistant = next(m for m in sent if m["role"] == "assistant" and m.get("tool_calls"))
    assert assistant["content"] == ""
