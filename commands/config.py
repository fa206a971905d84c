"""`mia config`: show, set and locate settings."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mia.commands.common import err_console, load_settings, make_table, out_console, print_json

WIDE = 120  # narrower terminals leave out the environment column, so keys and values are not cut

app = typer.Typer(help="Show and change settings (config.toml, secrets.toml).", no_args_is_help=True)


@app.command("show")
def show(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print every setting, where its value came from, and its environment variable (secrets masked)."""
    from mia.settings import describe

    rows = describe(load_settings())
    if json_out:
        print_json([{k: r[k] for k in ("key", "value", "source", "secret", "env")} for r in rows])
        return
    console = out_console()
    narrow = console.is_terminal and console.width < WIDE
    columns = ("setting", "value", "source") if narrow else ("setting", "value", "source", "environment")
    console.print(make_table(columns, ((r["key"], ("" if r["value"] is None else str(r["value"])) or "-",
                                        r["source"], r["env"])[: len(columns)] for r in rows),
                             keep=("setting", "environment")))
    if narrow:
        err_console().print("Each setting's environment variable is MIA_ and its key in capitals "
                            "(`mia config show --json` lists them).")


def _read_secret(key: str) -> str:
    if sys.stdin.isatty():
        value = typer.prompt(f"Value for {key}", hide_input=True, default="", show_default=False)
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value.strip():
        from mia.errors import UsageError

        raise UsageError(f"No value was given for '{key}'.",
                         f"Type it at the hidden prompt, or pipe it: printf %s \"$VALUE\" | mia config set {key}")
    return value


@app.command("set", context_settings={"ignore_unknown_options": True})  # `set research.budget_usd -5`
def set_(
    key: Annotated[str, typer.Argument(help="Dotted setting name, e.g. research.budget_usd.")],
    value: Annotated[str | None, typer.Argument(help="The value (secrets are prompted for instead).")] = None,
) -> None:
    """Store a setting; secrets are read from a hidden prompt or stdin and kept in secrets.toml (0600)."""
    from mia.errors import UsageError
    from mia.settings import SPEC_BY_KEY, set_value

    spec = SPEC_BY_KEY.get(key)
    if spec is not None and spec.secret:
        if value is not None:
            raise UsageError(
                f"'{key}' is a secret, and secrets are never taken from the command line (shell history keeps them).",
                f"Run `mia config set {key}` and type it at the hidden prompt, or pipe it on stdin.")
        value = _read_secret(key)
    elif value is None:
        raise UsageError(f"No value given for '{key}'.", f"Usage: mia config set {key} VALUE")
    path = set_value(key, value)
    err_console().print(f"Saved {key} in {path}")


@app.command("unset")
def unset(key: Annotated[str, typer.Argument(help="Dotted setting name.")]) -> None:
    """Remove a setting from config.toml or secrets.toml."""
    from mia.settings import unset_value

    path = unset_value(key)
    err_console().print(f"Removed {key} from {path}")


@app.command("path")
def path() -> None:
    """Print the paths of config.toml, secrets.toml, the registry and the workspace."""
    from mia import paths

    settings = load_settings()
    typer.echo(f"config     {paths.config_file()}")
    typer.echo(f"secrets    {paths.secrets_file()}")
    typer.echo(f"home       {settings.home}")
    typer.echo(f"registry   {settings.registry_path}")
    typer.echo(f"workspace  {settings.workspace_root}")
