"""Workers AI's own dialects on /ai/run: models that will not stream, tool calls streamed in pieces, string content.

Sources: cloudflare/ai `packages/workers-ai-provider/src/utils.ts` and `src/streaming.ts`; the model schemas in
cloudflare/cloudflare-docs `src/content/workers-ai-models/*.json` (see tests/fakes/llm_dialects.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mia.agents.llm import stream_read as client_module
from mia.agents.llm.client import LLMClient
from mia.tools.http import RateLimiter, RetryPolicy

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
GPT_OSS = "@cf/openai/gpt-oss-120b"
ASK = [{"role": "user", "content": "Summarise."}]


@pytest.fixture(autouse=True)
def _forget_unstreamed_models() -> Iterator[None]:
    client_module.NOT_STREAMING.clear()
    yield
    client_module.NOT_STREAMING.clear()


def sse(*frames: Any) -> bytes:
    return "".join(f"data: {f if isinstance(f, str) else json.dumps(f)}\n\n" for f in frames).encode()


class Service:
    """Answers each request with the next queued (content type, body); keeps every request body."""

    def __init__(self, *answers: tuple[str, bytes]) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        content_type, body = self.answers.pop(0)
        return httpx.Response(200, headers={"content-type": content_type}, content=body)


def make_client(service: Service, model: str = LLAMA) -> LLMClient:
    return LLMClient(http=httpx.Client(transport=httpx.MockTransport(service)), provider="workers-ai",
                     model=model, base_url="https://api.cloudflare.com/client/v4", api_key="t", account_id="a",
                     max_tokens=900, temperature=0.3, usd_per_1k_neurons=0.011, limiter=RateLimiter(0),
                     retry=RetryPolicy(base_delay=0, max_delay=0))


def envelope(result: dict[str, Any]) -> tuple[str, bytes]:
    return "application/json", json.dumps({"result": result, "success": True, "errors": [],
                                           "messages": []}).encode()


GPT_OSS_RESULT = {"id": "c1", "object": "chat.completion", "model": GPT_OSS, "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "TAVR is non-inferior.", "reasoning_content": "hm"},
     "finish_reason": "stop"}], "usage": {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46}}


def test_a_model_that_answers_a_stream_with_an_empty_json_result_is_asked_again_without_streaming() -> None:
    service = Service(envelope({}), envelope(GPT_OSS_RESULT), envelope(GPT_OSS_RESULT))
    llm = make_client(service, GPT_OSS)
    pieces: list[str] = []
    reply = llm.stream(ASK, on_text=pieces.append)
    assert pieces == ["TAVR is non-inferior."] and reply.text == "TAVR is non-inferior."
    assert [body["stream"] for body in service.bodies] == [True, False]
    assert reply.usage.output_tokens == 6 and reply.usage.cost_usd > 0
    # Remembered for the rest of the process: the next streamed turn goes straight to one unstreamed request.
    llm.stream(ASK, on_text=pieces.append)
    assert [body["stream"] for body in service.bodies] == [True, False, False]


def test_a_tool_call_streamed_in_pieces_on_the_native_endpoint_is_one_call() -> None:
    frames = sse(
        {"tool_calls": [{"id": "chatcmpl-tool-9f", "type": "function", "index": 0,
                         "function": {"name": "search_web"}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"que'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ry": "TAVR 2026"}'}}]},
        {"tool_calls": [{"id": None, "type": None, "function": {"name": None}}]},
        {"tool_calls": [{"id": "chatcmpl-tool-a0", "type": "function", "index": 1,
                         "function": {"name": "list_agents", "arguments": "{}"}}]},
        {"finish_reason": "tool_calls"},
        {"response": "", "usage": {"prompt_tokens": 30, "completion_tokens": 12}},
        "[DONE]")
    reply = make_client(Service(("text/event-stream", frames))).stream(ASK, on_text=lambda _: None)
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("chatcmpl-tool-9f", "search_web", {"query": "TAVR 2026"}), ("chatcmpl-tool-a0", "list_agents", {})]
    assert reply.finish_reason == "tool_calls"


def test_whole_tool_calls_in_native_frames_still_arrive_whole() -> None:
    frames = sse({"response": "", "tool_calls": [{"name": "list_agents", "arguments": {}},
                                                 {"name": "read_report", "arguments": {"agent": "dmd"}}]},
                 {"response": "", "usage": {"prompt_tokens": 3, "completion_tokens": 2}}, "[DONE]")
    reply = make_client(Service(("text/event-stream", frames))).stream(ASK, on_text=lambda _: None)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("list_agents", {}), ("read_report", {"agent": "dmd"})]


def test_messages_with_null_content_are_sent_with_an_empty_string() -> None:
    service = Service(envelope({"response": "ok", "usage": {}}))
    call = {"id": "c1", "type": "function", "function": {"name": "list_agents", "arguments": "{}"}}
    make_client(service).chat([*ASK, {"role": "assistant", "content": None, "tool_calls": [call]},
                               {"role": "tool", "content": "[]", "tool_call_id": "c1"}])
    sent = service.bodies[0]["messages"]
    assert sent[1]["content"] == "" and sent[1]["tool_calls"] == [call]
