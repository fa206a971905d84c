"""Answers that cite sources: a link or id that no tool result carries never reaches the stored answer."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.server import LLMReply, ScriptedLLM

from mia.agents.research.audit import REMOVED_MARK
from mia.store import conversations as conv_store
from mia.store.db import Registry

from . import test_interaction as base

settings, registry, make_agent = base.settings, base.registry, base.make_agent  # chat, fake: conftest.py
call = base.call

MARK = REMOVED_MARK.strip()


@pytest.mark.parametrize(("answer", "kept", "gone"), [
    ("See [the paper](https://journal.example/doi/10.5555/xyz).", "the paper", "journal.example"),
    ("Trial NCT09999999 is recruiting.", "Trial", "NCT09999999"),
    ("Read https://doi.org/10.5555/abc.123 now.", "Read", "10.5555"),
    ("A finding [PMID: 38999999].", "A finding", "38999999"),
])
def test_an_answer_loses_links_and_ids_no_source_of_the_conversation_carries(
        make_agent: Any, chat: ScriptedLLM, registry: Registry, answer: str, kept: str, gone: str) -> None:
    chat.push(call("list_agents"), answer)
    agent = make_agent()
    shown: list[str] = []
    result = agent.run_turn("What do we know?", on_text=shown.append)
    assert gone not in result.answer and kept in result.answer and MARK in result.answer
    assert "mia removed 1 link(s) or identifier(s)" in result.answer and "mia removed" in "".join(shown)
    stored = conv_store.messages(registry, agent.conversation_id)[-1]
    assert stored.role == "assistant" and gone not in stored.content


def test_links_the_person_or_a_tool_gave_are_kept_as_written(make_agent: Any, chat: ScriptedLLM) -> None:
    chat.push(LLMReply(text="As you said, https://www.example.org/news?utm_source=x and PMID 123 agree."))
    agent = make_agent()
    result = agent.run_turn("Compare https://example.org/news/ with PubMed 123, https://pubmed.ncbi.nlm.nih.gov/123/")
    assert result.answer == "As you said, https://www.example.org/news?utm_source=x and PMID 123 agree."
