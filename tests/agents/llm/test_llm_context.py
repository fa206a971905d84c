"""A prompt over the model's context is ContextLengthExceeded, however the service says it (fake: context_limit)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from fakes.server import FakeServices, ScriptedLLM

from mia.agents.llm.client import LLMClient
from mia.errors import ContextLengthExceeded
from mia.settings import load_settings

LONG = [{"role": "user", "content": "Dystrophin restoration in Duchenne muscular dystrophy. " * 200}]


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    with FakeServices(llm=ScriptedLLM(["Never sent."] * 3), stream_pause=0, context_limit=1000) as services:
        yield services


def client(fake: FakeServices, provider: str) -> LLMClient:
    env = {**os.environ, **fake.env(), "MIA_LLM_PROVIDER": provider, "MIA_LLM_MODEL":
           "@cf/qwen/qwen3-30b-a3b-fp8" if provider == "workers-ai" else "qwen2.5-0.5b-instruct"}
    return LLMClient.from_settings(load_settings(env=env), httpx.Client(timeout=10, trust_env=False))


@pytest.mark.parametrize("provider", ["workers-ai", "openai"])
@pytest.mark.parametrize("streamed", [False, True])
def test_a_prompt_over_the_context_is_a_context_error_streamed_or_not(fake: FakeServices, provider: str,
                                                                      streamed: bool) -> None:
    llm = client(fake, provider)
    with pytest.raises(ContextLengthExceeded) as caught:
        if streamed:  # Workers AI: 413 before the stream; llama-cpp-python: 200, the role chunk, a dropped connection
            llm.stream(LONG, on_text=lambda _: None)
        else:
            llm.chat(LONG)
    assert "context" in caught.value.message.lower() and "llm.context_tokens" in (caught.value.hint or "")
    assert fake.count("workers-ai" if provider == "workers-ai" else "openai", path_contains="chat/completions"
                      if provider == "openai" else "/ai/run/") == 1  # not retried
