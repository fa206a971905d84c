"""Streamed replies arrive piece by piece, whole, without <think> blocks, with usage counted once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mia.agents.llm.client import LLMClient
from mia.agents.llm.stream import ThinkFilter, iter_sse_data, strip_think
from mia.errors import ServiceError
from mia.tools.http import RateLimiter, RetryPolicy

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
ASK = [{"role": "user", "content": "Summarise."}]


class Chunks(httpx.SyncByteStream):
    """A response body delivered in the given network chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def sse(*frames: Any) -> bytes:
    lines = [f"data: {frame if isinstance(frame, str) else json.dumps(frame)}\n\n" for frame in frames]
    return "".join(lines).encode()


class StreamService:
    """Answers one request with an event stream cut into the given chunks; keeps the request."""

    def __init__(self, chunks: list[bytes], content_type: str = "text/event-stream") -> None:
        self.chunks, self.content_type = chunks, content_type
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, headers={"content-type": self.content_type}, stream=Chunks(self.chunks))


def make_client(service: StreamService, model: str = LLAMA) -> LLMClient:
    return LLMClient(http=httpx.Client(transport=httpx.MockTransport(service)), provider="workers-ai",
                     model=model, base_url="https://api.cloudflare.com/client/v4", api_key="t",
                     account_id="a",
                     max_tokens=900, temperature=0.3, usd_per_1k_neurons=0.011, limiter=RateLimiter(0),
                     retry=RetryPolicy(base_delay=0, max_delay=0))


LEGACY_STREAM = sse(
    {"response": "Aortic ", "p": "abcdefghij"},
    {"response": "stenosis — ", "p": "ab"},
    {"response": "TAVR wins.", "p": "abcdefghijklmnop"},
    {"response": "", "usage": {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127}},
    "[DONE]",
)


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
def test_a_legacy_stream_split_anywhere_arrives_whole(size: int) -> None:
    # Sizes 1 and 3 cut "data:" itself, the JSON, and the UTF-8 bytes of the em dash.
    service = StreamService(split_every(LEGACY_STREAM, size))
    pieces: list[str] = []
    reply = make_client(service).stream(ASK, on_text=pieces.append)
    assert "".join(pieces) == "Aortic stenosis — TAVR wins."
    assert reply.text == "Aortic stenosis — TAVR wins."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (120, 7)
    assert reply.usage.cost_usd > 0


def test_a_stream_request_asks_for_streaming_with_max_tokens() -> None:
    service = StreamService([LEGACY_STREAM])
    make_client(service).stream(ASK, on_text=lambda _: None, max_tokens=333)
    body = json.loads(service.requests[0].content)
    assert body["stream"] is True and body["max_tokens"] == 333 and body["temperature"] == 0.3
    assert "response_format" not in body and "tools" not in body


def test_pieces_are_shown_as_they_arrive() -> None:
    service = StreamService(split_every(LEGACY_STREAM, 40))
    pieces: list[str] = []
    make_client(service).stream(ASK, on_text=pieces.append)
    assert len(pieces) >= 3


def test_an_openai_shape_stream_counts_the_final_cumulative_usage_once() -> None:
    def chunk(content: str, completion: int, **delta: str) -> dict[str, Any]:
        return {"id": "c1", "object": "chat.completion.chunk", "model": QWEN,
                "choices": [{"index": 0, "delta": {"content": content, **delta}, "finish_reason": None}],
                "usage": {"prompt_tokens": 50, "completion_tokens": completion,
                          "total_tokens": 50 + completion}}

    body = sse(chunk("", 1, reasoning_content="let me think"), chunk("Two ", 2), chunk("trials.", 3),
               {"id": "c1", "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
               {"response": "", "usage": {"prompt_tokens": 50, "completion_tokens": 3, "total_tokens": 53,
                                          "neurons": 2.5}},
               "[DONE]")
    pieces: list[str] = []
    reply = make_client(StreamService(split_every(body, 11)), model=QWEN).stream(ASK, on_text=pieces.append)
    assert "".join(pieces) == "Two trials." and "think" not in reply.text
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (50, 3)
    assert reply.usage.neurons == 2.5
    assert reply.usage.cost_usd == pytest.approx(2.5 / 1000 * 0.011)
    assert reply.finish_reason == "stop"


def test_think_blocks_split_across_chunks_never_reach_the_screen() -> None:
    frames = [{"choices": [{"delta": {"content": text}}]} for text in
              ["<thi", "nk>the user wants", " secrets</th", "ink>\n\nVisible", " answer <", "b>bold</b>"]]
    body = sse(*frames, {"response": "", "usage": {"prompt_tokens": 5, "completion_tokens": 9}}, "[DONE]")
    pieces: list[str] = []
    reply = make_client(StreamService(split_every(body, 5)), model=QWEN).stream(ASK, on_text=pieces.append)
    shown = "".join(pieces)
    assert shown == "Visible answer <b>bold</b>"
    assert "secret" not in shown and "think" not in shown
    assert reply.text == shown


def test_a_server_that_ignores_stream_still_shows_the_reply() -> None:
    envelope = json.dumps({"result": {"response": "<think>x</think>Plain reply",
                                      "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
                           "success": True, "errors": [], "messages": []}).encode()
    pieces: list[str] = []
    reply = make_client(StreamService([envelope], "application/json")).stream(ASK, on_text=pieces.append)
    assert pieces == ["Plain reply"] and reply.usage.output_tokens == 2


def test_an_error_inside_the_stream_is_a_service_error() -> None:
    body = sse({"response": "Part"}, {"success": False, "errors": [{"code": 3050, "message": "Max retries"}]})
    with pytest.raises(ServiceError, match="3050.*Max retries"):
        make_client(StreamService([body])).stream(ASK, on_text=lambda _: None)


def test_frames_without_blank_lines_between_them_are_still_read() -> None:
    body = b'data: {"response":"a"}\ndata: {"response":"b"}\n\ndata: [DONE]\n\n'
    pieces: list[str] = []
    make_client(StreamService([body])).stream(ASK, on_text=pieces.append)
    assert "".join(pieces) == "ab"


def test_sse_data_is_rejoined_by_line_and_comments_are_skipped() -> None:
    raw = b": keep-alive\r\n\r\nda" + b'ta: {"x":' + b' 1}\r\n\r\nevent: ping\ndata: [DONE]\n\n'
    assert list(iter_sse_data(split_every(raw, 2))) == ['{"x": 1}', "[DONE]"]


@pytest.mark.parametrize("text", ["Hi <think>plan</think> there",
                                  "<think>a</think>\n\nAnswer <think>b</think>!",
                                  "no tags <thinking aloud> here", "tail <think>never closed"])
def test_the_think_filter_gives_the_same_text_for_every_split(text: str) -> None:
    expected = strip_think(text)
    for cut in range(len(text) + 1):
        for second in range(cut, len(text) + 1):
            think = ThinkFilter()
            shown = think.feed(text[:cut]) + think.feed(text[cut:second]) + think.feed(text[second:])
            shown += think.finish()
            assert shown.strip() == expected, (cut, second)


def test_strip_think_handles_a_lone_closing_tag_from_the_chat_template() -> None:
    assert strip_think("reasoning the template opened\n</think>\n\nFinal.") == "Final."
    assert strip_think("<think>a</think>Keep <b>this</b>") == "Keep <b>this</b>"
