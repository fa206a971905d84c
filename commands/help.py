"""Help that shows flags as people type them: `--json`, `--depth TEXT`, `QUESTION`.

Typer (0.2x) labels every parameter with its Python type (`<bool>` after a switch, `<list[int]>`) and
wraps required arguments in braces (`{question}`); Click's plain forms are what users write and what
the README shows. `plain_help(command)` rewrites the labels of a built command tree once, at start-up.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

METAVARS = {"text": "TEXT", "str": "TEXT", "integer": "INTEGER", "int": "INTEGER", "float": "NUMBER",
            "path": "PATH", "Path": "PATH"}


def plain_help(command: Any) -> Any:
    """Relabel every parameter of `command` and its subcommands, and let its prose wrap; returns `command`."""
    if getattr(command, "help", None):
        command.help = flowing(command.help)
    for param in getattr(command, "params", []):
        _relabel(param)
    original = getattr(command, "get_help_option", None)
    if original is not None:
        def help_option(ctx: Any, original: Any = original) -> Any:
            option = original(ctx)
            if option is not None:
                _relabel(option)
            return option

        _set(command, "get_help_option", help_option)
    for sub in (getattr(command, "commands", None) or {}).values():
        plain_help(sub)
    return command


def flowing(text: str) -> str:
    """A docstring's paragraphs as flowing text: Typer keeps the source's line breaks inside every paragraph
    but the first, which wraps them raggedly in a narrow terminal. Lists ("- ") keep one item a line."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(re.sub(r"\n(?![-*] )", " ", paragraph) for paragraph in paragraphs)


def _relabel(param: Any) -> None:
    if param.param_type_name == "argument":
        name = (param.metavar or param.name or "value").upper()
        param.metavar = name
        many = "..." if param.nargs != 1 else ""
        shown = name + many if param.required else f"[{name}{many}]"
        _set(param, "get_usage_pieces", lambda ctx: [shown])
        _set(param, "display_type_rich", lambda ctx: None)
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        _set(param, "display_type_rich", lambda ctx: None)  # a switch takes no value
        return
    if param.metavar is None:
        kind = param.bare_type() if hasattr(param, "bare_type") else getattr(getattr(param, "type", None), "name", "")
        param.metavar = METAVARS.get(str(kind), (param.name or "value").upper())


def _set(param: Any, name: str, fn: Any) -> None:
    setattr(param, name, fn)  # per instance: only this parameter's label changes
