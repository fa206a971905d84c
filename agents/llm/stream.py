"""Streaming plumbing for LLM replies: SSE framing, <think> stripping, and the stream's running state."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mia.errors import ServiceError

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)


def strip_think(text: str) -> str:
    """The visible reply: drops <think> blocks, an unterminated one, and reasoning before a lone </think>."""
    text = _THINK_BLOCK.sub("", text)
    if THINK_CLOSE in text:  # the chat template opened the block in the prompt, so only the close shows
        text = text.rsplit(THINK_CLOSE, 1)[1]
    start = text.find(THINK_OPEN)
    if start != -1:  # the reply was cut off while still thinking
        text = text[:start]
    return text.strip()


def partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag` (held back for the next piece)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkFilter:
    """Turns streamed pieces into visible text, dropping <think> blocks even when tags span pieces."""

    def __init__(self) -> None:
        self._pending = ""
        self._inside = False
        self._started = False

    def feed(self, piece: str) -> str:
        """Take one streamed piece; return the text that is safe to show now."""
        self._pending += piece
        out: list[str] = []
        while True:
            tag = THINK_CLOSE if self._inside else THINK_OPEN
            index = self._pending.find(tag)
            if index == -1:
                break
            if not self._inside:
                out.append(self._pending[:index])
            self._pending = self._pending[index + len(tag):]
            self._inside = not self._inside
        keep = partial_suffix(self._pending, tag)
        cut = len(self._pending) - keep
        if not self._inside:
            out.append(self._pending[:cut])
        self._pending = self._pending[cut:]
        return self._visible("".join(out))

    def finish(self) -> str:
        """Flush what was held back; an unterminated <think> block is dropped."""
        rest = "" if self._inside else self._pending
        self._pending = ""
        return self._visible(rest)

    def _visible(self, text: str) -> str:
        # Replies usually open with whitespace after the reasoning; don't show it.
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """Yield the data of each server-sent event, buffering by line so frames split mid-JSON are rejoined."""
    buffer = b""
    data: list[str] = []
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            event = _take_line(raw, data)
            if event is not None:
                yield event
    if buffer:
        _take_line(buffer, data)
    if data:
        yield "\n".join(data)


def _take_line(raw: bytes, data: list[str]) -> str | None:
    """Add one SSE line to `data`; return the finished event's data on a blank line."""
    line = raw.decode("utf-8", errors="replace").rstrip("\r")
    if not line:
        event = "\n".join(data) if data else None
        data.clear()
        return event
    if line.startswith(":"):
        return None  # comment / keep-alive
    name, _, value = line.partition(":")
    if name == "data":
        data.append(value[1:] if value.startswith(" ") else value)
    return None


def parse_frames(data: str) -> list[Any]:
    """JSON frames in one event's data; servers that skip blank lines put several frames in one event."""
    try:
        return [json.loads(data)]
    except json.JSONDecodeError:
        pass
    frames = []
    for line in data.split("\n"):
        if line.strip() and line.strip() != "[DONE]":
            try:
                frames.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a malformed frame carries nothing we can show
    return frames


@dataclass
class StreamState:
    """What a stream has produced so far: visible pieces, the last usage seen, the finish reason."""

    service: str
    pieces: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None
    think: ThinkFilter = field(default_factory=ThinkFilter)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # streamed tool calls by index, as assembled
    whole_calls: list[Any] = field(default_factory=list)  # legacy frames carry each call whole
    done: bool = False  # the server sent `data: [DONE]`
    raw_text: str = ""  # everything the model wrote, <think> blocks included (to tell "empty" from "all reasoning")
    reasoning_chars: int = 0  # reasoning sent apart from the text (`reasoning_content`), never shown
    frames: int = 0  # JSON frames received
    progressed_at: float = 0.0  # monotonic time of the last frame that carried text, reasoning or a tool call

    def handle(self, frame: Any, on_text: Callable[[str], None]) -> None:
        """Apply one frame (legacy `response` or OpenAI `choices[].delta`); on_text gets visible text."""
        if not isinstance(frame, dict):
            return
        _raise_stream_error(frame, self.service)
        self.frames += 1
        before = (len(self.raw_text), self.reasoning_chars, len(self.calls), len(self.whole_calls), self._arg_chars())
        if isinstance(frame.get("usage"), dict):
            self.usage = frame["usage"]  # the final frame is cumulative: keep the last, never add up
        piece = ""
        choices = frame.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            piece = content if isinstance(content, str) else ""  # reasoning_content is never shown
            if isinstance(delta, dict):
                self._add_call_deltas(delta.get("tool_calls"))
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                self.reasoning_chars += len(reasoning) if isinstance(reasoning, str) else 0
            self.finish_reason = choices[0].get("finish_reason") or self.finish_reason
        elif isinstance(frame.get("response"), str):
            piece = frame["response"]
        if isinstance(frame.get("finish_reason"), str) and frame["finish_reason"]:
            self.finish_reason = frame["finish_reason"]  # native frames carry it at the top level
        if isinstance(frame.get("tool_calls"), list):
            self._add_native_calls(frame["tool_calls"])
        self.raw_text += piece
        if before != (len(self.raw_text), self.reasoning_chars, len(self.calls), len(self.whole_calls),
                      self._arg_chars()):
            self.progressed_at = time.monotonic()
        self._emit(self.think.feed(piece), on_text)

    def _arg_chars(self) -> int:
        return sum(len(c["arguments"]) if isinstance(c["arguments"], str) else 1 for c in self.calls.values())

    @property
    def wrote_anything(self) -> bool:
        """Whether the model produced any text, reasoning or tool call."""
        return bool(self.raw_text.strip() or self.reasoning_chars or self.calls or self.whole_calls)

    def _add_native_calls(self, items: list[Any]) -> None:
        """Top-level `tool_calls` on the native endpoint: whole calls, or pieces that carry an `index`.

        Pieces (workers-ai-provider `src/streaming.ts`, "Chunk A … Chunk D"): `{id, type, index, function:
        {name}}`, then `{index, function: {arguments: "<fragment>"}}` frames, then a closing frame with `id`,
        `type` and `function.name` all null, which carries nothing. A call without `index` is whole.
        """
        pieces = []
        for item in items:
            if not isinstance(item, dict) or _is_closing_piece(item):
                continue
            if isinstance(item.get("index"), int):
                pieces.append(item if "function" in item else {**item, "function": {
                    "name": item.get("name"), "arguments": item.get("arguments")}})
            else:
                self.whole_calls.append(item)
        self._add_call_deltas(pieces)

    def _add_call_deltas(self, deltas: Any) -> None:
        """Assemble OpenAI tool-call deltas: id and name come first, the arguments arrive in fragments."""
        for position, delta in enumerate(deltas if isinstance(deltas, list) else []):
            if not isinstance(delta, dict):
                continue
            index = delta["index"] if isinstance(delta.get("index"), int) else position
            call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            if isinstance(delta.get("id"), str) and delta["id"] and not call["id"]:
                call["id"] = delta["id"]
            function: dict[str, Any] = delta["function"] if isinstance(delta.get("function"), dict) else {}
            name = function.get("name")
            if isinstance(name, str) and name and call["name"] != name:
                call["name"] += name  # servers send the name once; a few split it like the arguments
            arguments = function.get("arguments")
            if isinstance(arguments, str) and isinstance(call["arguments"], str):
                call["arguments"] += arguments
            elif isinstance(arguments, dict) and arguments:  # a server that sends the parsed object at once
                call["arguments"] = arguments

    def tool_calls(self) -> list[Any]:
        """The calls the stream carried, in the wire form `parse_tool_calls` reads."""
        assembled = [{"id": c["id"] or None, "function": {"name": c["name"], "arguments": c["arguments"]}}
                     for _, c in sorted(self.calls.items())]
        return [*self.whole_calls, *assembled]

    def finish(self, on_text: Callable[[str], None]) -> str:
        """Flush held-back text; return the whole visible reply."""
        self._emit(self.think.finish(), on_text)
        return "".join(self.pieces).rstrip()

    def _emit(self, text: str, on_text: Callable[[str], None]) -> None:
        if text:
            self.pieces.append(text)
            on_text(text)


def _is_closing_piece(item: dict[str, Any]) -> bool:
    """The frame that closes a streamed native tool call: no id, no name, no arguments."""
    function = item["function"] if isinstance(item.get("function"), dict) else item
    arguments = function.get("arguments")
    return not item.get("id") and not function.get("name") and arguments in (None, "", {})


def _raise_stream_error(frame: dict[str, Any], service: str) -> None:
    """An error reported inside the stream becomes a ServiceError with the service's own words."""
    errors = frame.get("errors")
    if frame.get("success") is False or (isinstance(errors, list) and errors):
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        code = first.get("code")
        code_part = f" (code {code})" if code is not None else ""
        message = first.get("message", "unknown error")
        raise ServiceError(f"{service} failed mid-stream{code_part}: {message}",
                           "Try again; if it keeps failing, try without streaming.", service=service,
                           code=code, retryable=True)
    error = frame.get("error")
    if isinstance(error, dict | str) and error:
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ServiceError(f"{service} failed mid-stream: {message}", "Try again.", service=service,
                           retryable=True)

