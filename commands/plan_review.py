"""`mia research --review` and `--plan FILE`: the plan is checked (or given) before anything is searched."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mia.commands.common import err_console

if TYPE_CHECKING:
    from mia.agents.research.service import ResearchRequest
    from mia.models import Usage
    from mia.settings import Settings
    from mia.store.db import Registry

EXIT_CANCELLED = 1


def settle_plan(settings: Settings, registry: Registry, request: ResearchRequest, *, review: bool,
                plan_file: Path | None) -> ResearchRequest:
    """The request with the plan to search: read from `plan_file`, and/or drafted and reviewed by the person.

    Cancelling records what drafting cost and exits 1 with nothing searched and no agent made.
    """
    from mia.agents.research.planning import load_plan_file

    if plan_file is not None:
        request.plan = load_plan_file(plan_file)
    if not review:
        return request
    usages: list[Usage] = []
    if request.plan is None:
        request.plan, usages = _draft(settings, request)
    plan = _review_loop(request.question, request.plan)
    if plan is None:
        _record_unowned(registry, usages)
        cost = sum(u.cost_usd for u in usages)
        err_console().print(f"Cancelled: nothing was searched and no agent was made (planning cost ${cost:.4f}).")
        raise typer.Exit(EXIT_CANCELLED)
    request.plan, request.plan_usage = plan, usages
    return request


def _draft(settings: Settings, request: ResearchRequest) -> tuple[list[dict[str, object]], list[Usage]]:
    import httpx

    from mia.agents.research.planning import draft_plan
    from mia.agents.research.service import _llm_or_none

    err_console().print("Planning…")
    with httpx.Client(timeout=httpx.Timeout(settings.llm.timeout, connect=10.0), follow_redirects=True) as http:
        llm = _llm_or_none(settings, http, request.model)
        return draft_plan(llm, request.question, request.depth, budget_usd=request.budget_usd)


def _review_loop(question: str, plan: list[dict[str, object]]) -> list[dict[str, object]] | None:
    """Show the plan and ask: accept (the plan), edit (in $EDITOR, again until it reads), cancel (None)."""
    from mia.agents.research.planning import plan_from_text, plan_to_text
    from mia.errors import UsageError

    text = plan_to_text(question, plan)
    console = err_console()
    while True:
        console.print(_shown(plan), soft_wrap=True)
        answer = _ask("Search with this plan? [a]ccept, [e]dit, [c]ancel (a): ")
        if answer in ("", "a", "accept", "y", "yes"):
            return plan
        if answer in ("c", "cancel", "n", "no", "q"):
            return None
        if answer not in ("e", "edit"):
            console.print("Answer a, e or c.")
            continue
        text = edit_text(text)
        try:
            plan = plan_from_text(text)
        except UsageError as exc:
            console.print(f"The plan was not changed: {exc.message}\n{exc.hint or ''}".rstrip())


def _ask(prompt: str) -> str:
    """One answer from stdin, the question on stderr (click's prompt writes a space to stdout); EOF cancels."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.strip().lower() if line else "c"


def _shown(plan: list[dict[str, object]]) -> str:
    lines = ["", "Plan:"]
    for n, sq in enumerate(plan, start=1):
        lines.append(f"  {n}. {sq['question']}")
        lines.append(f"     query: {sq['query']}")
        for source, query in (sq.get("queries") or {}).items():  # type: ignore[attr-defined]
            lines.append(f"     {source}: {query}")
    return "\n".join(lines) + "\n"


def edit_text(text: str) -> str:
    """`text` after the person edited it in $VISUAL / $EDITOR (vi when neither is set)."""
    import shlex
    import subprocess
    import tempfile

    from mia.errors import UsageError

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="mia-plan-") as tmp:
        path = Path(tmp) / "plan.md"
        path.write_text(text, encoding="utf-8")
        try:
            result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        except (OSError, ValueError) as exc:
            raise UsageError(f"The editor '{editor}' could not be started ({exc}).",
                             "Set EDITOR to an editor you have, e.g. EDITOR=nano.") from None
        if result.returncode != 0:
            raise UsageError(f"The editor ({editor}) exited with {result.returncode}; nothing was searched.",
                             "Run the command again; save and close the editor normally to use the plan.")
        return path.read_text(encoding="utf-8")


def _record_unowned(registry: Registry, usages: list[Usage]) -> None:
    """Spend on a plan that was cancelled is still spend (recorded without an agent)."""
    from mia.store import runs as run_store

    for usage in usages:
        run_store.record_usage(registry, usage, run_id=None, agent_id=None, step_key="plan-review")
