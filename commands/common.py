"""Helpers shared by the commands: settings, registry, consoles and JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mia.settings import Settings
    from mia.store.db import Registry


PIPE_WIDTH = 10_000  # into a pipe or a file, lines are never wrapped at 80 columns


def console_for(stream: Any) -> Console:
    """A plain Rich console on `stream`: the terminal's width at a terminal; unwrapped into a pipe or file."""
    from rich.console import Console

    tty = stream.isatty()
    return Console(file=stream, highlight=False, markup=False, soft_wrap=not tty,
                   width=None if tty else PIPE_WIDTH)


def err_console() -> Console:
    """Progress, notices and errors go to stderr so stdout stays clean for pipes."""
    return console_for(sys.stderr)


def out_console() -> Console:
    return console_for(sys.stdout)


def load_settings(**overrides: Any) -> Settings:
    from mia.settings import load_settings as load

    return load(overrides)


def open_state(*, notice: bool = True, **overrides: Any) -> tuple[Settings, Registry]:
    """Settings plus the migrated registry; mentions runs that were interrupted and how to resume them."""
    from mia.store.db import open_registry

    settings = load_settings(**overrides)
    registry = open_registry(settings.registry_path)
    if notice:
        _notice_abandoned(registry)
    return settings, registry


def _notice_abandoned(registry: Registry) -> None:
    from mia.store.runs import abandoned_runs

    runs = abandoned_runs(registry)
    if not runs:
        return
    slugs = {row["id"]: row["slug"] for row in registry.query("SELECT id, slug FROM agents")}
    for run in runs:
        slug = slugs.get(run.agent_id, run.agent_id)
        sys.stderr.write(
            f"Note: the run of agent '{slug}' was interrupted during {run.stage or 'start-up'}. "
            f"Resume it with: mia agents resume {slug}\n")


def make_table(columns: Sequence[str], rows: Iterable[Sequence[str]], *, right: Sequence[str] = (),
               fold: bool = False, keep: Sequence[str] = ()) -> Table:
    """mia's plain tables: bold headers, no box; `right` columns are right-aligned, `fold` wraps long cells.

    `keep` columns (keys, ids, paths, timestamps) are never cut or wrapped: they take the width of their
    longest cell, and the other columns wrap to make room.
    """
    from rich.table import Table

    rows = [tuple(row) for row in rows]
    table = Table(box=None, header_style="bold", pad_edge=False)
    for i, column in enumerate(columns):
        if column in keep:
            longest = max([len(column), *(len(str(row[i])) for row in rows)])
            table.add_column(column, justify="right" if column in right else "left", no_wrap=True,
                             min_width=longest, overflow="ignore")
        else:
            table.add_column(column, justify="right" if column in right else "left",
                             overflow="fold" if (fold or keep) else "ellipsis")
    for row in rows:
        table.add_row(*row)
    return table


def interactive() -> bool:
    """True when a person can answer a question: stdin and stderr are terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm_or_cancel(question: str) -> None:
    """Ask yes/no; a deliberate "no" prints "Cancelled." and exits 1 (Ctrl+C at the prompt stays 130)."""
    import typer

    try:
        agreed = typer.confirm(question, default=False, err=True)
    except typer.Abort:  # Ctrl+C, or standard input ended (a script, cron): only the first is an interrupt
        if sys.stdin.isatty():
            raise
        from mia.errors import UsageError

        sys.stderr.write("\n")
        raise UsageError("There was no answer: standard input is not a terminal, and it ended.",
                         "Add --yes to go ahead without being asked.") from None
    if not agreed:
        sys.stderr.write("Cancelled.\n")
        raise typer.Exit(1)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
