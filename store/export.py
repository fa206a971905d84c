"""A portable archive of one agent: its whole folder plus its registry rows as JSON, written atomically."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mia import __version__
from mia.errors import UsageError
from mia.files import atomic_open
from mia.settings import Settings
from mia.store.agents import get_agent
from mia.store.db import Registry, utcnow
from mia.store.workspace import Workspace

FORMAT = "mia-agent-export"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ExportResult:
    """Where the archive went and what is in it."""

    path: Path
    agent: str
    files: int
    bytes: int


def archive_kind(path: Path) -> str:
    """'zip' or 'tar.gz', from the file name."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    raise UsageError(f"Cannot tell the archive format of '{path}'.", "Name it NAME.tar.gz or NAME.zip.")


def registry_rows(registry: Registry, agent_id: str) -> dict[str, Any]:
    """The agent's row and its runs, run steps and usage, as plain JSON-able rows."""
    runs = registry.query("SELECT * FROM runs WHERE agent_id = ? ORDER BY created_at, rowid", (agent_id,))
    steps = registry.query(
        "SELECT s.* FROM run_steps s JOIN runs r ON r.id = s.run_id WHERE r.agent_id = ? ORDER BY r.created_at, s.seq",
        (agent_id,))
    usage = registry.query("SELECT * FROM usage WHERE agent_id = ? OR run_id IN (SELECT id FROM runs WHERE "
                           "agent_id = ?) ORDER BY id", (agent_id, agent_id))
    return {"agent": registry.one("SELECT * FROM agents WHERE id = ?", (agent_id,)), "runs": runs,
            "run_steps": steps, "usage": usage}


def agent_files(folder: Path) -> list[Path]:
    """Every regular file of the folder; temporary dotfiles of unfinished writes and links are left out."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
                  and not (p.name.startswith(".") and p.name.endswith(".tmp")))


def export_agent(settings: Settings, registry: Registry, ref: str, output: Path | None = None) -> ExportResult:
    """Write `output` (default ./SLUG-YYYYmmdd-HHMMSS.tar.gz) through a temporary file and a rename."""
    agent = get_agent(registry, ref)
    output = output or Path.cwd() / f"{agent.slug}-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
    kind = archive_kind(output)
    folder = Workspace(settings.workspace_root).agent_dir(agent.slug)
    files = agent_files(folder)
    members: dict[str, bytes | Path] = {f"{agent.slug}/files/{p.relative_to(folder).as_posix()}": p for p in files}
    for name, rows in registry_rows(registry, agent.id).items():
        members[f"{agent.slug}/registry/{name}.json"] = _json(rows)
    listing = [{"path": p.relative_to(folder).as_posix(), "size": p.stat().st_size, "sha256": _sha(p)} for p in files]
    members[f"{agent.slug}/manifest.json"] = _json({
        "format": FORMAT, "version": FORMAT_VERSION, "mia_version": __version__, "exported_at": utcnow(),
        "agent": agent.slug, "files": listing})
    with atomic_open(output) as fh:
        if kind == "zip":
            _write_zip(fh, members)
        else:
            _write_tar(fh, members)
    return ExportResult(output, agent.slug, len(files), sum(p.stat().st_size for p in files))


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def _sha(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _write_tar(fh: Any, members: dict[str, bytes | Path]) -> None:
    with tarfile.open(fileobj=fh, mode="w:gz") as tar:
        for name, item in members.items():
            if isinstance(item, Path):
                tar.add(str(item), arcname=name, recursive=False)
            else:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(item), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(item))


def _write_zip(fh: Any, members: dict[str, bytes | Path]) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, item in members.items():
            if isinstance(item, Path):
                archive.write(item, arcname=name)
            else:
                archive.writestr(name, item)
