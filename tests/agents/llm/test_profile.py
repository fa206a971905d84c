"""The model profile: discovery per dialect, the cache, settings overrides, JSON-mode negotiation, errors."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from mia.agents.llm import profile as profiles
from mia.agents.llm.client import LLMClient
from mia.errors import ContextLengthExceeded, ServiceError
from mia.tools.http import RateLimiter, RetryPolicy

LOCAL = "http://127.0.0.1:9/v1"
ASK = [{"role": "system", "content": "Plan."}, {"role": "user", "content": "TAVR"}]
GOOD = {"question": "TAVR outcomes", "queries": ["TAVR 2026"]}


class SearchPlan(BaseModel):
    question: str
    queries: list[str]


def completion(content: str) -> dict[str, Any]:
    return {"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


class Server:
    """A scripted local server: routes by path, records every request."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get(request.url.path)
        if callable(answer):
            answer = answer(request)
        if answer is None:
            return httpx.Response(404, json={"error": "not found"})
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def chats(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith("/chat/completions")]


def client(server: Server, home: Path, *, model: str = "m", provider: str = "openai", base_url: str = LOCAL,
           context_tokens: int = 0, json_mode: str = "auto", **extra: Any) -> LLMClient:
    llm = LLMClient(http=httpx.Client(transport=httpx.MockTransport(server)), provider=provider, model=model,
                    base_url=base_url, api_key="k", account_id="acct", max_tokens=4096, temperature=0.2,
                    usd_per_1k_neurons=0.011, limiter=RateLimiter(0), retry=RetryPolicy(base_delay=0, max_delay=0),
                    timeout=3.0, **extra)
    store = profiles.store_for(home)
    llm._profile_loader = lambda c: c.load_profile(store, context_tokens=context_tokens, json_mode=json_mode)
    return llm


def test_llama_cpp_props_give_context_and_slots(mia_home: Path) -> None:
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "llamacpp"}]},
                     "/props": {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 3}})
    profile = client(server, mia_home).profile
    assert (profile.dialect, profile.context_tokens, profile.slots) == ("llama.cpp", 4096, 3)
    assert "n_ctx" in profile.context_source and profile.json_mode == "json_schema"
    assert profile.model_listed is True


def test_ollama_show_gives_the_loaded_context(mia_home: Path) -> None:
    shown = {"model_info": {"qwen2.context_length": 32768}, "parameters": "num_ctx 8192\nstop \"<|im_end|>\""}
    server = Server({"/v1/models": {"data": [{"id": "qwen2.5:0.5b", "owned_by": "library"}]}, "/api/show": shown})
    profile = client(server, mia_home, model="qwen2.5:0.5b", base_url="http://127.0.0.1:9/v1").profile
    assert (profile.dialect, profile.context_tokens, profile.slots) == ("ollama", 8192, 1)
    show = next(r for r in server.requests if r.url.path == "/api/show")
    assert json.loads(show.content) == {"model": "qwen2.5:0.5b"}


def test_ollama_without_num_ctx_assumes_its_small_default(mia_home: Path) -> None:
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "library"}]},
                     "/api/show": {"model_info": {"llama.context_length": 131072}, "parameters": ""}})
    profile = client(server, mia_home).profile
    assert profile.context_tokens == 4096 and "OLLAMA_CONTEXT_LENGTH" in profile.context_source


def test_vllm_models_give_max_model_len(mia_home: Path) -> None:
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "vllm", "max_model_len": 16384}]}})
    profile = client(server, mia_home).profile
    assert (profile.dialect, profile.context_tokens) == ("vllm", 16384)
    assert not any(r.url.path in ("/props", "/api/show") for r in server.requests)


def test_llama_cpp_python_is_one_at_a_time_json_object_and_2048(mia_home: Path) -> None:
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "me"}]}})
    profile = client(server, mia_home).profile
    assert (profile.dialect, profile.json_mode, profile.slots, profile.context_tokens) == (
        "llama-cpp-python", "json_object", 1, 2048)


def test_the_setting_overrides_the_discovered_context_and_the_profile_is_cached(mia_home: Path) -> None:
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "vllm", "max_model_len": 16384}]}})
    assert client(server, mia_home, context_tokens=3000).context_tokens == 3000
    asked = len(server.requests)
    again = client(server, mia_home)
    assert again.context_tokens == 16384 and len(server.requests) == asked  # from the cache, not the server
    assert (mia_home / "cache" / "llm-profiles.json").exists()


def test_an_unreachable_server_falls_back_without_failing(mia_home: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")
    profile = client(Server({"/v1/models": down}), mia_home).profile
    assert profile.context_size == profiles.DEFAULT_CONTEXT and profile.answered is False


def test_a_refused_json_schema_steps_down_once_without_retry_and_is_remembered(mia_home: Path) -> None:
    """llama-cpp-python answers json_schema with HTTP 500 (API_NOTES §7); mia used to retry it six times."""
    def chat(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("response_format", {}).get("type") == "json_schema":
            return httpx.Response(500, json={"error": {"message": "[{'type': 'literal_error', 'loc': ('body', "
                                                                  "'response_format', 'type'), 'msg': \"Input should "
                                                                  "be 'text' or 'json_object'\"}]"}})
        return httpx.Response(200, json=completion(json.dumps(GOOD)))
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "fake"}]}, "/v1/chat/completions": chat})
    plan, responses = client(server, mia_home).structured(ASK, SearchPlan)
    assert plan.question == "TAVR outcomes" and len(responses) == 1
    kinds = [c.get("response_format", {}).get("type") for c in server.chats()]
    assert kinds == ["json_schema", "json_object"]
    assert server.chats()[1]["response_format"]["schema"]["properties"]["queries"]
    assert '"queries"' in server.chats()[1]["messages"][0]["content"]  # the shape is in the prompt too
    server.requests.clear()
    client(server, mia_home).structured(ASK, SearchPlan)  # a new process: remembered per base URL and model
    assert [c["response_format"]["type"] for c in server.chats()] == ["json_object"]


def test_no_json_mode_at_all_ends_with_the_schema_in_the_prompt(mia_home: Path) -> None:
    def chat(request: httpx.Request) -> httpx.Response:
        if "response_format" in json.loads(request.content):
            return httpx.Response(400, json={"error": {"message": "response_format is not supported"}})
        return httpx.Response(200, json=completion("Here: " + json.dumps(GOOD)))
    server = Server({"/v1/chat/completions": chat})
    plan, _ = client(server, mia_home).structured(ASK, SearchPlan)
    assert plan.queries == ["TAVR 2026"]
    assert [c.get("response_format", {}).get("type") for c in server.chats()] == ["json_schema", "json_object",
                                                                                   None]
    assert "JSON Schema" in server.chats()[-1]["messages"][0]["content"]


def test_the_json_mode_setting_starts_lower(mia_home: Path) -> None:
    server = Server({"/v1/chat/completions": completion(json.dumps(GOOD))})
    client(server, mia_home, json_mode="text").structured(ASK, SearchPlan)
    assert "response_format" not in server.chats()[0]


def schema_reply(json_schema: dict[str, Any]) -> dict[str, Any]:
    rf = {"type": "object", "properties": {"type": {"type": "string"}, "json_schema": json_schema}}
    return {"result": {"input": {"type": "object", "oneOf": [{"properties": {"response_format": rf}}]},
                       "output": {"type": "object", "properties": {"response": {"type": "string"}}}},
            "success": True}


def test_workers_ai_sends_the_shape_the_models_input_schema_declares(mia_home: Path) -> None:
    """A name-based rule would wrap for this unknown model; its schema says bare (cloudflare-docs model JSONs)."""
    base = "https://api.cloudflare.com/client/v4"
    wrapped = {"type": "object", "properties": {"name": {"type": "string"}, "schema": {"type": "object"}}}
    for declared, expected in (({}, "bare"), (wrapped, "wrapped")):
        run = {"result": {"response": GOOD, "usage": {}}, "success": True}
        catalog = {"result": [{"name": "@cf/x/new", "properties": [{"property_id": "context_window",
                                                                    "value": "65536"}]}], "success": True}
        server = Server({"/client/v4/accounts/acct/ai/models/schema": schema_reply(declared),
                         "/client/v4/accounts/acct/ai/models/search": catalog,
                         "/client/v4/accounts/acct/ai/run/@cf/x/new": run})
        llm = client(server, mia_home / expected, provider="workers-ai", base_url=base, model="@cf/x/new")
        llm.structured(ASK, SearchPlan)
        sent = json.loads(server.requests[-1].content)["response_format"]["json_schema"]
        assert ("name" in sent) is (expected == "wrapped")
        assert llm.profile.context_tokens == 65536 and llm.profile.legacy_output
        assert server.requests[0].url.params["model"] == "@cf/x/new"


def test_workers_ai_retries_once_with_the_other_shape_on_a_400_naming_response_format(mia_home: Path) -> None:
    base = "https://api.cloudflare.com/client/v4"

    def run(request: httpx.Request) -> httpx.Response:
        if "name" in json.loads(request.content)["response_format"]["json_schema"]:
            errors = [{"message": "AiError: Bad input: must NOT have additional properties at "
                                  "'/response_format/json_schema'", "code": 5006}]
            return httpx.Response(400, json={"errors": errors, "success": False, "result": {}})
        return httpx.Response(200, json={"result": {"response": GOOD}, "success": True})
    server = Server({"/client/v4/accounts/acct/ai/run/@cf/qwen/qwen3-30b-a3b-fp8": run})
    llm = client(server, mia_home, provider="workers-ai", base_url=base, model="@cf/qwen/qwen3-30b-a3b-fp8")
    plan, _ = llm.structured(ASK, SearchPlan)
    assert plan.question == "TAVR outcomes" and llm.profile.schema_shape == "bare"
    runs = [r for r in server.requests if "/ai/run/" in r.url.path]
    assert len(runs) == 2


@pytest.mark.parametrize("reply", [
    httpx.Response(400, json={"error": {"message": "This model's maximum context length is 2048 tokens.",
                                        "type": "invalid_request_error", "code": "context_length_exceeded"}}),
    httpx.Response(400, json={"error": {"code": 400, "message": "the request exceeds the available context size",
                                        "type": "exceed_context_size_error"}}),
])
def test_context_length_errors_are_recognised_with_the_size_and_the_setting(mia_home: Path,
                                                                            reply: httpx.Response) -> None:
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "me"}]}, "/v1/chat/completions": reply})
    with pytest.raises(ContextLengthExceeded) as caught:
        client(server, mia_home).chat(ASK)
    assert caught.value.limit == 2048
    assert "2,048 tokens" in str(caught.value.hint) and "llm.context_tokens" in str(caught.value.hint)


def test_a_timed_out_generation_is_sent_once_more_and_names_llm_timeout(mia_home: Path) -> None:
    calls: list[bytes] = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request.content)
        raise httpx.ReadTimeout("timed out", request=request)
    server = Server({"/v1/models": {"data": []}, "/v1/chat/completions": slow})
    with pytest.raises(ServiceError) as caught:
        client(server, mia_home).structured(ASK, SearchPlan)
    assert len(calls) == 2 and calls[0] == calls[1]  # retried once, with the identical request
    assert "llm.timeout" in caught.value.message and "llm.timeout" in str(caught.value.hint)
    assert "network" not in str(caught.value.hint)


def test_one_slot_means_one_request_at_a_time(mia_home: Path) -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def chat(request: httpx.Request) -> httpx.Response:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return httpx.Response(200, json=completion("ok"))
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "me"}]}, "/v1/chat/completions": chat})
    llm = client(server, mia_home, base_url="http://127.0.0.1:19/v1")
    threads = [threading.Thread(target=llm.chat, args=(ASK,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1


def test_the_no_think_switch_comes_from_the_chat_template_not_the_models_name(mia_home: Path) -> None:
    """A local Qwen3 served under any name still gets /no_think; a model named 'qwen3-…' without it does not."""
    for template, expected in (("{%- if enable_thinking is defined %}…", True), ("{{ messages }}", False)):
        server = Server({"/v1/models": {"data": [{"id": "qwen3-8b", "owned_by": "llamacpp"}]},
                         "/props": {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1,
                                    "chat_template": template}})
        assert client(server, mia_home / str(expected), model="qwen3-8b").profile.no_think is expected
