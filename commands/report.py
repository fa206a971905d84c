"""`mia report AGENT`: read a report (rendered at a terminal, raw Markdown into a pipe), its sources, its diffs."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from mia.commands.common import err_console, out_console
from mia.commands.completion import complete_agent

DEFAULT_PAGER = "less -R"


def report(
    agent: Annotated[str, typer.Argument(help="Agent name or id.", autocompletion=complete_agent)],
    versions: Annotated[list[int] | None, typer.Argument(
        help="With --diff: V1 [V2] (default: the version before the latest, and the latest).",
        show_default=False)] = None,
    version: Annotated[int | None, typer.Option("--version", "-v", help="Report version (default: the latest).")
                       ] = None,
    sources: Annotated[bool, typer.Option(
        "--sources", help="Print every source the latest run retrieved (cited or not), with its link.")] = False,
    pager: Annotated[bool, typer.Option(
        "--pager", help="Page the output through $PAGER (default: less -R); a long report at a terminal is "
                        "paged anyway.")] = False,
    diff: Annotated[bool, typer.Option(
        "--diff", help="Show what changed between two versions (a unified diff of the Markdown).")] = False,
) -> None:
    """Print an agent's report: rendered at a terminal, raw Markdown into a pipe.

    Examples: `mia report dmd-treatments --version 1`, `mia report dmd-treatments --diff` (the last two
    versions), `mia report dmd-treatments --diff 1 3`, `mia report dmd-treatments --sources | grep NCT`.
    """
    from mia.agents.research.references import sources_markdown
    from mia.commands.common import open_state
    from mia.errors import UsageError
    from mia.store.agents import get_agent
    from mia.store.reports import agent_reports

    if versions and not diff:
        raise UsageError(f"Unexpected argument '{versions[0]}'.",
                         f"Choose a version with --version N, or compare two with: mia report {agent} --diff V1 V2")
    if versions and len(versions) > 2:
        raise UsageError("--diff compares two versions at most.", f"Example: mia report {agent} --diff 1 3")
    settings, registry = open_state(notice=False)
    record = get_agent(registry, agent)
    reports = agent_reports(settings.workspace_root, record.slug)
    if diff:
        old = versions[0] if versions else None
        new = versions[1] if versions and len(versions) > 1 else version
        show_diff(reports.diff(old, new), pager=pager)
        return
    if sources:
        reports.latest()  # no report yet: say so
        show_markdown(sources_markdown(record.slug, reports.sources(), reports.markdown()), pager=pager)
        return
    show_markdown(reports.markdown(version), pager=pager)


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (tests replace this to see what a person at a terminal gets)."""
    return sys.stdout.isatty()


def show_markdown(text: str, *, pager: bool) -> None:
    """Rendered through rich at a terminal (paged when asked or longer than the screen); raw into a pipe."""
    if not stdout_is_terminal():
        if pager:
            page(text)
        else:
            sys.stdout.write(text)
        return
    from rich.markdown import Markdown

    console = out_console()
    with console.capture() as capture:
        console.print(Markdown(text, hyperlinks=True))
    rendered = capture.get()
    if pager or rendered.count("\n") > console.size.height - 2:
        page(rendered)
    else:
        sys.stdout.write(rendered)


def show_diff(lines: list[str], *, pager: bool) -> None:
    """A unified diff: coloured at a terminal, plain into a pipe; 'no differences' said on stderr."""
    if not lines:
        err_console().print("The two versions are the same.")
        return
    if not stdout_is_terminal():
        text = "\n".join(lines) + "\n"
        page(text) if pager else sys.stdout.write(text)
        return
    from rich.text import Text

    console = out_console()
    styles = {"+++": "bold", "---": "bold", "@@": "cyan", "+": "green", "-": "red"}
    with console.capture() as capture:
        for line in lines:
            style = next((s for prefix, s in styles.items() if line.startswith(prefix)), "")
            console.print(Text(line, style=style), soft_wrap=True)
    rendered = capture.get()
    if pager or rendered.count("\n") > console.size.height - 2:
        page(rendered)
    else:
        sys.stdout.write(rendered)


def page(text: str) -> None:
    """Send `text` through $PAGER (`less -R` when unset); print it directly if the pager cannot start."""
    import shlex
    import subprocess

    command = os.environ.get("PAGER", "").strip() or DEFAULT_PAGER
    try:
        argv = shlex.split(command)
        subprocess.run(argv, input=text, text=True, check=False)
    except (OSError, ValueError) as exc:
        err_console().print(f"Note: the pager '{command}' could not be started ({exc}); printing instead. "
                            "Set PAGER to a pager you have, e.g. PAGER=more.")
        sys.stdout.write(text)
