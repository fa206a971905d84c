"""What a sync would do: the local tree, the remote listing and the manifest of the last sync, compared."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mia.store.db import Registry, utcnow

TEMP_SUFFIX = ".mia-sync.tmp"


@dataclass(frozen=True)
class LocalFile:
    """A regular file in the workspace, as scanned (sha256 filled in when it was needed)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None = None


@dataclass(frozen=True)
class RemoteObject:
    """An object under the prefix, by its workspace-relative path."""

    key: str
    path: str
    size: int
    etag: str


@dataclass(frozen=True)
class Entry:
    """One manifest row: the file as both sides had it after the last sync."""

    path: str
    size: int
    sha256: str
    mtime_ns: int
    etag: str


@dataclass
class Change:
    """A path that differs since the last sync: new/changed/deleted on each side (None = untouched)."""

    path: str
    local: str | None
    remote: str | None
    local_file: LocalFile | None
    remote_obj: RemoteObject | None
    base: Entry | None

    @property
    def conflict(self) -> bool:
        return self.local is not None and self.remote is not None

    def describe(self) -> dict[str, str | None]:
        return {"path": self.path, "local": self.local, "remote": self.remote}


@dataclass
class Comparison:
    """Every difference, plus manifest rows to refresh or drop without moving any bytes."""

    changes: list[Change] = field(default_factory=list)
    refresh: list[Entry] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    unchanged: int = 0


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def is_hidden(name: str) -> bool:
    """Dotfiles (temporary files of atomic writes and downloads) are never mirrored."""
    return name.startswith(".")


def scan_local(root: Path, scopes: Iterable[str], *, exclude: Iterable[Path] = ()) -> dict[str, LocalFile]:
    """Regular files under each scope ('' = the whole workspace); links, dotfiles and `exclude` are skipped."""
    base = os.fspath(root)
    excluded = {os.fspath(p) for p in exclude}
    found: dict[str, LocalFile] = {}
    stack = [os.path.join(base, scope) if scope else base for scope in scopes]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if is_hidden(entry.name) or entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False) and entry.path not in excluded:
                stat = entry.stat(follow_symlinks=False)
                rel = entry.path[len(base) + 1:].replace(os.sep, "/")
                found[rel] = LocalFile(rel, stat.st_size, stat.st_mtime_ns)
    return found


def stale_temp_files(root: Path, scopes: Iterable[str]) -> list[Path]:
    """Temporary files an interrupted download left behind."""
    leftovers: list[Path] = []
    for scope in scopes:
        base = root / scope if scope else root
        if base.is_dir():
            leftovers += [p for p in base.rglob(f".*{TEMP_SUFFIX}") if p.is_file() and not p.is_symlink()]
    return leftovers


def load_manifest(registry: Registry, remote: str, scopes: Iterable[str]) -> dict[str, Entry]:
    rows: list[dict[str, object]] = []
    for scope in scopes:
        rows += registry.query("SELECT * FROM sync_manifest WHERE remote = ? AND substr(path, 1, ?) = ?",
                               (remote, len(scope), scope))
    return {str(r["path"]): Entry(str(r["path"]), int(str(r["size"])), str(r["sha256"]), int(str(r["mtime_ns"])),
                                  str(r["etag"])) for r in rows}


def save_manifest(registry: Registry, remote: str, entries: Iterable[Entry], forget: Iterable[str] = ()) -> None:
    """Record what both sides now hold, in one transaction."""
    now = utcnow()
    with registry.write() as db:
        db.conn.executemany(
            "INSERT INTO sync_manifest (remote, path, size, sha256, mtime_ns, etag, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(remote, path) DO UPDATE SET size = excluded.size, "
            "sha256 = excluded.sha256, mtime_ns = excluded.mtime_ns, etag = excluded.etag, "
            "synced_at = excluded.synced_at",
            [(remote, e.path, e.size, e.sha256, e.mtime_ns, e.etag, now) for e in entries])
        db.conn.executemany("DELETE FROM sync_manifest WHERE remote = ? AND path = ?", [(remote, p) for p in forget])


def _local_state(local: LocalFile | None, base: Entry | None, root: Path) -> tuple[str | None, LocalFile | None]:
    """('new'|'changed'|'deleted'|None, the file with its sha256); hashes only when size or mtime moved."""
    if local is None:
        return ("deleted" if base else None), None
    if base and local.size == base.size and local.mtime_ns == base.mtime_ns:
        return None, LocalFile(local.path, local.size, local.mtime_ns, base.sha256)
    hashed = LocalFile(local.path, local.size, local.mtime_ns, sha256_file(root / local.path))
    if base is None:
        return "new", hashed
    return (None if hashed.sha256 == base.sha256 else "changed"), hashed


def _remote_state(remote: RemoteObject | None, base: Entry | None) -> str | None:
    if remote is None:
        return "deleted" if base else None
    if base is None:
        return "new"
    return None if remote.etag == base.etag else "changed"


def compare(root: Path, local: dict[str, LocalFile], remote: dict[str, RemoteObject], base: dict[str, Entry],
            remote_sha: Callable[[list[RemoteObject]], dict[str, str | None]]) -> Comparison:
    """Three-way comparison; a path changed on both sides to the same bytes is not a conflict."""
    result = Comparison()
    both: list[Change] = []
    for path in sorted(set(local) | set(remote) | set(base)):
        entry, obj = base.get(path), remote.get(path)
        local_change, file = _local_state(local.get(path), entry, root)
        remote_change = _remote_state(obj, entry)
        if local_change is None and remote_change is None and file and entry:
            result.unchanged += 1
            if file.mtime_ns != entry.mtime_ns:  # touched, same bytes: remember the new mtime
                result.refresh.append(Entry(path, file.size, entry.sha256, file.mtime_ns, entry.etag))
            continue
        change = Change(path, local_change, remote_change, file, obj, entry)
        if local_change == remote_change == "deleted":
            result.forget.append(path)
        elif file is not None and obj is not None and change.conflict:
            both.append(change)
        else:
            result.changes.append(change)
    shas = remote_sha([c.remote_obj for c in both if c.remote_obj]) if both else {}
    for change in both:
        assert change.local_file is not None and change.remote_obj is not None
        if shas.get(change.path) == change.local_file.sha256:
            f = change.local_file
            result.refresh.append(Entry(f.path, f.size, str(f.sha256), f.mtime_ns, change.remote_obj.etag))
            result.unchanged += 1
        else:
            result.changes.append(change)
    result.changes.sort(key=lambda c: c.path)
    return result
