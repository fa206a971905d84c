"""The fake LLM services speak the dialects and misbehave the ways fakes/llm_dialects.py documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fakes.server import FakeServices, LLMReply, ScriptedLLM

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
ASK = [{"role": "user", "content": "Summarise gene therapy for DMD"}]
HTTP = httpx.Client(timeout=10, trust_env=False)


@pytest.fixture
def llm() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def fake(llm: ScriptedLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=llm, stream_pause=0) as services:
        yield services


def native(fake: FakeServices, model: str, body: dict[str, Any]) -> httpx.Response:
    return HTTP.post(f"{fake.url}/client/v4/accounts/{fake.account_id}/ai/run/{model}", json=body,
                     headers={"Authorization": f"Bearer {fake.cf_token}"})


def openai(fake: FakeServices, body: dict[str, Any]) -> httpx.Response:
    return HTTP.post(f"{fake.url}/openai/v1/chat/completions", json={"model": "qwen2.5-0.5b", **body})


def frames(response: httpx.Response) -> list[Any]:
    return [line[6:] if line[6:] == "[DONE]" else json.loads(line[6:])
            for line in response.text.split("\n") if line.startswith("data: ")]


def test_gpt_oss_answers_a_streamed_request_with_an_empty_json_result(fake: FakeServices, llm: ScriptedLLM) -> None:
    response = native(fake, "@cf/openai/gpt-oss-120b", {"messages": ASK, "stream": True})
    assert response.headers["content-type"] == "application/json"
    assert response.json()["result"] == {} and llm.calls == []


def test_a_legacy_model_streams_a_tool_call_in_indexed_pieces(fake: FakeServices, llm: ScriptedLLM) -> None:
    llm.push(LLMReply(tool_calls=[{"name": "search_web", "arguments": {"query": "micro-dystrophin"}}]))
    got = frames(native(fake, LLAMA, {"messages": ASK, "stream": True}))
    calls = [f["tool_calls"][0] for f in got if isinstance(f, dict) and f.get("tool_calls")]
    assert calls[0]["function"] == {"name": "search_web"} and calls[0]["index"] == 0
    fragments = "".join(c["function"]["arguments"] for c in calls[1:-1])
    assert json.loads(fragments) == {"query": "micro-dystrophin"}
    assert calls[-1] == {"id": None, "type": None, "function": {"name": None}}
    assert {"finish_reason": "tool_calls"} in got and got[-1] == "[DONE]"


def test_a_message_with_null_content_is_refused_like_the_model_schema_does(fake: FakeServices) -> None:
    response = native(fake, QWEN, {"messages": [*ASK, {"role": "assistant", "content": None}]})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == 5004


def test_an_interrupted_stream_sends_done_with_no_text_and_no_finish_reason(fake: FakeServices,
                                                                            llm: ScriptedLLM) -> None:
    fake.stream_faults.append("interrupt")
    llm.push("Never sent.", "Sent.")
    got = frames(openai(fake, {"messages": ASK, "stream": True}))
    assert got[-1] == "[DONE]" and all(c["finish_reason"] is None for f in got[:-1] for c in f["choices"])
    assert not any(c["delta"].get("content") for f in got[:-1] for c in f["choices"])
    assert "Sent." in openai(fake, {"messages": ASK, "stream": True}).text  # one stream only


def test_a_closed_stream_drops_the_connection_mid_body(fake: FakeServices, llm: ScriptedLLM) -> None:
    fake.stream_fault = "close"
    llm.push("Never sent.")
    with pytest.raises(httpx.RemoteProtocolError):
        openai(fake, {"messages": ASK, "stream": True})


def test_a_stream_without_usage_and_an_answer_cut_at_max_tokens(fake: FakeServices, llm: ScriptedLLM) -> None:
    fake.stream_fault, fake.llm_shape = "no_usage", "auto"  # qwen3 streams OpenAI chunks on /ai/run
    llm.push(LLMReply(text="Cut", finish_reason="length"), LLMReply(text="Cut", finish_reason="length"))
    got = frames(native(fake, QWEN, {"messages": ASK, "stream": True, "max_tokens": 64}))
    assert not any("usage" in f for f in got if isinstance(f, dict))
    assert any(c.get("finish_reason") == "length" for f in got if isinstance(f, dict) for c in f.get("choices", []))
    fake.stream_fault = ""
    legacy = native(fake, LLAMA, {"messages": ASK, "max_tokens": 64}).json()["result"]
    assert legacy["usage"]["completion_tokens"] == 64  # the legacy shape says "cut" only this way


def test_keepalives_only_send_comments(fake: FakeServices, llm: ScriptedLLM) -> None:
    fake.stream_fault = "keepalive"
    llm.push("Never sent.")
    with HTTP.stream("POST", f"{fake.url}/openai/v1/chat/completions",
                     json={"model": "m", "messages": ASK, "stream": True}) as response:
        first = next(response.iter_lines())
    assert first.startswith(": ping")


@pytest.mark.parametrize(("service", "status", "code"), [("workers-ai", 413, 5021),
                                                         ("openai", 400, "context_length_exceeded")])
def test_a_prompt_over_the_context_limit_is_refused_as_each_service_does(fake: FakeServices, service: str,
                                                                         status: int, code: Any) -> None:
    fake.context_limit = 50
    long = [{"role": "user", "content": "dystrophin " * 100}]
    response = native(fake, LLAMA, {"messages": long}) if service == "workers-ai" else openai(fake, {"messages": long})
    body = response.json()
    assert response.status_code == status
    assert (body["errors"][0]["code"] if service == "workers-ai" else body["error"]["code"]) == code
