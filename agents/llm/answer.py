"""Finishing an answer: continue one cut off by max_tokens, retry one left empty by its reasoning, refuse an echo.

`finish_answer` wraps one request function (streamed or not) and returns a single LLMResponse whose usage
covers every request it made. Raises EmptyAnswer or UnusableAnswer (mia.errors), carrying that usage.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from typing import Any

from mia.agents.llm.shapes import LLMResponse
from mia.errors import EmptyAnswer, UnusableAnswer
from mia.models import Usage

CONTINUATIONS = 2  # continuation requests appended to an answer cut off by max_tokens, at most
CONTINUE_PROMPT = ("Your answer above was cut off by the length limit. Continue it exactly where it stopped: do not "
                   "repeat anything, add no preamble, and do not think aloud.")
DIRECT_NOTE = "Answer directly, without reasoning first and without a <think> block."
ECHO_WINDOW, ECHO_HITS = 60, 3  # a reply holding 3 stretches of 60 characters of the system prompt echoes it
CHARS_PER_TOKEN = 4  # for estimates of what a model wrote when the service does not say
RESTART_MIN = 40  # a continuation opening with this many characters of the answer's own opening restarted it

# ask(messages, on_text, with_tools) -> one reply; on_text gets its visible pieces.
Ask = Callable[[list[dict[str, Any]], Callable[[str], None], bool], LLMResponse]


def is_cut(reply: LLMResponse, max_tokens: int) -> bool:
    """Whether the reply stopped at max_tokens: finish_reason "length", or (legacy) output tokens == max_tokens."""
    if reply.tool_calls:
        return False
    if reply.finish_reason == "length":
        return True
    reported = reply.usage.output_tokens
    return reply.finish_reason is None and not reply.usage.estimated and max_tokens > 0 and reported == max_tokens


def finish_answer(ask: Ask, messages: list[dict[str, Any]], first: LLMResponse, *, max_tokens: int, no_think: bool,
                  on_text: Callable[[str], None]) -> LLMResponse:
    """The whole answer: an empty one asked once more with reasoning discouraged, a cut one continued.

    Raises EmptyAnswer when the retry is empty too, UnusableAnswer when the reply repeats the system prompt
    until it is cut off.
    The result is `truncated` when it was still cut off after CONTINUATIONS continuation requests.
    """
    reply = first
    usages = [first.usage]
    if not reply.text.strip() and not reply.tool_calls:
        reply = ask(without_reasoning(messages, no_think), on_text, True)
        usages.append(reply.usage)
        if not reply.text.strip() and not reply.tool_calls:
            raise _empty(first, max_tokens, merge_usage(usages))
    if is_cut(reply, max_tokens) and echoes_prompt(reply.text, messages):  # quoting them once may be an answer
        raise UnusableAnswer(
            "The model repeated its instructions instead of answering until it hit max_tokens.",
            "Try again; if it keeps happening, the model is too small for this task or its chat template is "
            "wrong: choose another with `mia config set llm.model MODEL`.",
            service=reply.usage.service, usage=merge_usage(usages))
    text, last, added = reply.text, reply, 0
    while is_cut(last, max_tokens) and added < CONTINUATIONS:
        joiner = _Joiner(text, on_text)
        follow = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": CONTINUE_PROMPT}]
        last = ask(follow, joiner.emit, False)
        usages.append(last.usage)
        added += 1
        kind, rest = continuation_kind(text, last.text)
        if kind == "restarted":  # it began the answer again and went elsewhere: not a continuation of this one
            break
        if not rest.strip():
            continue
        text = text + (joiner.separator(rest) if kind == "new" else "") + rest
    if len(usages) == 1:
        return reply
    still_cut = is_cut(last, max_tokens) or (added > 0 and continuation_kind(text, last.text)[0] == "restarted")
    return reply.model_copy(update={"text": text, "usage": merge_usage(usages), "continuations": added,
                                    "finish_reason": last.finish_reason if added else reply.finish_reason,
                                    "truncated": still_cut})


def continuation_kind(before: str, after: str) -> tuple[str, str]:
    """How a continuation relates to the answer so far, and the part of it to append.

    Models asked to continue often start the answer again from its beginning. ("new", after): it goes on
    from where the answer stopped. ("extends", the part past the old end): it repeated the whole answer,
    then went on. ("restarted", ""): it repeated the answer's opening (RESTART_MIN characters or more) and then
    wrote something else, or only repeated it; nothing of it can be appended.
    """
    stripped = after.lstrip()
    common = len(os.path.commonprefix([before, stripped]))
    if common == len(before) and before:
        return "extends", stripped[common:]
    if common >= RESTART_MIN or (stripped and common == len(stripped)):
        return "restarted", ""
    return "new", after


def without_reasoning(messages: list[dict[str, Any]], no_think: bool) -> list[dict[str, Any]]:
    """The messages with reasoning discouraged: a note in the system prompt, and Qwen3's `/no_think` switch.

    Qwen3 documents `/no_think` in a user or system message as turning thinking off for that turn; a model
    whose profile says it honours it (`no_think`) gets it, other models get only the note.
    """
    out = list(messages)
    if out and out[0].get("role") == "system":
        out[0] = {**out[0], "content": f"{out[0].get('content') or ''}\n\n{DIRECT_NOTE}"}
    else:
        out.insert(0, {"role": "system", "content": DIRECT_NOTE})
    if no_think:
        last = max((i for i, m in enumerate(out) if m.get("role") == "user"), default=None)
        if last is not None and isinstance(out[last].get("content"), str):
            out[last] = {**out[last], "content": f"{out[last]['content']} /no_think"}
    return out


def echoes_prompt(text: str, messages: list[dict[str, Any]]) -> bool:
    """Whether the reply repeats stretches of the system prompt (a small model looping on its instructions)."""
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    if not isinstance(system, str) or len(text) < ECHO_WINDOW * ECHO_HITS:
        return False
    flat_system, flat_text = _flat(system), _flat(text)
    windows = {flat_system[i:i + ECHO_WINDOW] for i in range(0, len(flat_system) - ECHO_WINDOW + 1, ECHO_WINDOW)}
    return sum(1 for window in windows if window in flat_text) >= ECHO_HITS


def merge_usage(usages: list[Usage]) -> Usage:
    """One Usage for several requests: tokens, neurons, dollars, latency and requests added up."""
    first = usages[0]
    return first.model_copy(update={
        "input_tokens": sum(u.input_tokens for u in usages), "output_tokens": sum(u.output_tokens for u in usages),
        "neurons": sum(u.neurons for u in usages), "cost_usd": sum(u.cost_usd for u in usages),
        "latency_ms": sum(u.latency_ms for u in usages), "requests": sum(u.requests for u in usages),
        "estimated": any(u.estimated for u in usages)})


def output_tokens_estimate(*texts: str) -> int:
    """Tokens a model wrote, guessed from its text (~4 characters a token), at least 1."""
    return max(1, math.ceil(sum(len(t) for t in texts) / CHARS_PER_TOKEN))


class _Joiner:
    """Shows a continuation live after the text before it: pieces that repeat the answer's opening are held
    back until it is clear whether the model restarted (`continuation_kind`); the service strips the
    continuation's leading space, so the first new piece gets a separator."""

    def __init__(self, before: str, on_text: Callable[[str], None]) -> None:
        self.before, self.on_text, self.started, self.sep = before, on_text, False, ""
        self.held, self.decided, self.muted = "", False, False

    def separator(self, after: str) -> str:
        if not self.before or not after or self.before[-1].isspace() or after[0].isspace():
            return ""
        if re.match(r"(#{1,6} |[-*+] |\d+[.)] |\||>)", after):
            return "\n"
        return "" if re.match(r"[.,;:!?)\]}»”’]", after) or self.before[-1] in "-/(\u2014" else " "

    def emit(self, piece: str) -> None:
        if not self.decided:
            self.held += piece
            stripped = self.held.lstrip()
            if not stripped or (self.before.startswith(stripped) and len(stripped) < len(self.before)):
                return  # still repeating the opening: wait and see
            self.decided = True
            kind, piece = continuation_kind(self.before, self.held)
            self.muted = kind == "restarted"
            if kind == "extends":
                self.started = True
        if self.muted or not piece:
            return
        if not self.started:
            self.started, self.sep = True, self.separator(piece)
            piece = self.sep + piece
        self.on_text(piece)


def _empty(first: LLMResponse, max_tokens: int, usage: Usage) -> EmptyAnswer:
    if is_cut(first, max_tokens):
        message = (f"The model spent its whole budget (max_tokens {max_tokens}) reasoning and left no answer, "
                   "even when asked to answer directly.")
    else:
        message = "The model gave an empty answer twice (nothing was left once its reasoning was removed)."
    return EmptyAnswer(message, "Raise the budget with `mia config set llm.max_tokens 4096`, or choose a model "
                                "that does not reason first with `mia config set llm.model MODEL`.",
                       service=usage.service, usage=usage)


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()
