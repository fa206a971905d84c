"""`mia export AGENT --format ...`: a report for colleagues (HTML, DOCX, PDF) or its references (BibTeX, RIS...)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mia.commands.common import err_console, print_json
from mia.commands.completion import complete_agent

TEXT_FORMATS = ("html", "bibtex", "ris", "csljson")


def export(
    agent: Annotated[str, typer.Argument(help="Agent name or id.", autocompletion=complete_agent)],
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="html, docx, pdf (the report) or bibtex, ris, csljson (its cited sources).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="File or folder to write (default: ./AGENT-vN.EXT); '-' writes a text format to "
                               "stdout.")] = None,
    version: Annotated[int | None, typer.Option("--version", "-v", help="Report version (default: the latest).")
                       ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object about the file written.")] = False,
) -> None:
    """Export a report to share or cite it: one file in a format other tools read.

    html is one self-contained page whose citations link to the numbered source list, and whose sources
    link to PubMed, ClinicalTrials.gov and doi.org. docx and pdf need the optional export tools
    (pip install 'mia\\[export]'). bibtex, ris and csljson hold the report's cited sources for Zotero,
    EndNote or pandoc. This is not `mia agents export`, which archives an agent's whole folder and
    registry rows as a .tar.gz to move or back it up.
    """
    from mia.agents.research.export import check_format, export_report, render_export
    from mia.commands.common import open_state
    from mia.errors import UsageError
    from mia.store.agents import get_agent
    from mia.store.reports import agent_reports

    name = check_format(fmt)
    if output is not None and str(output) == "-" and name not in TEXT_FORMATS:
        raise UsageError(f"{name.upper()} is a binary format and is not written to stdout.",
                         f"Give a file: mia export {agent} --format {name} --output report.{name}")
    settings, registry = open_state(notice=False)
    record = get_agent(registry, agent)
    reports = agent_reports(settings.workspace_root, record.slug)
    if output is not None and str(output) == "-":
        data, _, _ = render_export(reports, name, version=version)
        sys.stdout.write(data if isinstance(data, str) else data.decode("utf-8"))
        return
    if output is not None and not output.parent.exists():
        raise UsageError(f"The folder '{output.parent}' does not exist.",
                         "Create it first, or choose another --output.")
    result = export_report(reports, name, output=output, version=version)
    if json_out:
        print_json({"agent": record.slug, "format": result.format, "version": result.version,
                    "path": str(result.path), "sources": result.sources, "bytes": result.bytes})
        return
    err_console().print(f"Exported report v{result.version} of '{record.slug}' as {result.format} "
                        f"({result.sources} source(s), {result.bytes:,} bytes) to {result.path}", soft_wrap=True)
