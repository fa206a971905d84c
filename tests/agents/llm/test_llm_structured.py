"""Structured output: the right JSON mode per model, any reply encoding, one repair, then a clear error."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fakes.scripted_http import Script
from pydantic import BaseModel

from mia.agents.llm.client import LLMClient, LLMOutputError
from mia.tools.http import RateLimiter, RetryPolicy

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
ASK = [{"role": "system", "content": "Plan searches."}, {"role": "user", "content": "TAVR in 2026"}]
GOOD = {"question": "TAVR outcomes", "queries": ["TAVR 2026", "transcatheter valve trial"]}


class SearchPlan(BaseModel):
    """Searches to run for one question."""

    question: str
    queries: list[str]


def legacy(response: Any) -> httpx.Response:
    usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    result = {"response": response, "usage": usage}
    return httpx.Response(200, json={"result": result, "success": True, "errors": [], "messages": []})


def chat_completion(content: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {"object": "chat.completion", "choices": [{"index": 0, "finish_reason": finish_reason,
                                                      "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def make_client(service: Script, **overrides: Any) -> LLMClient:
    options: dict[str, Any] = dict(
        http=httpx.Client(transport=httpx.MockTransport(service)), provider="workers-ai", model=LLAMA,
        base_url="https://api.cloudflare.com/client/v4", api_key="t", account_id="a", max_tokens=800,
        temperature=0.2, usd_per_1k_neurons=0.011, limiter=RateLimiter(0),
        retry=RetryPolicy(base_delay=0, max_delay=0))
    options.update(overrides)
    return LLMClient(**options)


def test_a_parsed_object_reply_validates_and_llama_gets_the_raw_schema() -> None:
    service = Script(legacy(GOOD))
    plan, responses = make_client(service).structured(ASK, SearchPlan)
    assert plan == SearchPlan.model_validate(GOOD)
    assert len(responses) == 1 and responses[0].usage.input_tokens == 100
    body = service.body()
    assert body["response_format"] == {"type": "json_schema", "json_schema": SearchPlan.model_json_schema()}
    assert body["stream"] is False and body["max_tokens"] == 800


def test_a_fenced_string_after_a_think_block_validates() -> None:
    fenced = "<think>which queries?</think>\nHere you go:\n```json\n" + json.dumps(GOOD) + "\n```"
    plan, _ = make_client(Script(legacy(fenced))).structured(ASK, SearchPlan)
    assert plan.queries == GOOD["queries"]


def test_newer_models_and_openai_servers_get_the_named_schema_wrapper() -> None:
    named = {"name": "SearchPlan", "schema": SearchPlan.model_json_schema()}
    wrapped = {"type": "json_schema", "json_schema": named}
    qwen = Script(httpx.Response(200, json={"result": chat_completion(json.dumps(GOOD)), "success": True}))
    make_client(qwen, model=QWEN).structured(ASK, SearchPlan)
    assert qwen.body()["response_format"] == wrapped
    local = Script(httpx.Response(200, json=chat_completion(json.dumps(GOOD))))
    plan, _ = make_client(local, provider="openai", model="qwen2.5", base_url="http://127.0.0.1:1/v1",
                          api_key=None, account_id=None).structured(ASK, SearchPlan)
    assert local.body()["response_format"] == wrapped and plan.question == "TAVR outcomes"


def test_an_invalid_reply_is_repaired_once_with_the_validation_error() -> None:
    service = Script(legacy({"question": "TAVR outcomes"}), legacy(GOOD))
    plan, responses = make_client(service).structured(ASK, SearchPlan)
    assert plan.queries == GOOD["queries"]
    assert len(service.requests) == 2 and len(responses) == 2
    repair = service.body(1)["messages"]
    assert repair[:2] == ASK
    assert repair[2] == {"role": "assistant", "content": json.dumps({"question": "TAVR outcomes"})}
    assert repair[3]["role"] == "user"
    assert "queries: Field required" in repair[3]["content"] and "SearchPlan" in repair[3]["content"]
    assert "response_format" in service.body(1)


def test_invalid_twice_raises_a_clear_output_error_with_both_replies() -> None:
    service = Script(legacy("Sure! The plan is to search PubMed."), legacy({"question": 3, "queries": "x"}))
    with pytest.raises(LLMOutputError) as caught:
        make_client(service).structured(ASK, SearchPlan)
    error = caught.value
    assert "SearchPlan" in error.message and "question" in error.message
    assert "valid string" in error.message
    assert len(error.responses) == 2 and len(service.requests) == 2
    assert error.hint is not None and "llm.model" in error.hint


def test_the_first_error_of_a_non_json_reply_is_quoted_in_the_repair() -> None:
    service = Script(legacy("I cannot do JSON"), legacy(GOOD))
    make_client(service).structured(ASK, SearchPlan)
    assert "not valid JSON" in service.body(1)["messages"][-1]["content"]


def test_a_truncated_reply_says_it_was_cut_off() -> None:
    cut = chat_completion('{"question": "TAVR', finish_reason="length")
    service = Script(*(httpx.Response(200, json={"result": cut, "success": True}) for _ in range(2)))
    with pytest.raises(LLMOutputError, match="cut off"):
        make_client(service, model=QWEN).structured(ASK, SearchPlan)


def test_when_json_mode_cannot_be_met_the_repair_asks_for_json_in_text() -> None:
    errors = [{"message": "AiError: JSON Mode couldn't be met", "code": 5024}]
    refused = httpx.Response(400, json={"errors": errors, "success": False, "result": {}, "messages": []})
    service = Script(refused, legacy("```json\n" + json.dumps(GOOD) + "\n```"))
    plan, responses = make_client(service).structured(ASK, SearchPlan)
    assert plan.question == "TAVR outcomes" and len(responses) == 1
    second = service.body(1)
    assert "response_format" not in second
    # the schema now rides in the system prompt; the person's message is unchanged
    assert '"queries"' in second["messages"][0]["content"] and second["messages"][1:] == ASK[1:]
