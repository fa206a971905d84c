"""`mia agents add-files` and `mia agents remove-file`: a research agent's own documents."""

from __future__ import annotations

from typing import Annotated

import typer

from mia.commands.common import err_console, open_state, print_json


def add_files(
    agent: Annotated[str, typer.Argument(help="Agent name or id.")],
    paths: Annotated[list[str], typer.Argument(help="PDF, DOCX, Markdown or text files, folders or globs.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Give an agent your own documents; its next runs search them (source 'file') and cite the page."""
    from mia.agents.research.documents import add_agent_files

    settings, registry = open_state()
    record, outcome = add_agent_files(settings, registry, agent, paths)
    if json_out:
        print_json({"agent": record.slug, "added": outcome.added, "unchanged": outcome.unchanged,
                    "skipped": outcome.skipped})
    else:
        console = err_console()
        for message in outcome.skipped:
            console.print(message)
        if outcome.unchanged:
            console.print(f"Already there: {', '.join(outcome.unchanged)}")
        if outcome.added:
            console.print(f"Added {len(outcome.added)} file(s) to '{record.slug}': {', '.join(outcome.added)}. "
                          f"Its next run searches them: `mia agents rerun {record.slug}`, a trigger, or a "
                          "follow-up in chat.")
    if not outcome.added and not outcome.unchanged:
        raise typer.Exit(1)


def remove_file(
    agent: Annotated[str, typer.Argument(help="Agent name or id.")],
    name: Annotated[str, typer.Argument(help="The file's name, as `mia agents show` lists it.")],
) -> None:
    """Remove one of an agent's documents and its passages (reports already written keep their citations)."""
    from mia.agents.research.documents import remove_agent_file

    settings, registry = open_state()
    entry = remove_agent_file(settings, registry, agent, name)
    err_console().print(f"Removed '{entry['name']}' from '{agent}'.")
