"""A small local model's research answers: what 0.1B-0.5B instruct models wrote when tried (issue #19).

Without enforced JSON they answered a plan request with `keyword query: DMD treatments` and, asked to repair,
with `{"researchQuestion": …}`; their extractions left quotes empty and named the wrong source numbers.
`SmallModelLLM` does the same unless the request shows the shape it wants: a `response_format` that
carries a schema, or the expected keys written in the prompt (then it answers like `ResearchLLM`, wrapped
in a chatty sentence). `stubborn=True` never manages the plan; `empty_quotes=True` leaves every quote
empty; ResearchLLM's `quotes="wrong_source"` names the wrong source numbers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fakes.research_llm import ResearchLLM, task_of
from fakes.server import LLMReply


def _text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in body.get("messages") or [])


def shown_the_shape(body: dict[str, Any], key: str) -> bool:
    """Does the request enforce a schema, or at least name the key the answer must have?"""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema" or "schema" in response_format:
        return True
    return f'"{key}"' in _text(body)


class SmallModelLLM(ResearchLLM):
    """ResearchLLM with a small model's habits; `stubborn` never writes a usable plan."""

    def __init__(self, *, stubborn: bool = False, empty_quotes: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.stubborn, self.empty_quotes = stubborn, empty_quotes
        self.prose_answers = 0  # replies that were prose or had the wrong keys

    def __call__(self, body: dict[str, Any], model: str) -> LLMReply:
        task = task_of(body)
        if task.startswith("plan") and (self.stubborn or not shown_the_shape(body, "sub_questions")):
            self.prose_answers += 1
            question = re.sub(r"\s+", " ", _text(body).split("Research question:", 1)[-1]).strip()[:60]
            if task == "plan-repair":
                return LLMReply(text=json.dumps({"researchQuestion": question, "keywords": question.split()}))
            return LLMReply(text=f"keyword query: {question}")
        if task.startswith("extract") and not shown_the_shape(body, "claims"):
            self.prose_answers += 1
            return LLMReply(text="The sources discuss the question in several ways.")
        reply = super().__call__(body, model)
        if reply.data is not None and self.empty_quotes:
            reply.data = {**reply.data, "claims": [{**c, "quote": ""} for c in reply.data.get("claims", [])]}
        if reply.data is not None:  # small models wrap their JSON in a sentence
            return LLMReply(text="Sure! Here is the JSON: " + json.dumps(reply.data), prompt_tokens=reply.prompt_tokens,
                            completion_tokens=reply.completion_tokens)
        return reply
