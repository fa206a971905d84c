"""A research plan a person can check first: drafted by the model, shown and edited as text, saved and reused.

A plan is a list of sub-questions, each `{"question": ..., "query": ...}` and optionally
`"queries": {source: query}` overriding the query for one source. It is what the run searches, and (as the
agent's plan.json) what its follow-ups search again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mia.agents.llm.client import LLMOutputError
from mia.agents.research import prompts
from mia.agents.research.budget import Budget
from mia.errors import UsageError
from mia.models import Usage
from mia.tools.search import SOURCE_NAMES

if TYPE_CHECKING:
    from mia.agents.llm.client import LLMClient

MAX_SUB_QUESTIONS = 12
MAX_QUERY_CHARS = 300
SOURCE_KEYS = (*SOURCE_NAMES, "file")
HELP = """\
# Edit the plan, then save and close the editor to search with it.
# "## " starts a sub-question; its "query:" line searches every source, and a line such as
# "pubmed: ..." or "trials: ..." replaces that query for one source. Delete a sub-question's lines
# to drop it; add one the same way. Lines starting with "#" (but not "## ") are ignored."""


def query_for(sub_question: Mapping[str, Any], source: str) -> str:
    """The query a sub-question sends to `source`: its own for that source, else the shared one."""
    own = (sub_question.get("queries") or {}).get(source)
    return str(own or sub_question["query"])


def draft_plan(llm: LLMClient | None, question: str, depth: str, *, budget_usd: float
               ) -> tuple[list[dict[str, Any]], list[Usage]]:
    """The model's plan for `question` (sub-question count by depth) and the usage of every reply it took.

    Without an LLM the plan is the question as typed. The call is checked against `budget_usd` first
    (BudgetExceeded). When the model gives no valid plan, the plan is the question as typed and the usage
    of its replies is still returned (they were paid for).
    """
    typed = [{"question": question, "query": question[:MAX_QUERY_CHARS]}]
    if llm is None:
        return typed, []
    n = prompts.DEPTHS[depth]["sub_questions"]
    messages = prompts.plan_messages(question, n)
    max_tokens = llm.completion_tokens()
    with Budget(budget_usd).hold(2 * llm.estimate_cost(messages, max_tokens), what="planning"):
        try:
            result, responses = llm.structured(messages, prompts.ResearchPlan, max_tokens=max_tokens)
        except LLMOutputError as exc:
            return typed, [r.usage for r in exc.responses]
    plan = [sq.model_dump() for sq in result.sub_questions[: max(n, 1)]]
    return plan, [r.usage for r in responses]


def plan_to_text(question: str, plan: list[dict[str, Any]]) -> str:
    """The plan in the editable text form (what the person reviews, and what `--plan FILE` reads)."""
    lines = [f"# Research plan for: {question}", HELP, ""]
    for sq in plan:
        lines.append(f"## {sq['question']}")
        lines.append(f"query: {sq['query']}")
        for source, query in (sq.get("queries") or {}).items():
            lines.append(f"{source}: {query}")
        lines.append("")
    return "\n".join(lines)


_FIELD = re.compile(r"^([a-z]+)\s*:\s*(.*)$")


def plan_from_text(text: str) -> list[dict[str, Any]]:
    """The plan written in `text` (the form plan_to_text makes); a UsageError names the line that is wrong."""
    plan: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or (line.startswith("#") and not line.startswith("## ")):
            continue
        if line.startswith("## "):
            plan.append({"question": line[3:].strip(), "query": "", "queries": {}})
            continue
        match = _FIELD.match(line)
        if not plan or not match:
            raise UsageError(f"Plan line {number} is not understood: {line[:80]!r}.",
                             'Start each sub-question with "## ", then a "query: ..." line.')
        key, value = match.group(1), match.group(2).strip()
        if key == "query":
            plan[-1]["query"] = value
        elif key in SOURCE_KEYS:
            plan[-1]["queries"][key] = value
        else:
            raise UsageError(f"Plan line {number}: '{key}' is neither 'query' nor a source.",
                             f"Sources: {', '.join(SOURCE_KEYS)}.")
    return check_plan(plan)


def check_plan(plan: Any) -> list[dict[str, Any]]:
    """A clean copy of `plan`, or a UsageError saying what is missing or too long."""
    if not isinstance(plan, list) or not plan:
        raise UsageError("The plan has no sub-questions.", 'Keep at least one "## sub-question" with a query.')
    if len(plan) > MAX_SUB_QUESTIONS:
        raise UsageError(f"The plan has {len(plan)} sub-questions; at most {MAX_SUB_QUESTIONS} are searched.",
                         "Merge or drop some.")
    clean = []
    for n, sq in enumerate(plan, start=1):
        if not isinstance(sq, dict) or not str(sq.get("question", "")).strip():
            raise UsageError(f"Sub-question {n} has no question.", 'Write it after "## ".')
        queries = {k: str(v).strip() for k, v in (sq.get("queries") or {}).items() if str(v).strip()}
        query = str(sq.get("query", "")).strip() or next(iter(queries.values()), "")
        if not query:
            raise UsageError(f"Sub-question {n} ('{str(sq['question'])[:60]}') has no query.",
                             'Add a line "query: keywords to search for".')
        too_long = [q for q in (query, *queries.values()) if len(q) > MAX_QUERY_CHARS]
        if too_long:
            raise UsageError(f"A query of sub-question {n} is {len(too_long[0])} characters long; "
                             f"at most {MAX_QUERY_CHARS} are sent.", "Use a few keywords.")
        unknown = [k for k in queries if k not in SOURCE_KEYS]
        if unknown:
            raise UsageError(f"Sub-question {n} names an unknown source '{unknown[0]}'.",
                             f"Sources: {', '.join(SOURCE_KEYS)}.")
        item: dict[str, Any] = {"question": str(sq["question"]).strip(), "query": query}
        if queries:
            item["queries"] = queries
        clean.append(item)
    return clean


def load_plan_file(path: Path) -> list[dict[str, Any]]:
    """A saved plan: an agent's plan.json (a JSON list) or the text form; UsageError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"The plan file '{path}' cannot be read ({exc.strerror or exc}).",
                         "Give the path of a plan saved from --review, or an agent's plan.json.") from None
    if text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"The plan file '{path}' is not valid JSON ({exc}).",
                             "Fix it, or use the text form that --review shows.") from None
        return check_plan(data.get("sub_questions") if isinstance(data, dict) else data)
    return plan_from_text(text)
