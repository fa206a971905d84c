"""Writing the report never loses the run: context fitting, shrink-and-retry, truncated and empty answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from mia.agents.llm.client import estimate_tokens
from mia.agents.research.synthesis import Fitted, Written, fit_messages, problem_notice, ranked_claims, write_report
from mia.errors import ContextLengthExceeded
from mia.models import Source

SOURCES = [Source(kind="pubmed", url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=f"Paper {n} " + "x" * 80,
                  identifier=str(n), number=n) for n in range(1, 301)]
CLAIMS = [{"claim": f"Claim {n} " + "finding " * 20, "source": n, "sub_question": n % 5,
           "quote": "word " * 40, "quote_check": "verified" if n % 3 else "reattributed"} for n in range(1, 301)]


def fit(tokens: int, level: int = 0) -> Fitted:
    return fit_messages(question="DMD?", claims=CLAIMS, sources=SOURCES, instruction=None,
                        previous_report="old " * 3000, input_tokens=tokens, level=level)


@pytest.mark.parametrize("tokens", [200_000, 20_000, 6_000, 2_000, 300])
def test_the_synthesis_input_fits_the_context_it_is_given(tokens: int) -> None:
    fitted = fit(tokens)
    assert fitted.claims_kept >= 1 and fitted.claims_total == 300
    if fitted.claims_kept > 1:
        assert estimate_tokens(fitted.messages) <= tokens
    if tokens < 20_000:  # shrunk: only sources that carry a kept claim are listed
        listing = fitted.messages[1]["content"].split("<sources>", 1)[1].split("</sources>", 1)[0]
        assert listing.count("\n[") + 1 <= fitted.claims_kept + 1


def test_strongest_claims_come_first_and_sub_questions_take_turns() -> None:
    ranked = ranked_claims(CLAIMS)
    assert all(c["quote_check"] == "verified" for c in ranked[:100])
    assert len({c["sub_question"] for c in ranked[:5]}) == 5


@dataclass
class Reply:
    text: str
    finish_reason: str | None = "stop"


class Model:
    """A stand-in for the LLM client: max_tokens, and replies or errors in order."""

    max_tokens = 1000

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[int] = []

    def __call__(self, messages: list[dict[str, str]]) -> Any:
        self.sent.append(estimate_tokens(messages))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def write(model: Model, context: int = 32_768) -> Written:
    return write_report(model, build=lambda tokens, level: fit(tokens, level), context=context,  # type: ignore[arg-type]
                        send=model)


def test_a_context_error_shrinks_the_input_and_retries() -> None:
    model = Model(ContextLengthExceeded("too long", limit=8192), Reply("## Summary\nText [1]."))
    written = write(model)
    assert written.text and not written.problem and model.sent[1] < model.sent[0] <= 32_768
    assert model.sent[1] <= 8192 - 1000
    assert "strongest" in (problem_notice(written, claims_total=300) or "")


def test_context_errors_every_time_end_in_a_digest_not_a_failure() -> None:
    written = write(Model(*[ContextLengthExceeded("too long")] * 3))
    assert written.text is None and written.problem == "context"
    assert "llm.context_tokens" in (problem_notice(written, claims_total=300) or "")


@pytest.mark.parametrize(("reply", "problem", "truncated", "words"), [
    (Reply("<think>" + "hmm " * 50), "empty", False, "llm.max_tokens"),
    (Reply("   "), "empty", False, "non-reasoning model"),
    (Reply("## Summary\nGene therapy [1] is", finish_reason="length"), None, True, "cut off"),
])
def test_an_empty_or_cut_answer_is_said_with_the_setting_that_fixes_it(reply: Reply, problem: str | None,
                                                                       truncated: bool, words: str) -> None:
    written = write(Model(reply))
    assert (written.problem, written.truncated) == (problem, truncated)
    assert words in (problem_notice(written, claims_total=0) or "")


def test_a_stored_synthesis_of_an_older_run_still_reads() -> None:
    assert Written.from_json("## Summary").text == "## Summary"
    assert Written.from_json({"text": None, "problem": "context"}).problem == "context"


def test_the_llm_layers_empty_answer_error_becomes_a_digest_not_a_failure() -> None:
    from mia.errors import EmptyAnswer

    written = write(Model(EmptyAnswer("nothing left after <think>", "raise llm.max_tokens")))
    assert written.text is None and written.problem == "empty"
