"""The workspace mirrored to R2: push, pull and status; incremental, parallel, and careful on both sides.

A manifest in the registry remembers each file as both sides held it after the last sync, so an
unchanged tree costs one listing and no transfers, and a file changed on both sides is a conflict
that is reported and left alone unless the caller says which side wins.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from mia.errors import MiaError, NotFoundError, UsageError
from mia.settings import Settings
from mia.store.db import Registry
from mia.store.r2 import Remote, S3Client, key_to_path, list_objects, make_client, remote_of, service_error
from mia.store.sync_plan import (
    Change,
    Comparison,
    RemoteObject,
    compare,
    load_manifest,
    save_manifest,
    scan_local,
    stale_temp_files,
)
from mia.store.transfers import Mover, TransferOptions
from mia.store.workspace import Workspace, check_slug

ProgressSink = Callable[[str, dict[str, Any]], None]
Side = Literal["local", "remote"]
DEFAULT_OPTIONS = TransferOptions()
LOCK_WAIT_SECONDS = 60.0
SAVE_EVERY = 256


@dataclass
class SyncResult:
    """What a push or pull did; `to_json()` is the stable `--json` shape."""

    direction: str
    remote: str
    uploaded: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    deleted_remote: list[str] = field(default_factory=list)
    deleted_local: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    pending: int = 0
    unchanged: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


@dataclass
class SyncStatus:
    """What differs, in each direction, without moving anything."""

    remote: str
    local: dict[str, list[str]]
    remote_changes: dict[str, list[str]]
    conflicts: list[dict[str, Any]]
    refused: list[dict[str, str]]
    unchanged: int

    @property
    def clean(self) -> bool:
        return not (any(self.local.values()) or any(self.remote_changes.values()) or self.conflicts)

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.remote, "clean": self.clean, "local": self.local, "remote_changes": self.remote_changes,
                "conflicts": self.conflicts, "refused": self.refused, "unchanged": self.unchanged}


@dataclass
class _Job:
    settings: Settings
    registry: Registry
    remote: Remote
    client: S3Client
    scopes: list[str]
    options: TransferOptions

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.settings.workspace_root)


def _job(settings: Settings, registry: Registry, agents: Iterable[str], client: S3Client | None,
         options: TransferOptions) -> _Job:
    remote = remote_of(settings)
    slugs = [_agent_slug(registry, name) for name in agents]
    scopes = sorted({f"agents/{slug}/" for slug in slugs}) or [""]
    client = client or make_client(settings, pool=max(10, options.workers * 2))
    return _Job(settings, registry, remote, client, scopes, options)


def _agent_slug(registry: Registry, name: str) -> str:
    """An agent named in the registry (by slug or id), or a plain folder name (pull into a fresh home)."""
    from mia.store.agents import get_agent

    try:
        return get_agent(registry, name).slug
    except NotFoundError:
        return check_slug(name)


def _compare(job: _Job) -> tuple[Comparison, list[dict[str, str]]]:
    remote: dict[str, RemoteObject] = {}
    refused: list[dict[str, str]] = []
    for scope in job.scopes:
        for obj in list_objects(job.client, job.remote, scope):
            key = str(obj["Key"])
            path, reason = key_to_path(key, job.remote.prefix)
            if reason:
                refused.append({"key": key, "reason": reason})
            elif path:
                remote[path] = RemoteObject(key, path, int(obj.get("Size", 0)), str(obj.get("ETag", "")).strip('"'))
    root = job.workspace.ensure()
    local = scan_local(root, job.scopes, exclude=[job.settings.registry_path])
    base = load_manifest(job.registry, job.remote.ident, job.scopes)
    return compare(root, local, remote, base, lambda objs: _remote_shas(job, objs)), refused


def _remote_shas(job: _Job, objs: list[RemoteObject]) -> dict[str, str | None]:
    """The sha256 metadata of objects changed on both sides (a HEAD each, in parallel)."""
    def head(obj: RemoteObject) -> tuple[str, str | None]:
        try:
            meta = job.client.head_object(Bucket=job.remote.bucket, Key=obj.key).get("Metadata", {})
        except Exception as exc:
            raise service_error(exc, job.remote, f"read the metadata of '{obj.key}'") from None
        return obj.path, meta.get("sha256")

    with ThreadPoolExecutor(max_workers=job.options.workers) as pool:
        return dict(pool.map(head, objs))


def status(settings: Settings, registry: Registry, *, agents: Iterable[str] = (), client: S3Client | None = None,
           options: TransferOptions = DEFAULT_OPTIONS) -> SyncStatus:
    """New, changed and deleted files on each side since the last sync, and the conflicts."""
    job = _job(settings, registry, agents, client, options)
    comparison, refused = _compare(job)
    local: dict[str, list[str]] = {"new": [], "changed": [], "deleted": []}
    remote: dict[str, list[str]] = {"new": [], "changed": [], "deleted": []}
    conflicts = []
    for change in comparison.changes:
        if change.conflict:
            conflicts.append(change.describe())
        elif change.local:
            local[change.local].append(change.path)
        elif change.remote:
            remote[change.remote].append(change.path)
    return SyncStatus(job.remote.url, local, remote, conflicts, refused, comparison.unchanged)


def push(settings: Settings, registry: Registry, *, agents: Iterable[str] = (), delete: bool = False,
         prefer: Side | None = None, client: S3Client | None = None, options: TransferOptions = DEFAULT_OPTIONS,
         on_progress: ProgressSink | None = None) -> SyncResult:
    """Upload what changed locally; delete remote objects only with `delete`."""
    return _sync("push", _job(settings, registry, agents, client, options), delete, prefer, on_progress)


def pull(settings: Settings, registry: Registry, *, agents: Iterable[str] = (), delete: bool = False,
         prefer: Side | None = None, client: S3Client | None = None, options: TransferOptions = DEFAULT_OPTIONS,
         on_progress: ProgressSink | None = None) -> SyncResult:
    """Download what changed remotely; delete local files only with `delete`."""
    return _sync("pull", _job(settings, registry, agents, client, options), delete, prefer, on_progress)


def push_agent(settings: Settings, registry: Registry, slug: str, *, client: S3Client | None = None) -> SyncResult:
    """Push one agent's folder (what `sync.auto` does after a run)."""
    return push(settings, registry, agents=[slug], client=client)


def auto_push(settings: Settings, registry: Registry, slug: str) -> str | None:
    """Push after a run; a failure or conflict becomes a notice for the user, never an exception."""
    try:
        result = push_agent(settings, registry, slug)
    except MiaError as exc:
        return f"The agent's folder was not mirrored to R2: {exc.message} Retry with `mia sync push {slug}`."
    except Exception as exc:  # a finished research run must not crash on its mirror
        return f"The agent's folder was not mirrored to R2 ({type(exc).__name__}). Retry with `mia sync push {slug}`."
    if result.errors or result.conflicts:
        return (f"Mirroring to R2 left {len(result.errors)} error(s) and {len(result.conflicts)} conflict(s); "
                f"see `mia sync status {slug}`.")
    return None


def delete_remote_agent(settings: Settings, registry: Registry, slug: str, *,
                        client: S3Client | None = None) -> int:
    """Delete every object under the agent's prefix and forget its manifest rows; the count deleted."""
    job = _job(settings, registry, [], client, DEFAULT_OPTIONS)
    scope = f"agents/{check_slug(slug)}/"
    keys = [str(obj["Key"]) for obj in list_objects(job.client, job.remote, scope)]

    def delete(key: str) -> None:
        try:
            job.client.delete_object(Bucket=job.remote.bucket, Key=key)
        except Exception as exc:
            raise service_error(exc, job.remote, f"delete '{key}'") from None

    with ThreadPoolExecutor(max_workers=job.options.workers) as pool:
        list(pool.map(delete, keys))
    paths = list(load_manifest(registry, job.remote.ident, [scope]))
    save_manifest(registry, job.remote.ident, [], paths)
    return len(keys)


def _sync(direction: str, job: _Job, delete: bool, prefer: Side | None, on_progress: ProgressSink | None
          ) -> SyncResult:
    if prefer not in (None, "local", "remote"):
        raise UsageError(f"--prefer takes local or remote, not '{prefer}'.", None)
    started = time.monotonic()
    with _sync_lock(job.settings):
        for leftover in stale_temp_files(job.workspace.ensure(), job.scopes):
            leftover.unlink(missing_ok=True)
        comparison, refused = _compare(job)
        result = SyncResult(direction, job.remote.url, refused=refused, unchanged=comparison.unchanged)
        save_manifest(job.registry, job.remote.ident, comparison.refresh, comparison.forget)
        actions = _plan(direction, comparison.changes, delete, prefer, result)
        _run(job, actions, result, on_progress or (lambda kind, data: None))
    result.seconds = time.monotonic() - started
    return result


def _plan(direction: str, changes: list[Change], delete: bool, prefer: Side | None,
          result: SyncResult) -> list[tuple[str, Change]]:
    """Turn differences into actions; what is not this direction's job is counted as pending."""
    actions: list[tuple[str, Change]] = []
    for change in changes:
        if change.conflict:
            if prefer is None:
                result.conflicts.append(change.describe())
                continue
            side: Side = prefer
        else:
            side = "local" if direction == "push" else "remote"
            if (change.local if side == "local" else change.remote) is None:
                result.pending += 1
                continue
        state = change.local if side == "local" else change.remote
        if state == "deleted" and not delete:
            if change.conflict:
                result.conflicts.append({**change.describe(), "note": "the preferred side deleted it; add --delete"})
            else:
                result.kept.append(change.path)
            continue
        if state == "deleted":
            actions.append(("delete_remote" if side == "local" else "delete_local", change))
        else:
            actions.append(("upload" if side == "local" else "download", change))
    return actions


RECORDS = {"upload": "uploaded", "download": "downloaded", "delete_remote": "deleted_remote",
           "delete_local": "deleted_local"}


def _run(job: _Job, actions: list[tuple[str, Change]], result: SyncResult, progress: ProgressSink) -> None:
    """Run the actions on a bounded pool; record each success in the manifest as it lands."""
    sizes = [_size(kind, change) for kind, change in actions]
    progress("plan", {"files": len(actions), "bytes": sum(sizes)})
    if not actions:
        return

    lock = threading.Lock()

    def moved(n: int) -> None:
        with lock:
            result.bytes += n
        progress("bytes", {"bytes": n})

    mover = Mover(job.client, job.remote, job.workspace, job.options, moved)
    entries, forget = [], []
    pool = ThreadPoolExecutor(max_workers=job.options.workers)
    try:
        futures = {pool.submit(getattr(mover, kind), change): (kind, change) for kind, change in actions}
        for future in as_completed(futures):
            kind, change = futures[future]
            try:
                entry = future.result()
            except Exception as exc:
                result.errors.append({"path": change.path, "action": kind, "error": _describe(job, kind, change, exc)})
                continue
            getattr(result, RECORDS[kind]).append(change.path)
            if entry is None:
                forget.append(change.path)
            else:
                entries.append(entry)
            progress("file", {"path": change.path, "action": kind})
            if len(entries) + len(forget) >= SAVE_EVERY:
                save_manifest(job.registry, job.remote.ident, entries, forget)
                entries, forget = [], []
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        save_manifest(job.registry, job.remote.ident, entries, forget)
    for name in RECORDS.values():
        getattr(result, name).sort()


def _describe(job: _Job, kind: str, change: Change, exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"Cannot {kind.replace('_', ' ')} '{change.path}': {exc.strerror or exc}."
    return service_error(exc, job.remote, f"{kind.replace('_', ' ')} '{change.path}'").message


def _size(kind: str, change: Change) -> int:
    if kind == "upload" and change.local_file:
        return change.local_file.size
    if kind == "download" and change.remote_obj:
        return change.remote_obj.size
    return 0


@contextmanager
def _sync_lock(settings: Settings) -> Iterator[None]:
    """One push or pull at a time per MIA_HOME (it also makes sweeping stale temp files safe)."""
    path = settings.home / "sync.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MiaError("Another `mia sync` is still running for this workspace.",
                                   "Wait for it to finish, then run the command again.") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
