"""`mia research QUESTION`: spawn a research agent and print its cited report."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mia.commands import filter_options as fo
from mia.commands.common import open_state, print_json
from mia.errors import MiaError

if TYPE_CHECKING:
    from mia.agents.research.service import ResearchResult

EXIT_CUT_SHORT = 3


def _failure_as_json(command: Callable[..., None]) -> Callable[..., None]:
    """With --json, a failed command also prints {status: "failed", error, hint} on stdout for scripts
    (the message still goes to stderr and the exit code is unchanged)."""
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except MiaError as exc:
            if kwargs.get("json_out"):
                print_json({"status": "failed", "error": exc.message, "hint": exc.hint})
            raise
    return run


@_failure_as_json
def research(
    question: Annotated[str, typer.Argument(
        help='What to research, e.g. "DMD treatments"; - reads it from standard input.')],
    name: Annotated[str | None, typer.Option("--name", help="The agent's name (slug); derived if omitted.")] = None,
    sources: Annotated[str | None, typer.Option(
        "--sources", help="Comma-separated: web,pubmed,europepmc,trials. Default: the research.sources "
             "setting (initially all four; web needs a Perplexity key).")] = None,
    depth: Annotated[str | None, typer.Option(
        "--depth", help="quick, standard or deep. Default: the research.depth setting (initially standard).")] = None,
    budget: Annotated[float | None, typer.Option(
        "--budget",
        help="Spending cap in US dollars. Default: the research.budget_usd setting (initially 0.50).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="LLM model id (default: llm.model).")] = None,
    files: Annotated[list[str] | None, typer.Option(
        "--files", help="Your own PDF, DOCX, Markdown or text file, folder or quoted glob ('papers/*.pdf'); "
                        "repeat for more. Searched as the source 'file', cited with the page.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress; print only the report.")] = False,
    since: fo.Since = None,
    until: fo.Until = None,
    article_types: fo.ArticleTypes = None,
    trial_status: fo.TrialStatus = None,
    trial_phase: fo.TrialPhase = None,
    domains: fo.Domains = None,
    exclude_domains: fo.ExcludeDomains = None,
    review: Annotated[bool, typer.Option(
        "--review", help="Show the plan before anything is searched: accept it, edit it in $EDITOR, or cancel.")
                      ] = False,
    plan_file: Annotated[Path | None, typer.Option(
        "--plan", help="Search with this saved plan (text from --review, or an agent's plan.json) without "
                       "asking.")] = None,
) -> None:
    """Spawn a research agent: plan, search, extract evidence, write a cited report."""
    from mia.agents.research.service import spawn_research, validate_request
    from mia.commands.common import load_settings

    if question == "-":
        question = read_stdin_question()
    filters = fo.filters_from(since, until, article_types, trial_status, trial_phase, domains, exclude_domains)
    request = validate_request(load_settings(), question=question, sources=sources, depth=depth, budget=budget,
                               model=model, name=name, files=files or (), filters=filters)
    settings, registry = open_state()
    if _offer_rerun(settings, registry, request, json_out=json_out, quiet=quiet):
        return
    if review or plan_file is not None:
        from mia.commands.plan_review import settle_plan

        request = settle_plan(settings, registry, request, review=review, plan_file=plan_file)
    result = _run(lambda http, on_event: spawn_research(settings, registry, request, http=http,
                                                       on_event=on_event), settings, json_out, quiet)
    show_result(result, json_out=json_out, quiet=quiet)


def _offer_rerun(settings: Any, registry: Any, request: Any, *, json_out: bool, quiet: bool) -> bool:
    """An existing agent with this name or question: offer to run it again. True when it was run."""
    import typer

    from mia.commands.agents import rerun_agent
    from mia.commands.common import confirm_or_cancel, err_console, interactive
    from mia.store.agents import get_agent, same_question

    if request.name is not None:
        try:
            existing = get_agent(registry, request.name)
        except MiaError:
            return False
        if not interactive():
            return False  # creating it fails with a hint that names `mia agents rerun`
        confirm_or_cancel(f"An agent named '{existing.slug}' already exists. Run it again "
                          f"(it writes report v{existing.report_version + 1})?")
    else:
        found = same_question(registry, request.question)
        if found is None:
            return False
        existing = found
        if not interactive():
            if not quiet:
                err_console().print(f"Note: agent '{existing.slug}' already researches this question; "
                                    f"`mia agents rerun {existing.slug}` runs it again. Starting a new agent.")
            return False
        if not typer.confirm(f"Agent '{existing.slug}' already researches this question. Run it again "
                             f"instead of starting a new agent?", default=True, err=True):
            return False
    rerun_agent(settings, registry, existing.slug, instruction="", json_out=json_out, quiet=quiet)
    return True


def read_stdin_question() -> str:
    """The question from standard input (`mia research -`): all of it, decoded as UTF-8 or a usage error."""
    from mia.agents.research.service import MAX_QUESTION_CHARS
    from mia.errors import UsageError

    if sys.stdin is None:
        raise UsageError("`-` means: read the question from standard input, but there is none.",
                         'Pipe it in, e.g.: echo "DMD treatments" | mia research -')
    if sys.stdin.isatty():
        print("Type the question, then Ctrl+D on a line of its own:", file=sys.stderr)
    data = sys.stdin.buffer.read(4 * MAX_QUESTION_CHARS + 4096)  # enough to say how long an over-long one is
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"The question read from standard input is not valid UTF-8: byte 0x{data[exc.start]:02x} "
                         f"at byte {exc.start + 1} is not text.",
                         "Save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or check the terminal's "
                         "encoding.") from None


def _run(call: Any, settings: Any, json_out: bool, quiet: bool, *, slug: str | None = None) -> ResearchResult:
    """Run `call(http, on_event)` with progress on stderr; Ctrl+C prints one line saying how to continue."""
    import httpx

    from mia.commands.progress import Progress, stderr_console

    seen = {"slug": slug}

    def remember(progress_event: Any) -> Any:
        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "agent":
                seen["slug"] = data.get("name")
            progress_event(kind, data)
        return on_event

    timeout = httpx.Timeout(settings.llm.timeout, connect=10.0)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as http, \
                Progress(stderr_console(), enabled=not (json_out or quiet)) as progress:
            result: ResearchResult = call(http, remember(progress.event))
    except KeyboardInterrupt:
        name = seen["slug"]
        sys.stderr.write(f"\nInterrupted; `mia agents resume {name}` continues the run.\n"
                         if name else "\nInterrupted before the agent was created; nothing was saved.\n")
        raise typer.Exit(130) from None
    return result


def show_result(result: ResearchResult, *, json_out: bool, quiet: bool) -> None:
    """Print the report (or JSON), then where it is and what it cost; exit 3 when cut short."""
    usage = {"input_tokens": int(result.usage["input_tokens"]), "output_tokens": int(result.usage["output_tokens"]),
             "cost_usd": round(result.usage["cost_usd"], 6)}
    if json_out:
        print_json({"agent_id": result.agent.id, "name": result.agent.slug, "run_id": result.run_id,
                    "status": result.status, "report_path": str(result.report_path), "sources": result.sources,
                    "citations_removed": result.citations_removed, **result.audit, "usage": usage})
    else:
        _print_report(result.report)
        if not quiet:
            from mia.commands.progress import stderr_console
            from mia.money import usd

            console = stderr_console()
            removed = f" · {result.citations_removed} citation(s) removed" if result.citations_removed else ""
            if result.audit.get("identifiers_removed"):
                removed += f" · {result.audit['identifiers_removed']} link(s)/identifier(s) removed"
            console.print(
                f"\n{result.status.replace('_', ' ')} · {result.sources} sources{removed} · "
                f"{usage['input_tokens'] + usage['output_tokens']:,} tokens · {usd(usage['cost_usd'])}\n"
                f"Report: {result.report_path}", highlight=False)
    from mia.agents.research.service import INCOMPLETE

    if result.status in INCOMPLETE:  # written, but not a complete cited report: the notices say why
        raise typer.Exit(EXIT_CUT_SHORT)


def _print_report(report: str) -> None:
    if sys.stdout.isatty():
        from rich.markdown import Markdown

        from mia.commands.common import out_console

        out_console().print(Markdown(report, hyperlinks=True))
    else:
        sys.stdout.write(report)
