"""JSON output negotiated with the server: the strongest JSON mode it has not refused, one repair, then an error.

Modes, strongest first: `json_schema` (bare JSON Schema or the `{name, schema}` wrapper, as the model's
input schema declares on Workers AI), `json_object` with a `schema` field (llama.cpp, llama-cpp-python),
and plain text with the schema in the system prompt. A refusal (an error naming response_format; on
llama-cpp-python an HTTP 500 "Input should be 'text' or 'json_object'") is not retried: the request steps
down at once and the profile remembers the step for that base URL and model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from mia.agents.llm.profile import ModelProfile
from mia.agents.llm.shapes import LLMResponse, extract_json
from mia.errors import MiaError, ServiceError

T = TypeVar("T", bound=BaseModel)
Complete = Callable[[list[dict[str, Any]], "dict[str, Any] | None"], LLMResponse]

JSON_MODE_UNMET = "json mode couldn't be met"
# How servers word a refused response_format (llama-cpp-python: HTTP 500 "Input should be 'text' or
# 'json_object'"; Workers AI: 400 naming response_format; vLLM/Ollama: 400 naming json_schema).
REFUSAL = re.compile(r"response_format|json_schema|json_object|'text'|grammar", re.IGNORECASE)
REFUSAL_STATUSES = (400, 422, 500, 501)


class LLMOutputError(MiaError):
    """The model's output could not be used (invalid JSON after the repair attempt)."""

    def __init__(self, message: str, hint: str | None = None, *, output: str = "",
                 responses: list[LLMResponse] | None = None) -> None:
        super().__init__(message, hint)
        self.output = output
        self.responses = responses or []  # every reply made, so the caller can still count their cost


def structured(complete: Complete, profile: ModelProfile, remember: Callable[[ModelProfile], None],
               messages: list[dict[str, Any]], schema: type[T], *, workers_ai: bool) -> tuple[T, list[LLMResponse]]:
    """A reply validated as `schema` and every reply made; `complete(messages, response_format)` asks once.

    Workers AI's json_schema shape follows the profile; a 400 naming response_format tries the other shape
    once. Raises LLMOutputError (with every reply) when no valid JSON came back after one repair.
    """
    json_schema = schema.model_json_schema()
    first, mode = _first(complete, profile, remember, messages, schema, json_schema, workers_ai)
    responses = [first]
    value, error = validate(first.text, schema)
    if value is not None:
        return value, responses
    repair = [*with_shape(messages, mode, json_schema), {"role": "assistant", "content": first.text},
              {"role": "user", "content": _repair_prompt(_schema_name(schema), error, json_schema)}]
    try:
        responses.append(complete(repair, response_format(mode, profile.schema_shape, schema, json_schema)))
    except ServiceError as exc:
        if not refused(exc):
            raise
        raise _output_error(schema, error, first, responses) from None
    value, later = validate(responses[-1].text, schema)
    if value is None:
        raise _output_error(schema, later or error, responses[-1], responses)
    return value, responses


def _first(complete: Complete, profile: ModelProfile, remember: Callable[[ModelProfile], None],
           messages: list[dict[str, Any]], schema: type[BaseModel], json_schema: dict[str, Any],
           workers_ai: bool) -> tuple[LLMResponse, str]:
    """The first reply and the JSON mode it was asked in, stepping down on refusals."""
    mode, flipped = profile.json_mode, False
    while True:
        try:
            return complete(with_shape(messages, mode, json_schema),
                            response_format(mode, profile.schema_shape, schema, json_schema)), mode
        except ServiceError as exc:
            if mode == "text" or not refused(exc):
                raise
            if JSON_MODE_UNMET in exc.message.lower():  # this reply could not meet the schema: not remembered
                mode = "text"
                continue
            if mode == "json_schema" and workers_ai and not flipped:
                flipped = True
                profile.schema_shape = "bare" if profile.schema_shape == "wrapped" else "wrapped"
                profile.json_source = f"the other shape was refused; {profile.schema_shape} json_schema"
            else:
                mode = profile.step_down(mode)
            remember(profile)


def response_format(mode: str, shape: str, schema: type[BaseModel], json_schema: dict[str, Any]
                    ) -> dict[str, Any] | None:
    """The body's response_format for a JSON mode (None for text); `shape` is "bare" or "wrapped"."""
    if mode == "json_object":  # llama.cpp and llama-cpp-python constrain to `schema` when given
        return {"type": "json_object", "schema": json_schema}
    if mode != "json_schema":
        return None
    if shape == "bare":
        return {"type": "json_schema", "json_schema": json_schema}
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(json_schema.get("title") or schema.__name__))[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": json_schema}}


def with_shape(messages: list[dict[str, Any]], mode: str, json_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Without enforced JSON, the system prompt carries the schema so the model knows the shape."""
    if mode == "json_schema":
        return messages
    note = ("Reply with only one JSON object, no prose and no code fences, matching this JSON Schema: "
            + json.dumps(compact_schema(json_schema), separators=(",", ":")))
    if messages and messages[0].get("role") == "system":
        return [{**messages[0], "content": f"{messages[0]['content']}\n\n{note}"}, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def _schema_name(schema: type[BaseModel]) -> str:
    return str(schema.model_json_schema().get("title") or schema.__name__)


def validate(text: str, schema: type[T]) -> tuple[T | None, str]:
    """The reply validated as `schema`, or None and the first problem in words."""
    try:
        data = extract_json(text, accept=lambda value: _fits(schema, value))
    except ValueError as exc:
        return None, str(exc)
    try:
        return schema.model_validate(data), ""
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return None, f"{where}: {first['msg']}{more}"


def _fits(schema: type[BaseModel], value: Any) -> bool:
    """Whether `value` is this schema's answer: it validates and, as an object, names at least one of its fields
    (so an example block such as {"example": true} is not taken for an answer whose fields all have defaults)."""
    names = {f.alias or n for n, f in schema.model_fields.items()} | set(schema.model_fields)
    if isinstance(value, dict) and names and not names & set(value):
        return False
    try:
        schema.model_validate(value)
    except ValidationError:
        return False
    return True


def _repair_prompt(schema_name: str, error: str, json_schema: dict[str, Any]) -> str:
    shape = json.dumps(compact_schema(json_schema), separators=(",", ":"))
    return (f"Your reply is not valid JSON for the {schema_name} schema: {error}. Reply with only the corrected "
            f"JSON object, no prose and no code fences, matching this JSON Schema: {shape}")


def compact_schema(json_schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema without titles and with $defs inlined: fewer tokens for a small model to read."""
    defs = json_schema.get("$defs", {})

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
                return strip(defs[ref[8:]])
            return {k: strip(v) for k, v in node.items() if k not in ("title", "$defs")}
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    result: dict[str, Any] = strip(json_schema)
    return result


def refused(exc: ServiceError) -> bool:
    """A service error that refuses the JSON mode (not one that retrying or another mode would not fix)."""
    if JSON_MODE_UNMET in exc.message.lower():
        return True
    return exc.status in REFUSAL_STATUSES and bool(REFUSAL.search(exc.message))


def refusal_response(response: httpx.Response) -> bool:
    """An error response that refuses the request's response_format: not worth retrying as it is."""
    if response.status_code not in REFUSAL_STATUSES:
        return False
    text = response.text
    return bool(REFUSAL.search(text)) or JSON_MODE_UNMET in text.lower()


def _output_error(schema: type[BaseModel], error: str, last: LLMResponse,
                  responses: list[LLMResponse]) -> LLMOutputError:
    cut = " The reply was cut off at max_tokens." if last.finish_reason == "length" else ""
    return LLMOutputError(
        f"The model's reply did not match the {_schema_name(schema)} schema after one repair attempt: "
        f"{error}.{cut}",
        "Try again, raise `llm.max_tokens` if replies are cut off, or use a stronger model with "
        "`mia config set llm.model MODEL`.",
        output=last.text, responses=responses)
