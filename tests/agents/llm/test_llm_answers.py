"""Answers are never silently incomplete: cut answers are continued, empty ones retried, bad streams named."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mia.agents.llm.answer import CONTINUE_PROMPT, DIRECT_NOTE
from mia.agents.llm.client import LLMClient
from mia.errors import ContextLengthExceeded, EmptyAnswer, IncompleteStream, ServiceError, UnusableAnswer
from mia.tools.http import RateLimiter, RetryPolicy

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
SYSTEM = ("[mia:synthesize] You write a cited research report from the evidence below. Cite every claim with "
          "the number of its source in square brackets. Never invent a source, a number or a quote. Write in "
          "Markdown with short sections and keep to what the sources say.")
ASK = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "TAVR versus surgery?"}]


class Body(httpx.SyncByteStream):
    """A response body from an iterator of chunks (a float is a pause, in seconds)."""

    def __init__(self, parts: Iterator[bytes | float] | list[bytes | float]) -> None:
        self.parts = parts

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, float):
                time.sleep(part)
            else:
                yield part


class Service:
    """Answers each request with the next scripted answer; keeps the bodies it was sent."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return self.answers.pop(0)


def make_client(service: Service, *, model: str = LLAMA, provider: str = "workers-ai", max_tokens: int = 100,
                timeout: float | None = None) -> LLMClient:
    base = "https://api.cloudflare.com/client/v4" if provider == "workers-ai" else "http://127.0.0.1:8080/v1"
    return LLMClient(http=httpx.Client(transport=httpx.MockTransport(service)), provider=provider, model=model,
                     base_url=base, api_key="t", account_id="a", max_tokens=max_tokens, temperature=0.2,
                     usd_per_1k_neurons=0.011, limiter=RateLimiter(0), retry=RetryPolicy(base_delay=0, max_delay=0),
                     timeout=timeout)


def legacy(text: str, completion_tokens: int = 20) -> httpx.Response:
    return httpx.Response(200, json={"result": {"response": text, "usage": {
        "prompt_tokens": 50, "completion_tokens": completion_tokens}}, "success": True, "errors": []})


def chunk(content: str = "", finish: str | None = None) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content},
                                                            "finish_reason": finish}]}


def sse(*frames: Any) -> bytes:
    return "".join(f"data: {f if isinstance(f, str) else json.dumps(f)}\n\n" for f in frames).encode()


def stream(*parts: bytes | float) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Body(list(parts)))


USAGE = {"response": "", "usage": {"prompt_tokens": 50, "completion_tokens": 100}}


def test_an_answer_cut_at_max_tokens_is_continued_and_the_parts_join() -> None:
    service = Service(stream(sse(chunk("The trials show that TAVR"), chunk(finish="length"), USAGE, "[DONE]")),
                      stream(sse(chunk("is non-inferior [1]."), chunk(finish="stop"), USAGE, "[DONE]")))
    pieces: list[str] = []
    reply = make_client(service, model=QWEN).stream(ASK, on_text=pieces.append)
    assert reply.text == "The trials show that TAVR is non-inferior [1]." == "".join(pieces)
    assert reply.truncated is False and reply.continuations == 1
    assert reply.usage.output_tokens == 200 and reply.usage.requests == 2
    follow = service.bodies[1]["messages"]
    assert follow[-2] == {"role": "assistant", "content": "The trials show that TAVR"}
    assert follow[-1] == {"role": "user", "content": CONTINUE_PROMPT}


def test_an_answer_still_cut_after_the_continuations_is_flagged_truncated() -> None:
    cut = [legacy(f"Part {n} ends mid", completion_tokens=100) for n in range(3)]
    reply = make_client(Service(*cut)).chat(ASK)  # legacy shape: output tokens == max_tokens means cut off
    assert reply.truncated is True and reply.continuations == 2
    assert reply.text == "Part 0 ends mid Part 1 ends mid Part 2 ends mid"


def test_an_answer_that_ends_normally_is_neither_continued_nor_flagged() -> None:
    service = Service(legacy("Complete.", completion_tokens=99))
    reply = make_client(service).chat(ASK)
    assert (reply.text, reply.truncated, len(service.bodies)) == ("Complete.", False, 1)


def test_reasoning_that_used_the_whole_budget_is_asked_again_to_answer_directly() -> None:
    service = Service(stream(sse(chunk("<think>Let me weigh every trial"), chunk(finish="length"), "[DONE]")),
                      stream(sse(chunk("TAVR is non-inferior [1]."), chunk(finish="stop"), "[DONE]")))
    reply = make_client(service, model=QWEN).stream(ASK, on_text=lambda _: None)
    assert reply.text == "TAVR is non-inferior [1]."
    retry = service.bodies[1]["messages"]
    assert DIRECT_NOTE in retry[0]["content"] and retry[-1]["content"].endswith("/no_think")


def test_an_answer_empty_twice_is_an_error_that_names_the_settings_and_keeps_the_cost() -> None:
    thinking = legacy("<think>still weighing the trials", completion_tokens=100)
    with pytest.raises(EmptyAnswer) as caught:
        make_client(Service(thinking, legacy("<think>again", completion_tokens=100))).chat(ASK)
    assert "whole budget" in caught.value.message and "llm.max_tokens" in (caught.value.hint or "")
    assert "llm.model" in (caught.value.hint or "") and caught.value.usage.output_tokens == 200


def test_a_reply_that_repeats_the_system_prompt_until_max_tokens_is_a_failed_turn() -> None:
    echo = " ".join([SYSTEM] * 3)
    service = Service(legacy(echo, completion_tokens=100))
    with pytest.raises(UnusableAnswer, match="repeated its instructions"):
        make_client(service).chat(ASK)
    assert len(service.bodies) == 1  # not continued


def test_done_without_text_or_finish_reason_says_the_stream_was_interrupted() -> None:
    role = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant"},
                                                            "finish_reason": None}]}
    service = Service(stream(sse(role, "[DONE]")))
    with pytest.raises(IncompleteStream, match="interrupted") as caught:
        make_client(service, provider="openai", model="qwen2.5-0.5b").stream(ASK, on_text=lambda _: None)
    assert "one request" in (caught.value.hint or "") and caught.value.retryable


def test_a_connection_closed_before_any_text_is_taken_for_a_context_overflow() -> None:
    role = {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    service = Service(stream(sse(role)))
    with pytest.raises(ContextLengthExceeded, match="context window"):
        make_client(service, provider="openai", model="qwen2.5-0.5b").stream(ASK, on_text=lambda _: None)


def test_a_stream_that_breaks_off_mid_answer_is_an_error_not_a_short_answer() -> None:
    service = Service(stream(sse(chunk("TAVR was"))))
    with pytest.raises(IncompleteStream, match="broke off after 8 characters") as caught:
        make_client(service, model=QWEN).stream(ASK, on_text=lambda _: None)
    assert caught.value.usage is not None and caught.value.usage.output_tokens >= 1


def keepalives(seconds: float) -> list[bytes | float]:
    return [part for _ in range(int(seconds / 0.05)) for part in (b": keep-alive\n\n", 0.05)]


def test_a_stream_of_keepalives_only_times_out_within_the_bound_and_is_asked_once_more() -> None:
    service = Service(stream(*keepalives(3)), stream(*keepalives(3)))
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        make_client(service, model=QWEN, timeout=0.3).stream(ASK, on_text=lambda _: None)
    assert time.monotonic() - started < 2.5 and len(service.bodies) == 2
    assert "no content for 0.3 s" in caught.value.message and "llm.timeout" in (caught.value.hint or "")


def test_a_stream_that_stops_sending_content_after_some_text_is_not_asked_again() -> None:
    service = Service(stream(sse(chunk("TAVR ")), *keepalives(3)))
    shown: list[str] = []
    with pytest.raises(ServiceError, match="no content"):
        make_client(service, model=QWEN, timeout=0.3).stream(ASK, on_text=shown.append)
    assert shown == ["TAVR "] and len(service.bodies) == 1


def test_a_stream_without_usage_is_counted_from_an_estimate_and_marked() -> None:
    service = Service(stream(sse(chunk("TAVR is non-inferior to surgery [1]."), chunk(finish="stop"), "[DONE]")))
    reply = make_client(service, model=QWEN).stream(ASK, on_text=lambda _: None)
    assert reply.usage.estimated is True
    assert reply.usage.input_tokens > 50 and reply.usage.output_tokens == 9 and reply.usage.cost_usd > 0


def test_quoting_the_instructions_in_a_finished_answer_is_still_an_answer() -> None:
    reply = make_client(Service(legacy(f"My instructions say: {SYSTEM}", completion_tokens=60))).chat(ASK)
    assert reply.text.startswith("My instructions say:")


def test_a_legacy_answer_cut_at_the_max_tokens_fitted_to_the_context_is_continued() -> None:
    from mia.agents.llm.profile import static_profile

    sent = static_profile("workers-ai", "https://api.cloudflare.com/client/v4", LLAMA).completion_tokens(10**6)
    service = Service(legacy("Cut at the fitted limit", completion_tokens=sent), legacy("and done.", 20))
    reply = make_client(service, max_tokens=10**6).chat(ASK)
    assert service.bodies[0]["max_tokens"] == sent < 10**6
    assert reply.text == "Cut at the fitted limit and done." and reply.continuations == 1


@pytest.mark.parametrize(("second", "text", "truncated"), [
    # It started the answer again, then went on past where it stopped: only the new part is kept.
    ("The randomised trials of transcatheter aortic valves show that TAVR is non-inferior [1].",
     "The randomised trials of transcatheter aortic valves show that TAVR is non-inferior [1].", False),
    # It started again and wrote something else: nothing of it is appended, and the answer is still cut.
    ("The randomised trials of transcatheter aortic valves were small; more work is needed.",
     "The randomised trials of transcatheter aortic valves show that TAVR", True),
])
def test_a_continuation_that_restarts_the_answer_is_not_appended_twice(second: str, text: str,
                                                                       truncated: bool) -> None:
    first = "The randomised trials of transcatheter aortic valves show that TAVR"
    service = Service(stream(sse(chunk(first), chunk(finish="length"), USAGE, "[DONE]")),
                      stream(sse(chunk(second[:30]), chunk(second[30:]), chunk(finish="stop"), USAGE, "[DONE]")))
    pieces: list[str] = []
    reply = make_client(service, model=QWEN).stream(ASK, on_text=pieces.append)
    assert reply.text == text == "".join(pieces)  # what was shown live is what was kept
    assert reply.truncated is truncated and reply.continuations == 1
