"""How real LLM services differ from the plain happy path, as switches of the fake (FakeServices).

Each behaviour names the source it follows:

- Workers AI models that do not stream on `/ai/run` (the `@cf/openai/gpt-oss-*` family) answer a
  `stream: true` request with a plain JSON envelope whose `result` is empty. Source: cloudflare/ai,
  `packages/workers-ai-provider/src/utils.ts` ("Some models (e.g. GPT-OSS) don't support streaming via the
  /ai/run/ endpoint and return a JSON response with empty result instead of SSE"), which retries unstreamed.
- Workers AI streams a native tool call in pieces: `{id, type, index, function: {name}}`, then
  `{index, function: {arguments: "<fragment>"}}` frames, then a closing `{id: null, type: null,
  function: {name: null}}` frame, and a top-level `{"finish_reason": "tool_calls"}` frame. Source:
  workers-ai-provider `src/streaming.ts` (`emitToolCallDeltas`, "Chunk A … Chunk D") and its test
  `test/stream-text.test.ts` ("should handle streamed tool calls (native format)").
- Workers AI model schemas require every message's `content` to be a string or an array of parts; `null`
  fails validation (400, code 5004). Source: cloudflare/cloudflare-docs `src/content/workers-ai-models/
  qwen3-30b-a3b-fp8.json` (messages.items: `content` oneOf string | array, required) and
  workers-ai-provider `normalizeMessagesForBinding` ("content must not be null").

Stream faults (`FakeServices(stream_fault=KIND)` for every stream, `fake.stream_faults.append(KIND)` for the
next one; `python -m fakes --stream-fault KIND`):

- "interrupt": the role chunk, then `data: [DONE]` with no text and no finish_reason — what llama-cpp-python's
  server sends to a running stream when a second request arrives (`llama_cpp/server/app.py`,
  `get_event_publisher`: `interrupt_requests` and `llama_outer_lock.locked()` → `[DONE]`).
- "close": the role chunk, then the connection closes mid-body — llama-cpp-python when a streamed prompt is
  over `n_ctx` (the chat stream yields its role chunk before the completion raises; API_NOTES 7).
- "keepalive": only SSE comments, one every KEEPALIVE_EVERY s for HANG_SECONDS (sse-starlette pings a quiet
  stream with `: ping` comments), then the connection closes.
- "stall": the first few content frames, then keep-alives as above.
- "no_usage": no usage frame at all (servers that ignore `stream_options.include_usage`, llama-cpp-python).

`LLMReply(finish_reason="length")` is an answer cut off at max_tokens: `finish_reason: "length"` in the OpenAI
shapes, and (legacy Workers AI shape, which has no finish_reason) completion tokens equal to max_tokens.
`FakeServices(context_limit=N)` refuses prompts over ~N tokens (4 characters a token): Workers AI 413 code
5021 (API_NOTES 1.6, third-party logs), OpenAI-compatible 400 `context_length_exceeded` (llama-cpp-python
`llama_cpp/server/errors.py`), and, streamed on an OpenAI-compatible server, 200 and a closed connection.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fakes import shapes

if TYPE_CHECKING:
    from fakes.server import FakeServices, LLMReply

UNSTREAMED_MODELS = frozenset({"@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b"})
NATIVE_TOOL_STREAMS = ("pieces", "whole")
ARGUMENT_FRAGMENT = 7  # characters of arguments per streamed piece
STREAM_FAULTS = ("interrupt", "close", "keepalive", "stall", "no_usage")
KEEPALIVE_EVERY, HANG_SECONDS = 0.1, 20.0
STALL_AFTER = 3  # content frames a stalling stream sends first


def null_content_error(body: dict[str, Any]) -> shapes.Reply | None:
    """The 400 a Workers AI model schema gives a message whose content is null or missing, else None."""
    for index, message in enumerate(body.get("messages") or []):
        if isinstance(message, dict) and not isinstance(message.get("content"), str | list):
            return shapes.cf_error(400, f"AiError: Bad input: Error: oneOf at '/messages/{index}/content' not met, "
                                        "0 matches required", 5004)
    return None


def unstreamed_answer() -> shapes.Reply:
    """What gpt-oss on /ai/run answers to `stream: true`: JSON, not SSE, with an empty result."""
    return shapes.json_reply(200, {"result": {}, "success": True, "errors": [], "messages": []})


def native_tool_frames(reply: LLMReply, form: str) -> list[bytes]:
    """The native stream's tool-call frames: in pieces (as Workers AI sends them) or one whole frame."""
    if not reply.tool_calls:
        return []
    if form == "whole":
        return [shapes.sse({"response": "", "tool_calls": shapes.legacy_result(reply)["tool_calls"]})]
    frames = []
    for index, call in enumerate(reply.tool_calls):
        head = {"id": f"chatcmpl-tool-{index:02d}a1b2c3", "type": "function", "index": index,
                "function": {"name": call["name"]}}
        frames.append(shapes.sse({"tool_calls": [head]}))
        arguments = json.dumps(call.get("arguments", {}))
        frames += [shapes.sse({"tool_calls": [{"index": index, "function": {
            "arguments": arguments[i:i + ARGUMENT_FRAGMENT]}}]}) for i in range(0, len(arguments), ARGUMENT_FRAGMENT)]
        frames.append(shapes.sse({"tool_calls": [{"id": None, "type": None, "function": {"name": None}}]}))
    frames.append(shapes.sse({"finish_reason": "tool_calls"}))
    return frames


def misbehave(fake: FakeServices, reply: shapes.Reply) -> shapes.Reply:
    """The streamed reply with the fault switched on for it (the next queued one, else the standing one)."""
    with fake._lock:
        kind = fake.stream_faults.popleft() if fake.stream_faults else fake.stream_fault
    if not kind or reply.frames is None:
        return reply
    if kind not in STREAM_FAULTS:
        raise ValueError(f"unknown stream fault {kind!r}; choose one of {', '.join(STREAM_FAULTS)}")
    frames = reply.frames
    role = [f for f in frames[:1] if b'"role"' in f]
    if kind == "interrupt":
        return dataclasses.replace(reply, frames=[*role, b"data: [DONE]\n\n"])
    if kind == "close":
        return dataclasses.replace(reply, frames=role, abort=True)
    if kind == "no_usage":
        return dataclasses.replace(reply, frames=[f for f in frames if b'"usage"' not in f])
    content = [f for f in frames if b'"content"' in f or b'"response"' in f][:STALL_AFTER] if kind == "stall" else []
    pings = [b": ping\n\n"] * int(HANG_SECONDS / KEEPALIVE_EVERY)
    first_ping = len(content)
    pauses = {first_ping + i: KEEPALIVE_EVERY for i in range(len(pings))}
    return dataclasses.replace(reply, frames=[*content, *pings], pauses=pauses, abort=True)


def paced(frames: list[bytes], pauses: dict[int, float]) -> Iterator[bytes]:
    """The frames joined into groups, sleeping where `pauses` says (before frames[i])."""
    import time

    group: list[bytes] = []
    for index, frame in enumerate(frames):
        if index in pauses:
            if group:
                yield b"".join(group)
                group = []
            time.sleep(pauses[index])
        group.append(frame)
    if group:
        yield b"".join(group)


def honour_max_tokens(reply: LLMReply, body: dict[str, Any]) -> LLMReply:
    """A reply cut off at max_tokens reports max_tokens completion tokens (legacy shapes have no finish_reason)."""
    if reply.finish_reason != "length" or not isinstance(body.get("max_tokens"), int):
        return reply
    return dataclasses.replace(reply, completion_tokens=body["max_tokens"])


def context_overflow(limit: int, body: dict[str, Any], service: str, stream: bool) -> shapes.Reply | None:
    """The service's refusal of a prompt over `limit` tokens (estimated at 4 characters a token), else None."""
    if not limit:
        return None
    prompt = sum(len(json.dumps(m.get("content") or "")) for m in body.get("messages") or []) // 4
    wanted = prompt + int(body.get("max_tokens") or 0)
    if wanted <= limit:
        return None
    if service == "workers-ai":
        return shapes.cf_error(413, f"AiError: The estimated number of input and maximum output tokens ({wanted}) "
                                    f"exceeded this model context window limit ({limit}).", 5021)
    if stream:  # llama-cpp-python: the role chunk goes out, then the completion raises and the connection drops
        role = shapes.sse({"object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        return shapes.Reply(200, content_type="text/event-stream", frames=[role], abort=True)
    return shapes.json_reply(400, {"error": {
        "message": f"This model's maximum context length is {limit} tokens. However, you requested {wanted} "
                   f"tokens ({prompt} in the messages, {wanted - prompt} in the completion). Please reduce the "
                   "length of the messages or completion.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
