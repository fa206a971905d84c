"""The `mia` command: the Typer app, its command groups, and the one place errors are shown."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mia import __version__
from mia.commands import (
    agent_files,
    agents,
    approvals,
    chat,
    config,
    doctor,
    eval,
    export,
    inbox,
    mcp,
    report,
    research,
    sync,
    triggers,
    triggers_cloud,
    triggers_run,
    usage,
)
from mia.errors import MiaError

HELP = "mia: a terminal-first research assistant for medical innovation. Durable research agents, cited reports."

app = typer.Typer(
    name="mia",
    help=HELP,
    pretty_exceptions_show_locals=False,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config.app, name="config")
app.add_typer(agents.app, name="agents")
agents.app.command("add-files")(agent_files.add_files)  # the agent's own documents (source `file`)
agents.app.command("remove-file")(agent_files.remove_file)
app.add_typer(triggers.app, name="triggers")
triggers.app.command("run")(triggers_run.run)
triggers.app.command("install-cron")(triggers_run.install_cron)
triggers.app.command("deploy")(triggers_cloud.deploy)  # cloud triggers (Cloudflare Workflows)
triggers.app.command("undeploy")(triggers_cloud.undeploy)
triggers.app.command("status")(triggers_cloud.status)
triggers.app.command("import-cloud-runs")(triggers_cloud.import_cloud_runs)
app.add_typer(inbox.app, name="inbox")
app.add_typer(sync.app, name="sync")
app.add_typer(approvals.app, name="approvals")
app.add_typer(eval.app, name="eval")
app.command("research")(research.research)
app.command("report")(report.report)
app.command("export")(export.export)
app.command("usage")(usage.usage)
app.command("doctor")(doctor.doctor)
app.command("ask")(chat.ask)  # the Interaction Agent: one turn
app.command("chat")(chat.chat)  # the Interaction Agent: the TUI
app.command("mcp")(mcp.mcp)  # mia for other AI tools: an MCP server over stdio


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mia {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """mia: a terminal-first research assistant for medical innovation."""
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():  # plain `mia` at a terminal opens the chat app
            chat.run_app()
            return
        typer.echo(ctx.get_help())


def _show_error(error: MiaError) -> None:
    sys.stderr.write(f"Error: {error.message}\n")
    if error.hint:
        sys.stderr.write(f"{error.hint}\n")


def _is_usage_error(exc: Exception) -> bool:
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)


PLAIN_KINDS = {"float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
               "int_from_float": "a whole number", "int_type": "a whole number"}


def _plain_words(exc: Exception) -> None:
    """Typer checks option types with pydantic and passes on its wording ("Input should be a valid number,
    unable to parse string as a number"); say instead which value is not what: "'abc' is not a number"."""
    errors = getattr(exc.__cause__, "errors", None)
    if not callable(errors) or not isinstance(getattr(exc, "message", None), str):
        return
    first = (errors() or [{}])[0]
    kind = PLAIN_KINDS.get(first.get("type"), "an accepted value")
    exc.message = f"{first.get('input')!r} is not {kind}."  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; MiaError becomes a message and an exit code, never a traceback."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    from mia.commands.help import plain_help

    command = plain_help(typer.main.get_command(app))
    try:
        result = command.main(args=args, prog_name="mia", standalone_mode=False)
    except MiaError as error:
        if debug:
            raise
        _show_error(error)
        return error.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        return 130
    except KeyboardInterrupt:
        if debug:
            raise
        sys.stderr.write("Interrupted.\n")
        return 130
    except Exception as exc:
        if _is_usage_error(exc):  # Click's own (Typer may vendor Click, so match by shape)
            _plain_words(exc)
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if debug:  # a bug: say so briefly; the traceback is for --debug
            raise
        sys.stderr.write(f"Error: mia hit an unexpected internal error ({type(exc).__name__}).\n"
                         "Run the same command with --debug to see the traceback, and report it.\n")
        return 1
    return result if isinstance(result, int) else 0
