"""The workspace: plain folders of memory files, with every path confined to it."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path

from mia.errors import WorkspaceError
from mia.files import write_atomic, write_json

__all__ = ["Workspace", "check_slug", "slugify", "write_atomic", "write_json"]

SLUG_MAX = 48


def transliterate(text: str) -> str:
    """`text` in ASCII letters (anyascii): Cyrillic, Greek, Arabic, Hebrew, Indic scripts and CJK become their
    romanisations ('Лечение' -> 'Lechenie', '治疗' -> 'zhi liao'), so a question in any script names its agent."""
    from anyascii import anyascii

    parts = []
    for char in unicodedata.normalize("NFC", text):
        ascii_char = anyascii(char)
        ideograph = len(ascii_char) > 1 and unicodedata.name(char, "").startswith("CJK")
        parts.append(f" {ascii_char} " if ideograph else ascii_char)  # one syllable per ideograph: keep them apart
    return "".join(parts)


def slugify(text: str) -> str:
    """A readable folder name: 'DMD treatments?' -> 'dmd-treatments'; other scripts are transliterated."""
    ascii_text = transliterate(text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > SLUG_MAX:  # cut between words where one ends late enough, never in the middle of one
        cut = slug[:SLUG_MAX + 1]
        slug = cut[:cut.rindex("-")] if cut.rfind("-") >= SLUG_MAX // 2 else slug[:SLUG_MAX]
    slug = slug.rstrip("-")
    return slug or "agent"


SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise WorkspaceError(
            f"'{slug}' is not a valid agent name.",
            "Use lowercase letters, digits and dashes, starting with a letter or digit (at most 64).",
        )
    return slug


class Workspace:
    """A root folder; `resolve()` refuses any path that would land outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def resolve(self, relative: str | os.PathLike[str]) -> Path:
        """The absolute path of `relative` inside the workspace; '..', absolute paths and escaping links fail."""
        text = os.fspath(relative)
        if not text or "\x00" in text:
            raise WorkspaceError(f"'{text}' is not a usable path.", "Give a path relative to the workspace.")
        candidate = Path(text)
        if candidate.is_absolute():
            raise WorkspaceError(
                f"'{text}' is an absolute path; only paths inside the workspace are allowed.",
                f"Give a path relative to the workspace ({self.root}).",
            )
        if ".." in candidate.parts:
            raise WorkspaceError(f"'{text}' climbs out with '..'; only paths inside the workspace are allowed.",
                                 "Give a path relative to the workspace, without '..'.")
        root = self.root.resolve()
        resolved = (root / candidate).resolve()
        if resolved != root and root not in resolved.parents:
            raise WorkspaceError(f"'{text}' leads outside the workspace (through a symbolic link).",
                                 "Only files inside the workspace can be read or written.")
        return resolved

    def agent_dir(self, slug: str) -> Path:
        return self.resolve(Path("agents") / check_slug(slug))

    def read_text(self, relative: str) -> str:
        path = self.resolve(relative)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise WorkspaceError(f"'{relative}' does not exist in the workspace.", None) from None
        except IsADirectoryError:
            raise WorkspaceError(f"'{relative}' is a folder, not a file.", None) from None

    def write_text(self, relative: str, text: str) -> Path:
        path = self.resolve(relative)
        write_atomic(path, text)
        return path

    def list_files(self, relative: str = ".") -> list[str]:
        base = self.resolve(relative)
        if not base.exists():
            return []
        root = self.root.resolve()
        return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file())

    def remove_agent(self, slug: str) -> None:
        path = self.agent_dir(slug)
        if path.exists():
            shutil.rmtree(path)
