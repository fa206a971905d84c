"""An agent's written reports as people read them: versions, sources, change notes, diffs."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mia.errors import UsageError, WorkspaceError
from mia.models import Source

_VERSION_FILE = re.compile(r"^v(\d+)\.md$")
_NOTE_TARGET = re.compile(r"Compared with report v(\d+);.*?;\s*(?:report v(\d+)|no new report version)")
_NOTE_DATE = re.compile(r"^# What changed: .*?, (\S+)\s*$", re.MULTILINE)


@dataclass
class ChangeNote:
    """One `changes/` note: the versions it compares (`new_version` None: nothing new was written)."""

    path: Path
    stamp: str
    date: str
    previous_version: int | None
    new_version: int | None
    text: str

    @property
    def summary(self) -> str:
        """The note's first content line after the header, e.g. '## New papers (2)' or 'Nothing material...'."""
        for line in self.text.splitlines()[3:]:
            if line.strip():
                return line.lstrip("# ").strip()
        return ""


class AgentReports:
    """The report files in one agent's folder (`report.md`, `reports/vN.md`, `sources.json`, `changes/`)."""

    def __init__(self, folder: Path, slug: str) -> None:
        self.folder, self.slug = folder, slug

    def versions(self) -> list[int]:
        """The report versions on disk, oldest first ([] before the first report)."""
        folder = self.folder / "reports"
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION_FILE.match(p.name)))

    def latest(self) -> int:
        """The newest version; a WorkspaceError (with what to do) when there is none yet."""
        versions = self.versions()
        if not versions and not (self.folder / "report.md").exists():
            raise WorkspaceError(f"Agent '{self.slug}' has no report yet.",
                                 f"Its run may still be going or may have failed: `mia agents show {self.slug}`.")
        return versions[-1] if versions else 1

    def check_version(self, version: int | None) -> int:
        """`version` if it exists (None means the latest); a UsageError naming the existing ones if not."""
        latest = self.latest()
        if version is None:
            return latest
        versions = self.versions() or [latest]
        if version not in versions:
            raise UsageError(f"Agent '{self.slug}' has no report v{version}.",
                             f"Its versions: {', '.join(f'v{v}' for v in versions)}.")
        return version

    def path(self, version: int | None = None) -> Path:
        """The Markdown file of `version` (the latest when None)."""
        number = self.check_version(version)
        versioned = self.folder / "reports" / f"v{number}.md"
        return versioned if versioned.exists() else self.folder / "report.md"

    def markdown(self, version: int | None = None) -> str:
        """The report's Markdown text."""
        return self.path(version).read_text(encoding="utf-8")

    def sources(self) -> list[Source]:
        """Every source the latest run retrieved, by report number ([] when sources.json is missing or unreadable)."""
        try:
            raw: Any = json.loads((self.folder / "sources.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(raw, list):
            return []
        out = []
        for item in raw:
            try:
                out.append(Source.model_validate(item))
            except ValueError:
                continue
        return sorted(out, key=lambda s: (s.number is None, s.number or 0))

    def change_notes(self) -> list[ChangeNote]:
        """The `changes/` notes, oldest first."""
        folder = self.folder / "changes"
        if not folder.is_dir():
            return []
        notes = []
        for path in sorted(folder.glob("*.md")):
            text = path.read_text(encoding="utf-8")
            target = _NOTE_TARGET.search(text)
            date = _NOTE_DATE.search(text)
            notes.append(ChangeNote(
                path=path, stamp=path.stem, date=date.group(1) if date else path.stem[:8], text=text,
                previous_version=int(target.group(1)) if target else None,
                new_version=int(target.group(2)) if target and target.group(2) else None))
        return notes

    def diff(self, old: int | None = None, new: int | None = None) -> list[str]:
        """The unified diff (lines without newlines) from version `old` to `new`.

        Defaults: `new` is the latest, `old` the version before `new`. A UsageError when there is only one
        version or a version does not exist.
        """
        versions = self.versions()
        new = self.check_version(new)
        if old is None:
            earlier = [v for v in versions if v < new]
            if not earlier:
                raise UsageError(f"Agent '{self.slug}' has only report v{new}: there is nothing to compare it with.",
                                 f"Follow-ups write new versions: `mia triggers add {self.slug} --every 1w`.")
            old = earlier[-1]
        old = self.check_version(old)
        before = self.markdown(old).splitlines()
        after = self.markdown(new).splitlines()
        return list(difflib.unified_diff(before, after, fromfile=f"{self.slug}/v{old}.md",
                                         tofile=f"{self.slug}/v{new}.md", lineterm=""))



def agent_reports(workspace_root: Path, slug: str) -> AgentReports:
    """The reports of agent `slug` under the workspace root."""
    from mia.store.workspace import Workspace

    return AgentReports(Workspace(workspace_root).agent_dir(slug), slug)
