"""Writing the report without losing the run: fit the evidence to the model's context, shrink on a context
error, and say plainly when the answer is cut off or empty.

The synthesis prompt is fitted before it is sent (`fit_messages`): claims whose quote was verified in the
source they name come first, the sub-questions take turns so none is crowded out, quotes are shortened,
and only sources that carry a claim are listed. On `ContextLengthExceeded` the input is shrunk (to the
limit the service named, else by half) and sent again, up to `CONTEXT_ATTEMPTS` times; after that the run
writes the source digest instead of failing, and that outcome is stored, so `mia agents resume` does not
hit the same wall again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mia.agents.llm.client import LLMClient, LLMOutputError, estimate_tokens
from mia.agents.research import prompts
from mia.errors import ContextLengthExceeded, UnusableAnswer
from mia.models import Source

DEFAULT_CONTEXT_TOKENS = 32_768  # when neither the model profile nor llm.context_tokens says
CONTEXT_ATTEMPTS = 3
QUOTE_WORDS = (30, 15, 0)  # quote length at each shrinking level (0: no quotes)
MAX_TOKENS_HINT = ("Raise it with `mia config set llm.max_tokens 4096` (the model's context permitting), "
                   "or choose a non-reasoning model with `mia config set llm.model MODEL`.")


def context_tokens(settings: Any, llm: LLMClient | None) -> int:
    """The configured model's context window in tokens: the model profile's (when the LLM layer knows it),
    else `llm.context_tokens`, else `DEFAULT_CONTEXT_TOKENS`."""
    known = getattr(llm, "context_tokens", None)
    if isinstance(known, int) and known > 0:
        return known
    configured = getattr(getattr(settings, "llm", None), "context_tokens", 0)
    return configured if isinstance(configured, int) and configured > 0 else DEFAULT_CONTEXT_TOKENS


def ranked_claims(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Strongest first: quotes verified in the named source before re-attributed ones; sub-questions take
    turns so each keeps its best claims when the list is cut."""
    by_subq: dict[Any, list[dict[str, Any]]] = {}
    for claim in sorted(claims, key=lambda c: c.get("quote_check") != "verified"):
        by_subq.setdefault(claim.get("sub_question"), []).append(claim)
    queues = list(by_subq.values())
    ranked: list[dict[str, Any]] = []
    while any(queues):
        for queue in queues:
            if queue:
                ranked.append(queue.pop(0))
    return ranked


def _short(claim: dict[str, Any], words: int) -> dict[str, Any]:
    quote = str(claim.get("quote") or "").split()
    if not words:
        return {**claim, "quote": ""}
    return {**claim, "quote": " ".join(quote[:words]) + (" …" if len(quote) > words else "")}


@dataclass
class Fitted:
    """The synthesis messages that fit, and what was left out to make them fit."""

    messages: list[dict[str, str]]
    claims_kept: int
    claims_total: int


def fit_messages(*, question: str, claims: list[dict[str, Any]], sources: list[Source], instruction: str | None,
                 previous_report: str | None, input_tokens: int, level: int = 0) -> Fitted:
    """Synthesis messages within `input_tokens` (estimated). Shrinking goes, from `level` on: quotes of 30
    words with every source listed; 15 words, only sources that carry a claim, no previous report; no quotes,
    then fewer claims (the weakest go first) down to one."""
    ranked = ranked_claims(claims)

    def build(keep: int, step: int) -> list[dict[str, str]]:
        chosen = [_short(c, QUOTE_WORDS[step]) for c in ranked[:keep]]
        cited = {c.get("source") for c in chosen}
        listed = sources if step == 0 else [s for s in sources if s.number in cited]
        return prompts.synth_messages(question, chosen, listed, instruction, previous_report if step == 0 else None)

    last = len(QUOTE_WORDS) - 1
    for step in range(min(level, last), last):
        messages = build(len(ranked), step)
        if estimate_tokens(messages) <= input_tokens:
            return Fitted(messages, len(ranked), len(ranked))
    keep = len(ranked)
    while True:
        messages = build(keep, last)
        if keep <= 1 or estimate_tokens(messages) <= input_tokens:
            return Fitted(messages, keep, len(ranked))
        keep = keep * 3 // 4 if keep > 4 else keep - 1


@dataclass
class Written:
    """What the synthesis step produced (stored as the step's output)."""

    text: str | None
    truncated: bool = False
    problem: str | None = None  # why there is no text: context | empty
    claims_used: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "truncated": self.truncated, "problem": self.problem,
                "claims_used": self.claims_used}

    @classmethod
    def from_json(cls, stored: Any) -> Written:
        if stored is None or isinstance(stored, str):  # runs stored before this shape
            return cls(text=stored)
        return cls(**{k: stored.get(k) for k in ("text", "truncated", "problem", "claims_used")})


def write_report(llm: LLMClient, *, build: Callable[[int, int], Fitted], context: int,
                 send: Callable[[list[dict[str, str]]], Any]) -> Written:
    """Send the fitted synthesis; shrink and resend on a context error; never raise for a context error or an
    answer that is empty once reasoning is removed (those become `problem`).

    After a context error the next input is at most the limit the service named (when it is below what was
    assumed), else half of what was just sent.
    """
    completion = llm.completion_tokens() if hasattr(llm, "completion_tokens") else llm.max_tokens
    budget = max(512, context - completion - 256)
    fitted: Fitted | None = None
    for attempt in range(CONTEXT_ATTEMPTS):
        fitted = build(budget, attempt)
        try:
            response = send(fitted.messages)
        except ContextLengthExceeded as exc:
            sent = estimate_tokens(fitted.messages)
            named = exc.limit - completion - 256 if exc.limit and exc.limit < context else None
            budget = max(256, min(budget, named if named and named < sent else sent // 2))
            continue
        except (UnusableAnswer, LLMOutputError):  # EmptyAnswer: nothing left once reasoning was removed
            return Written(text=None, problem="empty", claims_used=fitted.claims_kept)
        text = str(getattr(response, "text", "") or "")
        if not prompts_visible(text):
            return Written(text=None, problem="empty", claims_used=fitted.claims_kept)
        cut = getattr(response, "truncated", None)
        truncated = bool(cut) if isinstance(cut, bool) else getattr(response, "finish_reason", None) == "length"
        return Written(text=text, truncated=truncated, claims_used=fitted.claims_kept)
    return Written(text=None, problem="context", claims_used=fitted.claims_kept if fitted else 0)


def prompts_visible(text: str) -> bool:
    """Whether any answer is left once reasoning (<think> blocks, even unclosed) is taken out."""
    from mia.agents.research.report import clean_body

    return bool(clean_body(text).strip())


def problem_notice(written: Written, *, claims_total: int) -> str | None:
    """The notice a reader needs about how the report was written (None when nothing is amiss)."""
    if written.problem == "context":
        return ("The evidence did not fit the model's context window even after shrinking it, so this is a "
                "digest of the sources. Set the context size with `mia config set llm.context_tokens N`, "
                "research with fewer sources (--depth quick), or choose a model with a larger context.")
    if written.problem == "empty":
        return ("The model gave no answer once its reasoning was removed (it may have spent max_tokens "
                f"thinking), so this is a digest of the sources. {MAX_TOKENS_HINT}")
    if written.truncated:
        return ("The report was cut off: the model reached llm.max_tokens before finishing, and the end is "
                f"missing. {MAX_TOKENS_HINT}")
    if claims_total and written.claims_used < claims_total:
        return (f"To fit the model's context, the report was written from the {written.claims_used} strongest of "
                f"{claims_total} claims (set `llm.context_tokens` if the model's window is larger).")
    return None
