"""The Interaction Agent's tests talk to the loopback fakes with a scripted model (`chat`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.chat_llm import ChatLLM
from fakes.server import FakeServices, ScriptedLLM


@pytest.fixture
def chat() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def fake(chat: ScriptedLLM) -> Iterator[FakeServices]:
    with FakeServices(llm=ChatLLM(chat)) as services:
        yield services
