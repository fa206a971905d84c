"""What LLM replies look like: both Workers AI result shapes normalised, tool calls parsed, usage priced."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from mia.agents.llm.catalog import neurons_table
from mia.agents.llm.stream import strip_think
from mia.models import Usage


class ToolCall(BaseModel):
    """One function call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str | None = None  # kept when the model's arguments were not a JSON object


class LLMResponse(BaseModel):
    """One model reply, the same whatever shape the service used."""

    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str | None = None
    raw: dict[str, Any] | None = None
    truncated: bool = False  # still cut off by max_tokens after the continuation requests (see answer.py)
    continuations: int = 0  # continuation requests that were appended to this answer


# Neurons per million input / output tokens, from the one model table (mia.agents.llm.catalog).
NEURONS_PER_M: dict[str, tuple[float, float]] = neurons_table()
_NEURONS_BY_NAME = {model.rsplit("/", 1)[-1]: rates for model, rates in NEURONS_PER_M.items()}


def neuron_rates(model: str) -> tuple[float, float] | None:
    """Neurons per million (input, output) tokens of a known Workers AI model, else None."""
    return NEURONS_PER_M.get(model) or _NEURONS_BY_NAME.get(model.rsplit("/", 1)[-1])


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class Pricing:
    """Turns a reply's reported usage into a priced `Usage`."""

    service: str
    provider: str
    model: str
    usd_per_1k_neurons: float
    input_usd_per_m: float | None = None
    output_usd_per_m: float | None = None

    def usage(self, reported: dict[str, Any] | None, latency_ms: int) -> Usage:
        """Price one reply: reported neurons, else the per-million overrides, else the neuron table."""
        reported = reported or {}
        tokens_in = _int(reported.get("prompt_tokens", reported.get("input_tokens")))
        tokens_out = _int(reported.get("completion_tokens", reported.get("output_tokens")))
        if isinstance(reported.get("neurons"), int | float):
            neurons = float(reported["neurons"])
            cost = neurons / 1000 * self.usd_per_1k_neurons
        else:
            neurons, cost = self.price(tokens_in, tokens_out)
        return Usage(service=self.service, model=self.model, input_tokens=tokens_in, output_tokens=tokens_out,
                     neurons=neurons, cost_usd=cost, latency_ms=latency_ms)

    def price(self, tokens_in: int, tokens_out: int) -> tuple[float, float]:
        """(neurons, US dollars) for a token count: per-million overrides, else the neuron table, else 0."""
        if self.input_usd_per_m is not None or self.output_usd_per_m is not None:
            usd_in, usd_out = self.input_usd_per_m or 0.0, self.output_usd_per_m or 0.0
            return 0.0, (tokens_in * usd_in + tokens_out * usd_out) / 1e6
        rates = neuron_rates(self.model) if self.provider == "workers-ai" else None
        if rates is None:
            return 0.0, 0.0
        neurons = (tokens_in * rates[0] + tokens_out * rates[1]) / 1e6
        return neurons, neurons / 1000 * self.usd_per_1k_neurons


def parse_arguments(value: Any) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments as a dict; when they are not a JSON object, the raw string is kept instead."""
    if isinstance(value, dict):
        return value, None
    if value is None or value == "":
        return {}, None
    raw = value if isinstance(value, str) else json.dumps(value)
    try:
        parsed: Any = json.loads(raw)
        if isinstance(parsed, str):  # some models encode the arguments twice
            parsed = json.loads(parsed)
    except json.JSONDecodeError:
        return {}, raw
    return (parsed, None) if isinstance(parsed, dict) else ({}, raw)


def parse_tool_calls(items: Any) -> list[ToolCall]:
    """Tool calls in either encoding: legacy {name, arguments: {…}} or OpenAI {id, function: {…}}."""
    calls: list[ToolCall] = []
    for index, item in enumerate(items if isinstance(items, list) else [], start=1):
        if not isinstance(item, dict):
            continue
        function: dict[str, Any] = item["function"] if isinstance(item.get("function"), dict) else item
        arguments, raw = parse_arguments(function.get("arguments", function.get("parameters")))
        # Legacy calls carry no id; Workers AI accepts nine digits as the fallback tool_call_id.
        call_id = str(item.get("id") or f"{index:09d}")
        calls.append(ToolCall(id=call_id, name=str(function.get("name", "")), arguments=arguments,
                              raw_arguments=raw))
    return calls


def _content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass(frozen=True)
class Normalised:
    """The parts of a reply every caller needs."""

    text: str
    tool_calls: list[ToolCall]
    usage: dict[str, Any]
    finish_reason: str | None


def normalise_result(result: dict[str, Any]) -> Normalised | None:
    """Read either result shape (OpenAI chat.completion or legacy `response`); None if it is neither."""
    usage: dict[str, Any] = result["usage"] if isinstance(result.get("usage"), dict) else {}
    choices = result.get("choices")
    if isinstance(choices, list):
        choice: dict[str, Any] = choices[0] if choices and isinstance(choices[0], dict) else {}
        message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
        text = strip_think(_content_text(message.get("content")))  # reasoning_content stays hidden
        calls = parse_tool_calls(message.get("tool_calls"))
        return Normalised(text, calls, usage, choice.get("finish_reason"))
    if "response" in result or "tool_calls" in result:
        response = result.get("response")
        if isinstance(response, dict | list):  # JSON mode may hand back the parsed object
            text = json.dumps(response, ensure_ascii=False)
        else:
            text = strip_think(response) if isinstance(response, str) else ""
        finish = result.get("finish_reason") if isinstance(result.get("finish_reason"), str) else None
        return Normalised(text, parse_tool_calls(result.get("tool_calls")), usage, finish)
    return None


def string_content(message: dict[str, Any]) -> dict[str, Any]:
    """The message with `content` a string: Workers AI model schemas require a string (or parts), never null.

    Sources: the model JSON schemas in cloudflare/cloudflare-docs (`content` is `oneOf` string | array and
    required), and workers-ai-provider `normalizeMessagesForBinding` (null content becomes "").
    """
    return message if message.get("content") is not None else {**message, "content": ""}


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A generous token count: ~3 characters a token (medical text tokenises densely) plus framing."""
    contents = (m.get("content") for m in messages)
    chars = sum(len(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)) for c in contents)
    return chars // 3 + 8 * len(messages)


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)
_DECODER = json.JSONDecoder()


def json_candidates(text: str) -> list[Any]:
    """Every JSON value a reply may mean, in the order to try them: the whole reply, each fenced block,
    then each top-level JSON object or array in the text (so a fence inside a JSON string, prose with
    braces, or an example block before the real one do not hide the answer)."""
    cleaned = strip_think(text).strip()
    found: list[Any] = []
    pieces = [cleaned, *(m.group(1).strip() for m in _FENCE.finditer(cleaned))]
    for piece in pieces:
        try:
            found.append(json.loads(piece))
        except json.JSONDecodeError:
            continue
    position = 0
    while (start := _next_open(cleaned, position)) >= 0:
        try:
            value, end = _DECODER.raw_decode(cleaned, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        found.append(value)
        position = end
    return found


def _next_open(text: str, position: int) -> int:
    starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
    return min(starts) if starts else -1


def extract_json(text: str, accept: Callable[[Any], bool] | None = None) -> Any:
    """The JSON value in a reply that may be fenced, prefixed with <think>, or wrapped in prose.

    With `accept`, the first candidate (see `json_candidates`) it accepts, else the first candidate.
    Raises ValueError when the reply holds no JSON value at all.
    """
    candidates = json_candidates(text)
    if accept is not None:
        for candidate in candidates:
            if accept(candidate):
                return candidate
    if candidates:
        return candidates[0]
    cleaned = strip_think(text).strip()
    try:
        json.loads(cleaned)
    except json.JSONDecodeError as exc:
        shown = cleaned[:80] + ("…" if len(cleaned) > 80 else "")
        raise ValueError(f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; "
                         f"it starts {shown!r})") from None
    raise ValueError("the reply is not valid JSON")
