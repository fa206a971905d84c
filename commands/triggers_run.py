"""`mia triggers run` (what cron calls) and `mia triggers install-cron`."""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from mia.commands.common import err_console, open_state, print_json

CRON_MARK = "# mia triggers run"


def _log_to(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {line}\n")

    return log


def _take_lock(home: Path) -> Any:
    """A non-blocking flock: a second `mia triggers run` exits at once while one is working."""
    home.mkdir(parents=True, exist_ok=True)
    handle = (home / "triggers-run.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would fire; change nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    now: Annotated[str | None, typer.Option("--now", hidden=True, help="Pretend it is this UTC time (tests).")] = None,
    no_lock: Annotated[bool, typer.Option("--no-lock", hidden=True, help="Skip the overlap lock (tests).")] = False,
) -> None:
    """Fire due triggers once each (meant for cron, every few minutes); quiet when nothing is due."""
    from mia.agents.schedule.rules import parse_utc

    settings, registry = open_state(notice=False)
    lock = None if (dry_run or no_lock) else _take_lock(settings.home)
    if lock is None and not (dry_run or no_lock):
        return  # another `mia triggers run` is at work: this tick has nothing to add
    moment = parse_utc(now) if now else datetime.now(UTC)
    log = _log_to(settings.home / "logs" / "triggers.log")
    summary = _run_pass(settings, registry, moment, log, dry_run)
    _report(summary, json_out=json_out, dry_run=dry_run)
    if dry_run and not json_out and not summary.fires and not summary.recovered:
        typer.echo(f"nothing due; next: {_next_due(registry)}")  # asked for by a person, so say so


def _next_due(registry: Any) -> str:
    """The soonest next run of an enabled trigger, in its own time zone, or 'none scheduled'."""
    from mia.commands.triggers import next_run
    from mia.store.triggers import list_triggers

    waiting = [t for t in list_triggers(registry, None) if t.enabled and t.next_due and not t.deployed]
    if not waiting:
        return "none scheduled"
    soonest = min(waiting, key=lambda t: t.next_due or "")
    return f"{next_run(soonest)} (trigger {soonest.id}, {soonest.agent})"


def _run_pass(settings: Any, registry: Any, moment: datetime, log: Any, dry_run: bool) -> Any:
    from mia.agents.schedule.triggers import run_pass

    if dry_run:
        return run_pass(settings, registry, now=moment, runner=lambda t, r: "", log=log, dry_run=True,
                        grace_minutes=settings.triggers.grace_minutes)
    import httpx

    from mia.agents.research.followup import follow_up_research
    from mia.agents.research.service import resume_research

    def quiet(kind: str, data: dict[str, Any]) -> None:
        return None

    with httpx.Client(timeout=httpx.Timeout(settings.llm.timeout, connect=10.0)) as http:
        def runner(trigger: Any, run_id: str) -> str:
            result = follow_up_research(settings, registry, trigger.agent_id, instruction=trigger.instruction,
                                        http=http, on_event=quiet, run_id=run_id, force_report=False,
                                        trigger_id=trigger.id, stamp=run_id)
            return str(result.status)

        def recover(run: Any) -> str:
            return str(resume_research(settings, registry, run.agent_id, http=http, on_event=quiet,
                                       run_id=run.id).status)

        summary = run_pass(settings, registry, now=moment, runner=runner, recover=recover, log=log,
                           grace_minutes=settings.triggers.grace_minutes)
        if settings.imap.host:  # replies to outreach mail wake their agents on the same tick
            _sync_replies(settings, registry, http, log, quiet)
        return summary


def _sync_replies(settings: Any, registry: Any, http: Any, log: Any, quiet: Any) -> None:
    from mia.agents.outreach.replies import sync_replies
    from mia.errors import MiaError

    try:
        report = sync_replies(settings, registry, http=http, on_event=quiet)
    except MiaError as exc:
        log(f"inbox sync failed: {exc.message}")
        return
    for reply in report.replies:
        log(f"reply from {reply['from']} filed for {reply['agent'] or '-'}: {reply['run'] or 'no follow-up'}")


def _report(summary: Any, *, json_out: bool, dry_run: bool) -> None:
    fires = [vars(f) for f in summary.fires]
    if json_out:
        print_json({"dry_run": dry_run, "recovered": summary.recovered, "fires": fires})
        return
    if not fires and not summary.recovered:
        return  # cron mails whatever is printed: stay quiet when nothing happened
    console = err_console() if not dry_run else None
    lines = [f"{f['slot']}  trigger {f['trigger_id']} ({f['agent']})  {f['action']}"
             + (f"  {abs(f['coalesced'])} slots coalesced" if abs(f["coalesced"]) > 1 else "")
             + (f"  → {f['outcome']}" if f["outcome"] else "") + (f"  {f['message']}" if f["message"] else "")
             for f in fires]
    if summary.recovered:
        lines.insert(0, f"recovered {len(summary.recovered)} interrupted run(s)")
    for line in lines:
        (console.print(line, highlight=False) if console else typer.echo(line))


def _cron_line(settings: Any) -> str:
    exe = shutil.which("mia") or str(Path(sys.argv[0]).resolve())
    env = [f"MIA_HOME={shlex.quote(str(settings.home))}"]
    if os.environ.get("MIA_CONFIG"):
        env.append(f"MIA_CONFIG={shlex.quote(os.environ['MIA_CONFIG'])}")
    log = shlex.quote(str(settings.home / "logs" / "cron.log"))
    return f"*/5 * * * * {' '.join(env)} {shlex.quote(str(Path(exe).resolve()))} triggers run >> {log} 2>&1 {CRON_MARK}"


def install_cron(
    apply: Annotated[bool, typer.Option("--apply", help="Add the line to your crontab (idempotent).")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Take mia's line out of your crontab.")] = False,
) -> None:
    """Print the crontab line that runs `mia triggers run` every 5 minutes; --apply installs it."""
    from mia.errors import MiaError, UsageError

    settings, _ = open_state(notice=False)
    line = _cron_line(settings)
    if not (apply or remove):
        typer.echo(line)
        err_console().print("Cron has no environment: keep credentials in secrets.toml (`mia config set ...`), "
                            "not only in shell variables. Add the line with --apply, or `crontab -e`.")
        return
    if apply and remove:
        raise UsageError("--apply and --remove do opposite things.", "Give one of them.")
    if shutil.which("crontab") is None:
        raise MiaError("The crontab command is not installed here.",
                       "Install cron (e.g. apt-get install cron), or add the printed line to your scheduler.")
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    existing = current.stdout.splitlines() if current.returncode == 0 else []
    lines = [entry for entry in existing if CRON_MARK not in entry]
    if apply:
        lines.append(line)
    subprocess.run(["crontab", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    err_console().print("Installed:\n" + line if apply else "Removed mia's line from your crontab.")
