"""The LLM client speaks Workers AI (both result shapes) and OpenAI servers, prices usage, explains errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fakes.scripted_http import Script

from mia.agents.llm.client import LLMClient
from mia.errors import MissingCredentialError, ServiceError
from mia.settings import load_settings
from mia.tools.http import RateLimiter, RetryPolicy

BASE = "https://api.cloudflare.com/client/v4"
ACCOUNT = "acc123"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
ASK = [{"role": "user", "content": "What is new in TAVR?"}]


def envelope(result: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"result": result, "success": True, "errors": [], "messages": []})


def cf_error(status: int, code: int, message: str, **headers: str) -> httpx.Response:
    body = {"errors": [{"message": message, "code": code}], "success": False, "result": {}, "messages": []}
    return httpx.Response(status, json=body, headers=headers)


def make_client(handler: Callable[[httpx.Request], httpx.Response], **overrides: Any) -> LLMClient:
    options: dict[str, Any] = dict(
        http=httpx.Client(transport=httpx.MockTransport(handler)), provider="workers-ai", model=LLAMA,
        base_url=BASE, api_key="cf-token", account_id=ACCOUNT, max_tokens=1024, temperature=0.2,
        usd_per_1k_neurons=0.011, limiter=RateLimiter(0), retry=RetryPolicy(base_delay=0, max_delay=0))
    options.update(overrides)
    return LLMClient(**options)


def legacy_result(response: Any = "Hello", tool_calls: list[Any] | None = None,
                  **usage: int) -> dict[str, Any]:
    counts = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500, **usage}
    return {"response": response, "tool_calls": tool_calls or [], "usage": counts}


def openai_result(content: str | None, tool_calls: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, **extra}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": QWEN,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50,
                      "prompt_tokens_details": {"cached_tokens": 0}}}


def test_a_chat_posts_to_the_model_path_with_max_tokens_and_temperature() -> None:
    service = Script(envelope(legacy_result("Hi there")))
    reply = make_client(service).chat(ASK)
    request = service.requests[0]
    assert request.method == "POST"
    assert request.url.raw_path.decode() == f"/client/v4/accounts/{ACCOUNT}/ai/run/{LLAMA}"
    assert request.headers["authorization"] == "Bearer cf-token"
    body = service.body()
    assert body["max_tokens"] == 1024 and body["temperature"] == 0.2
    assert body["messages"] == ASK and "model" not in body
    assert reply.text == "Hi there" and reply.tool_calls == []


def test_per_call_max_tokens_and_temperature_win_over_the_defaults() -> None:
    service = Script(envelope(legacy_result()))
    make_client(service).chat(ASK, max_tokens=77, temperature=0.0)
    assert service.body()["max_tokens"] == 77 and service.body()["temperature"] == 0.0


def test_legacy_usage_is_priced_from_the_neuron_table() -> None:
    reply = make_client(Script(envelope(legacy_result()))).chat(ASK)
    neurons = 1000 * 26_668 / 1e6 + 500 * 204_805 / 1e6
    usage = reply.usage
    assert (usage.service, usage.model) == ("Workers AI", LLAMA)
    assert (usage.input_tokens, usage.output_tokens) == (1000, 500)
    assert usage.neurons == pytest.approx(neurons)
    assert usage.cost_usd == pytest.approx(neurons / 1000 * 0.011)


def test_table_prices_of_newer_models_come_from_their_dollar_prices() -> None:
    reply = make_client(Script(envelope(openai_result("ok"))), model=QWEN).chat(ASK)
    assert reply.usage.cost_usd == pytest.approx((40 * 0.051 + 10 * 0.34) / 1e6)


def test_reported_neurons_win_over_the_table() -> None:
    result = legacy_result(neurons=250)
    reply = make_client(Script(envelope(result))).chat(ASK)
    assert reply.usage.neurons == 250
    assert reply.usage.cost_usd == pytest.approx(250 / 1000 * 0.011)


def test_price_overrides_per_million_tokens_are_used_when_set() -> None:
    client = make_client(Script(envelope(legacy_result())), input_usd_per_m=1.0, output_usd_per_m=4.0)
    assert client.chat(ASK).usage.cost_usd == pytest.approx((1000 * 1.0 + 500 * 4.0) / 1e6)


def test_an_unknown_model_costs_nothing_instead_of_crashing() -> None:
    reply = make_client(Script(envelope(legacy_result())), model="@cf/someone/new-model").chat(ASK)
    assert reply.usage.cost_usd == 0 and reply.usage.neurons == 0 and reply.usage.input_tokens == 1000


def test_openai_shape_inside_the_envelope_hides_reasoning_and_think_blocks() -> None:
    result = openai_result("<think>secret musing</think>\n\nThe answer.", reasoning_content="internal chain")
    reply = make_client(Script(envelope(result)), model=QWEN).chat(ASK)
    assert reply.text == "The answer."
    assert reply.finish_reason == "stop"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (40, 10)


def test_legacy_tool_calls_get_sequential_ids_and_keep_object_arguments() -> None:
    calls = [{"name": "pubmed_search", "arguments": {"q": "TAVR"}},
             {"name": "trials_search", "arguments": {"q": "TAVR", "phase": 3}}]
    reply = make_client(Script(envelope(legacy_result(None, calls)))).chat(ASK)
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("000000001", "pubmed_search", {"q": "TAVR"}),
        ("000000002", "trials_search", {"q": "TAVR", "phase": 3}),
    ]
    assert reply.text == ""


def test_openai_tool_calls_parse_string_arguments_and_keep_invalid_ones_raw() -> None:
    calls = [{"id": "call_a1", "type": "function",
              "function": {"name": "pubmed_search", "arguments": '{"q": "TAVR"}'}},
             {"id": "call_b2", "type": "function",
              "function": {"name": "fetch", "arguments": '{"url": "http://x'}}]
    reply = make_client(Script(envelope(openai_result(None, calls))), model=QWEN).chat(ASK)
    good, bad = reply.tool_calls
    assert (good.id, good.name, good.arguments) == ("call_a1", "pubmed_search", {"q": "TAVR"})
    assert good.raw_arguments is None
    assert (bad.id, bad.arguments, bad.raw_arguments) == ("call_b2", {}, '{"url": "http://x')
    assert reply.finish_reason == "tool_calls"


def test_tools_are_sent_in_the_openai_form() -> None:
    service = Script(envelope(legacy_result()))
    flat = {"name": "pubmed_search", "description": "Search PubMed",
            "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}}}
    make_client(service).chat(ASK, tools=[flat])
    assert service.body()["tools"] == [{"type": "function", "function": flat}]


def test_session_affinity_header_is_sent_for_prompt_caching() -> None:
    service = Script(envelope(legacy_result()))
    make_client(service, session_id="run-42").chat(ASK)
    assert service.requests[0].headers["x-session-affinity"] == "run-42"


def test_a_rejected_model_names_the_code_the_message_and_the_setting() -> None:
    service = Script(cf_error(400, 5007, "AiError: No such model @cf/meta/nope or task"))
    with pytest.raises(ServiceError) as caught:
        make_client(service, model="@cf/meta/nope").chat(ASK)
    error = caught.value
    assert "5007" in error.message and "No such model @cf/meta/nope" in error.message
    assert error.hint is not None and "mia config set llm.model" in error.hint
    assert len(service.requests) == 1  # a wrong model is not retried


@pytest.mark.parametrize(("status", "code"), [(404, 3042), (403, 5016), (410, 5028)])
def test_other_model_rejections_also_point_at_llm_model(status: int, code: int) -> None:
    with pytest.raises(ServiceError) as caught:
        make_client(Script(cf_error(status, code, "AiError: model problem"))).chat(ASK)
    assert str(code) in caught.value.message
    assert caught.value.hint is not None and "llm.model" in caught.value.hint


def test_a_bad_token_hint_names_the_setting_and_permissions() -> None:
    with pytest.raises(ServiceError) as caught:
        make_client(Script(cf_error(401, 10000, "Authentication error"))).chat(ASK)
    hint = caught.value.hint or ""
    assert "cloudflare.api_token" in hint and "Workers AI - Read" in hint and "Workers AI - Edit" in hint


def test_out_of_capacity_is_retried_after_retry_after() -> None:
    service = Script(cf_error(429, 3040, "AiError: Capacity temporarily exceeded", **{"Retry-After": "0"}),
                     envelope(legacy_result("finally")))
    assert make_client(service).chat(ASK).text == "finally"
    assert len(service.requests) == 2


@pytest.mark.parametrize("body", [
    {"result": None, "success": False, "errors": [{"message": "AiError: bad input", "code": 5004}],
     "messages": []},
    {"success": True, "errors": [], "messages": []},
])
def test_a_200_without_a_result_is_a_service_error(body: dict[str, Any]) -> None:
    with pytest.raises(ServiceError) as caught:
        make_client(Script(httpx.Response(200, json=body))).chat(ASK)
    assert "Workers AI" in caught.value.message
    if body.get("errors"):
        assert "5004" in caught.value.message and "bad input" in caught.value.message


def test_openai_provider_posts_chat_completions_with_the_model_in_the_body() -> None:
    service = Script(httpx.Response(200, json=openai_result("local answer")))
    client = make_client(service, provider="openai", model="qwen2.5:7b", base_url="http://127.0.0.1:8080/v1",
                         api_key=None, account_id=None)
    reply = client.chat(ASK)
    request = service.requests[0]
    assert str(request.url) == "http://127.0.0.1:8080/v1/chat/completions"
    assert "authorization" not in request.headers
    assert service.body()["model"] == "qwen2.5:7b" and service.body()["max_tokens"] == 1024
    assert reply.text == "local answer"
    assert (client.service, reply.usage.service, reply.usage.cost_usd) == ("LLM", "LLM", 0)


def test_openai_provider_sends_the_key_and_uses_price_overrides() -> None:
    service = Script(httpx.Response(200, json=openai_result("ok")))
    client = make_client(service, provider="openai", model="gpt-x", base_url="http://127.0.0.1:9/v1",
                         api_key="sk-1", account_id=None, input_usd_per_m=2.0, output_usd_per_m=8.0)
    usage = client.chat(ASK).usage
    assert service.requests[0].headers["authorization"] == "Bearer sk-1"
    assert usage.cost_usd == pytest.approx((40 * 2.0 + 10 * 8.0) / 1e6)


def test_missing_cloudflare_credentials_say_which_and_how_to_set_them() -> None:
    http = httpx.Client(transport=httpx.MockTransport(Script()))
    with pytest.raises(MissingCredentialError) as caught:
        LLMClient.from_settings(load_settings(env={}), http)
    text = str(caught.value)
    assert "CLOUDFLARE_API_TOKEN" in text and "CLOUDFLARE_ACCOUNT_ID" in text
    assert "mia config set cloudflare.api_token" in text
    with pytest.raises(MissingCredentialError) as only_token:
        LLMClient.from_settings(load_settings(env={"CLOUDFLARE_ACCOUNT_ID": ACCOUNT}), http)
    assert "cloudflare.api_token (CLOUDFLARE_API_TOKEN)" in only_token.value.message
    assert "cloudflare.account_id (" not in only_token.value.message


def test_openai_provider_without_a_base_url_names_llm_base_url() -> None:
    http = httpx.Client(transport=httpx.MockTransport(Script()))
    with pytest.raises(MissingCredentialError, match="llm.base_url"):
        LLMClient.from_settings(load_settings(env={"MIA_LLM_PROVIDER": "openai"}), http)


def test_from_settings_uses_the_account_token_model_and_timeout() -> None:
    service = Script(envelope(legacy_result()))
    env = {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": "tok-9", "MIA_LLM_TIMEOUT": "7",
           "MIA_LLM_MAX_TOKENS": "3000"}
    http = httpx.Client(transport=httpx.MockTransport(service))
    client = LLMClient.from_settings(load_settings(env=env), http, model=QWEN)
    client.retry = RetryPolicy(base_delay=0, max_delay=0)
    client.chat(ASK)
    request = service.requests[0]
    assert request.url.raw_path.decode().endswith(f"/accounts/{ACCOUNT}/ai/run/{QWEN}")
    assert request.headers["authorization"] == "Bearer tok-9"
    assert request.extensions["timeout"]["read"] == 7.0
    assert service.body()["max_tokens"] == 3000


def test_cost_estimates_use_the_same_prices_as_real_usage() -> None:
    client = make_client(Script())
    neurons = 2000 * 26_668 / 1e6 + 1000 * 204_805 / 1e6
    assert client.estimate_cost_tokens(2000, 1000) == pytest.approx(neurons / 1000 * 0.011)
    long_ask = [{"role": "user", "content": "x" * 3000}]
    floor = client.estimate_cost_tokens(0, 500)
    assert client.estimate_cost(long_ask, 500) > client.estimate_cost(ASK, 500) > floor
    assert client.estimate_cost(ASK) == pytest.approx(client.estimate_cost(ASK, 1024))
    assert make_client(Script(), model="@cf/someone/new-model").estimate_cost(long_ask) == 0
