"""Fit a chat request to the model's context: tool results cut first, then the oldest turns left out."""

from __future__ import annotations

from typing import Any

from mia.agents.llm.client import estimate_tokens

CHARS_PER_TOKEN = 3  # as estimate_tokens counts (medical text tokenises densely)
RESULT_SHARE = 4  # one tool result may fill at most a quarter of the context
MIN_RESULT_CHARS = 600
CUT_NOTE = "\n[… cut to fit the model's context window]\n"
TAIL_CHARS = 40  # the end of a result is kept: it closes its <tool_result> tag


def result_limit(context_tokens: int) -> int:
    """Characters one tool result may take in a context of `context_tokens` tokens."""
    return max(MIN_RESULT_CHARS, context_tokens * CHARS_PER_TOKEN // RESULT_SHARE)


def cut(text: str, limit: int) -> str:
    """`text` at most about `limit` characters: its head, a note, and its last few characters."""
    if len(text) <= limit:
        return text
    return text[:max(0, limit - len(CUT_NOTE) - TAIL_CHARS)] + CUT_NOTE + text[-TAIL_CHARS:]


def fit_messages(messages: list[dict[str, Any]], *, context_tokens: int, completion_tokens: int
                 ) -> list[dict[str, Any]]:
    """The messages cut to fit `context_tokens` minus `completion_tokens` (estimated, with 5% to spare).

    Each tool result is cut to a quarter of the context; then, while the estimate is over, the oldest message
    after the system prompt is left out (with the tool results that answered a call left out with it). The
    system prompt and the last message always stay.
    """
    limit = result_limit(context_tokens)
    out = [{**m, "content": cut(m["content"], limit)} if m.get("role") == "tool" and isinstance(m.get("content"), str)
           else m for m in messages]
    budget = int(context_tokens * 0.95) - completion_tokens
    while len(out) > 2 and estimate_tokens(out) > budget:
        del out[1]
        while len(out) > 2 and out[1].get("role") == "tool":  # its call was left out
            del out[1]
    return out
