"""One streamed LLM request read to its end: bounds on stalls, the ways a stream ends badly, usage estimates.

`stream_reply(client, ...)` is the body of `LLMClient.stream`'s request; `read_stream` feeds bytes into a
StreamState within the idle and overall bounds; `ended_early` names what a stream that did not finish means.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from mia.agents.llm.answer import output_tokens_estimate
from mia.agents.llm.shapes import LLMResponse, estimate_tokens, normalise_result, parse_tool_calls
from mia.agents.llm.stream import StreamState, iter_sse_data, parse_frames
from mia.errors import ContextLengthExceeded, IncompleteStream, ServiceError
from mia.tools.http import decode_json

if TYPE_CHECKING:
    from mia.agents.llm.client import LLMClient
    from mia.models import Usage

STREAM_DEADLINE_FACTOR = 5  # a streamed answer may take this many times llm.timeout in all
# (base URL, model) pairs that answered a streamed request with plain JSON: asked unstreamed from then on.
NOT_STREAMING: set[tuple[str, str]] = set()


def stream_reply(client: LLMClient, messages: list[dict[str, Any]], on_text: Callable[[str], None], *,
                 tools: list[dict[str, Any]] | None, max_tokens: int | None) -> LLMResponse:
    """One streamed request: the reply, with reported or estimated usage.

    A JSON answer to the streamed request (Workers AI's gpt-oss on /ai/run sends an empty `result`; source:
    cloudflare/ai workers-ai-provider `src/utils.ts`) is asked again without streaming, and the model is
    remembered in NOT_STREAMING. Raises ServiceError (code "timeout") on a stall, IncompleteStream or
    ContextLengthExceeded when the stream ends without finishing.
    """
    if (client.base_url, client.model) in NOT_STREAMING:
        return shown(client._complete(messages, tools=tools, max_tokens=max_tokens), on_text)
    body = client._body(messages, max_tokens=max_tokens, temperature=None, stream=True, tools=tools)
    started = time.monotonic()
    response = client._post(body, stream=True)
    state = StreamState(client.service)
    broke = None
    try:
        if "event-stream" not in response.headers.get("content-type", "event-stream"):
            response.read()
            payload = decode_json(response, client.service)
            if _has_answer(client, payload):  # a server that ignored stream: true but answered in full
                return shown(client._reply(payload, started), on_text)
            NOT_STREAMING.add((client.base_url, client.model))
            response.close()
            return shown(client._complete(messages, tools=tools, max_tokens=max_tokens), on_text)
        bound = client.timeout
        read_stream(response.iter_bytes(), state, on_text, idle=bound,
                    deadline=bound * STREAM_DEADLINE_FACTOR if bound else None)
    except httpx.TransportError as exc:
        broke = f"{type(exc).__name__}: {exc}"
    except ServiceError as exc:  # an error frame inside the stream: classified like any other answer
        raise exc if exc.code == "timeout" else client.classify(exc) from None
    finally:
        response.close()
    problem = ended_early(state, local=client.provider == "openai", broke=broke)
    usage = _usage(client, state, messages, started)
    if problem is not None:
        if isinstance(problem, IncompleteStream):
            problem.usage = usage
        raise problem
    return LLMResponse(text=state.finish(on_text), tool_calls=parse_tool_calls(state.tool_calls()), usage=usage,
                       finish_reason=state.finish_reason)


def shown(reply: LLMResponse, on_text: Callable[[str], None]) -> LLMResponse:
    """Pass an unstreamed reply's text on in one piece."""
    if reply.text:
        on_text(reply.text)
    return reply


def _has_answer(client: LLMClient, payload: Any) -> bool:
    """Whether a JSON body holds a usable reply (not gpt-oss's empty `result` to a streamed request)."""
    normal = normalise_result(client._unwrap(payload))
    return normal is not None and bool(normal.text or normal.tool_calls)


def _usage(client: LLMClient, state: StreamState, messages: list[dict[str, Any]], started: float) -> Usage:
    """The stream's reported usage, or an estimate (marked `estimated`) when it carried none."""
    latency = int((time.monotonic() - started) * 1000)
    if state.usage:
        return client.pricing.usage(state.usage, latency)
    written = output_tokens_estimate(state.raw_text, *(str(c["arguments"]) for c in state.calls.values()),
                                     " " * state.reasoning_chars)
    guess = {"prompt_tokens": estimate_tokens(messages), "completion_tokens": written}
    return client.pricing.usage(guess, latency).model_copy(update={"estimated": True})


def read_stream(chunks: Iterable[bytes], state: StreamState, on_text: Callable[[str], None], *,
                idle: float | None = None, deadline: float | None = None) -> None:
    """Feed an SSE byte stream into `state` until `[DONE]` or its end.

    `idle` bounds the seconds without content (keep-alive comments and empty frames do not count) and
    `deadline` the seconds in all; either one passing raises a retryable ServiceError with code "timeout".
    """
    started = state.progressed_at = time.monotonic()
    for data in iter_sse_data(_watched(chunks, state, started, idle, deadline)):
        if data.strip() == "[DONE]":
            state.done = True
            return
        for frame in parse_frames(data):
            state.handle(frame, on_text)


def _watched(chunks: Iterable[bytes], state: StreamState, started: float, idle: float | None,
             deadline: float | None) -> Iterator[bytes]:
    """The chunks, checked against the bounds each time bytes arrive (keep-alives arrive, content may not)."""
    for chunk in chunks:
        now = time.monotonic()
        if deadline is not None and now - started > deadline:
            raise _stalled(state, f"was still going after {deadline:g} s, the overall bound for one answer")
        if idle is not None and now - state.progressed_at > idle:
            raise _stalled(state, f"sent no content for {idle:g} s (only keep-alives)")
        yield chunk


def _stalled(state: StreamState, what: str) -> ServiceError:
    return ServiceError(f"The streamed answer from {_who(state)} {what}.",
                        "Try again; if the model is this slow, raise `llm.timeout` (the bounds follow it) with "
                        "`mia config set llm.timeout 600`.", service=state.service, code="timeout", retryable=True)


def ended_early(state: StreamState, *, local: bool, broke: str | None = None) -> ServiceError | None:
    """The error for a stream that ended without finishing, naming the likely cause; None if it finished.

    IncompleteStream, or ContextLengthExceeded when the connection closed before the model wrote anything.

    A stream finishes with a finish_reason, or with `[DONE]` after some output (legacy Workers AI frames carry
    no finish_reason). `[DONE]` with nothing written and no finish_reason is what llama-cpp-python sends to a
    running stream when a second request arrives; a connection that closes before `[DONE]` is what it does
    when the prompt is over its context (API_NOTES 7, llama_cpp/server/app.py). `local` marks an
    OpenAI-compatible server (on Workers AI an empty `[DONE]` stream is an empty answer, handled elsewhere).
    """
    if state.finish_reason:
        return None
    if state.done:
        if state.wrote_anything or not local:
            return None
        return IncompleteStream(
            f"The streamed answer from {_who(state)} ended ([DONE]) before the model wrote anything and without "
            "a finish reason: another request most likely interrupted it (a one-at-a-time server such as "
            "llama-cpp-python stops a running stream when a second request arrives).",
            "Let one request run at a time against this server (stop other mia commands using it), then try "
            "again.", service=state.service, retryable=True)
    how = f" ({broke})" if broke else ""
    if not state.wrote_anything:
        who = _who(state)
        return ContextLengthExceeded(
            f"{who[0].upper()}{who[1:]} closed the stream before the model wrote anything{how}: the prompt is "
            "most likely longer than the model's context window (llama-cpp-python answers 200, then closes the "
            "connection).",
            "Send less text, or give the server a larger context (and tell mia with `mia config set "
            "llm.context_tokens N`).", service=state.service, code="context_closed")
    return IncompleteStream(
        f"The streamed answer from {_who(state)} broke off after {len(state.raw_text)} characters without a finish "
        f"reason{how}: the server or the connection stopped it.",
        "Try again; if it keeps happening, check the server's log.", service=state.service, retryable=True)


def _who(state: StreamState) -> str:
    """The service as a sentence names it ("LLM" is what usage rows call an OpenAI-compatible server)."""
    return "the LLM server" if state.service == "LLM" else state.service
