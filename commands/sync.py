"""`mia sync`: mirror the workspace (or some agents' folders) to Cloudflare R2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mia.commands.common import err_console, open_state, out_console, print_json
from mia.commands.completion import complete_agent
from mia.errors import UsageError

if TYPE_CHECKING:
    from mia.store.mirror import ProgressSink, SyncResult

app = typer.Typer(help="Mirror the workspace to Cloudflare R2: push, pull, status.", no_args_is_help=True)

EXIT_CONFLICTS = 3
AgentsArg = Annotated[list[str] | None, typer.Argument(
    help="Only these agents' folders (agents/NAME/); default: the whole workspace.", show_default=False,
    autocompletion=complete_agent)]
DeleteOpt = Annotated[bool, typer.Option("--delete", help="Also delete what was deleted on this side.")]
PreferOpt = Annotated[str | None, typer.Option(
    "--prefer", help="Resolve conflicts: local or remote wins (default: report and leave them).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@app.command("push")
def push(agents: AgentsArg = None, delete: DeleteOpt = False, prefer: PreferOpt = None, json_out: JsonOpt = False,
         quiet: QuietOpt = False) -> None:
    """Upload files new or changed locally since the last sync."""
    from mia.store import mirror

    _transfer(mirror.push, agents, delete, prefer, json_out, quiet)


@app.command("pull")
def pull(agents: AgentsArg = None, delete: DeleteOpt = False, prefer: PreferOpt = None, json_out: JsonOpt = False,
         quiet: QuietOpt = False) -> None:
    """Download files new or changed in R2 since the last sync."""
    from mia.store import mirror

    _transfer(mirror.pull, agents, delete, prefer, json_out, quiet)


@app.command("status")
def status(agents: AgentsArg = None, json_out: JsonOpt = False) -> None:
    """Show what differs between the workspace and R2, in each direction."""
    from mia.store import mirror

    settings, registry = open_state(notice=False)
    result = mirror.status(settings, registry, agents=agents or [])
    data = result.to_json()
    if json_out:
        print_json(data)
        return
    console = out_console()
    if result.clean:
        console.print(f"In sync with {data['remote']} ({data['unchanged']} files).")
    for side, label, hint in (("local", "local", "push"), ("remote_changes", "in R2", "pull")):
        for kind, paths in data[side].items():
            for path in paths:
                console.print(f"  {kind:<8} {label:<6} {path}   (mia sync {hint})")
    for conflict in data["conflicts"]:
        console.print(f"  conflict {conflict['path']} (local {conflict['local']}, "
                      f"R2 {conflict['remote']})")
    _warn_refused(data["refused"])


def _transfer(call: Any, agents: list[str] | None, delete: bool, prefer: str | None, json_out: bool,
              quiet: bool) -> None:
    if prefer is not None and prefer not in ("local", "remote"):
        raise UsageError(f"--prefer takes local or remote, not '{prefer}'.", "Example: mia sync push --prefer local")
    settings, registry = open_state(notice=False)
    with _progress(enabled=not (json_out or quiet)) as on_progress:
        result: SyncResult = call(settings, registry, agents=agents or [], delete=delete, prefer=prefer,
                                  on_progress=on_progress)
    cloud_runs = _record_cloud_runs(settings, registry) if result.direction == "pull" else []
    if json_out:
        print_json({**result.to_json(), **({"cloud_runs": cloud_runs} if result.direction == "pull" else {})})
    else:
        _summary(result)
        if cloud_runs:
            err_console().print(f"Recorded {len(cloud_runs)} run(s) made in the cloud: "
                                + ", ".join(f"{r['agent']} ({r['outcome']})" for r in cloud_runs))
    if result.errors:
        raise typer.Exit(1)
    if result.conflicts:
        raise typer.Exit(EXIT_CONFLICTS)


def _record_cloud_runs(settings: Any, registry: Any) -> list[dict[str, Any]]:
    """Runs that cloud triggers left in R2 become registry runs (and inbox news) once pulled home."""
    from dataclasses import asdict

    from mia.agents.cloud.runs import record_cloud_runs

    return [asdict(run) for run in record_cloud_runs(settings, registry)]


def _summary(result: SyncResult) -> None:
    console = err_console()
    moved = len(result.uploaded) + len(result.downloaded)
    deleted = len(result.deleted_remote) + len(result.deleted_local)
    verb = "Pushed" if result.direction == "push" else "Pulled"
    console.print(f"{verb} {moved} file(s), {_size(result.bytes)}, deleted {deleted} · {result.unchanged} unchanged"
                  f" · {result.remote} · {result.seconds:.1f}s")
    if result.kept:
        where = "in R2" if result.direction == "push" else "locally"
        console.print(f"{len(result.kept)} file(s) deleted on this side were kept {where} "
                      "(add --delete to delete them too).")
    for conflict in result.conflicts:
        note = f" — {conflict['note']}" if conflict.get("note") else ""
        console.print(f"conflict {conflict['path']}: local {conflict['local']}, R2 {conflict['remote']}"
                      f"{note}")
    if result.conflicts:
        console.print("Conflicts were left alone. Pick a side with --prefer local or --prefer remote.")
    for error in result.errors:
        console.print(f"failed {error['path']}: {error['error']}")
    _warn_refused(result.refused)


def _warn_refused(refused: list[dict[str, str]]) -> None:
    console = err_console()
    for item in refused:
        console.print(f"refused remote key {item['key']!r}: {item['reason']} (never written)")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


@contextmanager
def _progress(*, enabled: bool) -> Iterator[ProgressSink | None]:
    """A rich progress bar (files done of total, and bytes) fed by the core's progress callback."""
    console = err_console()
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("comparing…", total=None)
        counts = {"done": 0, "total": 0}

        def on_progress(kind: str, info: dict[str, Any]) -> None:
            if kind == "plan":
                counts["total"] = info["files"]
                bar.update(task, total=info["bytes"], description=f"0/{info['files']} files")
            elif kind == "bytes":
                bar.advance(task, info["bytes"])
            elif kind == "file":
                counts["done"] += 1
                bar.update(task, description=f"{counts['done']}/{counts['total']} files")

        yield on_progress
