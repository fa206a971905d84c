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
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fakes import shapes

if TYPE_CHECKING:
    from fakes.server import LLMReply

UNSTREAMED_MODELS = frozenset({"@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b"})
NATIVE_TOOL_STREAMS = ("pieces", "whole")
ARGUMENT_FRAGMENT = 7  # characters of arguments per streamed piece


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
