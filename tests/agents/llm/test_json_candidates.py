"""Structured output from chatty models: every fenced block and top-level JSON value is tried in turn."""

from __future__ import annotations

import json

import pytest
from fakes.scripted_http import Script

from mia.agents.llm.shapes import extract_json

from .test_llm_structured import ASK, GOOD, SearchPlan, legacy, make_client

REAL = json.dumps(GOOD)
QUOTED = {"question": "what does ``` mean", "queries": ["a ```json fence``` inside a quote"]}


@pytest.mark.parametrize(("reply", "expected"), [
    (f"Example:\n```json\n{{\"example\": true}}\n```\nThe answer:\n```json\n{REAL}\n```", GOOD),
    (f"Sure {{happy to help}}! Here it is: {REAL} Anything else?", GOOD),
    (f"Here:\n```json\n{json.dumps(QUOTED)}\n```", QUOTED),
    (f"[1, 2] first a list, then {{\"question\": 3}}, then the plan {REAL}", GOOD),
    (f"<think>{{\"draft\": 1}}</think>{REAL}", GOOD),
])
def test_the_first_candidate_that_validates_is_taken(reply: str, expected: dict[str, object]) -> None:
    plan, responses = make_client(Script(legacy(reply))).structured(ASK, SearchPlan)
    assert plan == SearchPlan.model_validate(expected) and len(responses) == 1  # no repair was needed


def test_without_a_validator_the_first_json_value_is_returned_and_none_is_an_error() -> None:
    assert extract_json('Text {"a": 1} and {"b": 2}') == {"a": 1}
    with pytest.raises(ValueError, match="not valid JSON"):
        extract_json("keyword query: DMD treatments")


def test_an_example_block_with_none_of_the_schemas_fields_is_not_the_answer() -> None:
    from pydantic import BaseModel, Field

    class Claims(BaseModel):
        claims: list[str] = Field(default_factory=list)

    reply = 'Format:\n```json\n{"example": true}\n```\nAnswer:\n```json\n{"claims": ["a"]}\n```'
    result, _ = make_client(Script(legacy(reply))).structured(ASK, Claims)
    assert result.claims == ["a"]
