"""An agent's own documents: copied into `files/` of its folder, read into pages, searched as the `file` source.

`files/index.json` lists the documents (name, kind, bytes, sha256, pages, added_at); `files/.pages/NAME.json`
holds each one's text by page or section. A document is copied through a temporary file and renamed, and
listed in the index last, so an interrupted add leaves nothing half-copied behind. Searching ranks the
passages of every page with the shared BM25 index (`mia.tools.passages`); each hit is one source per
(document, page), cited as "protocol.pdf, p. 12".
"""

from __future__ import annotations

import glob
import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mia.errors import NotFoundError, UsageError
from mia.files import atomic_open, write_json
from mia.models import Source, Usage
from mia.tools.documents import SUFFIXES, Document, DocumentError, read_document
from mia.tools.passages import Passage, PassageIndex, split_passages
from mia.tools.search import SearchResult

FILES_DIR = "files"
SERVICE = "your files"


@dataclass
class AddOutcome:
    """What adding documents did: names added (or replaced), and a one-paragraph message per file skipped."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def expand_paths(patterns: Iterable[str], *, exclude: Path | None = None) -> list[Path]:
    """Files named by `patterns`: paths, globs (`papers/*.pdf`, `**`) and folders (their readable files, recursively).

    Files under `exclude` (mia's own home: reports, other agents' copies) are left out of folders and globs.
    Raises UsageError when a pattern matches nothing, before anything is copied.
    """
    found: list[Path] = []
    for pattern in patterns:
        matches = [Path(p) for p in sorted(glob.glob(str(Path(pattern).expanduser()), recursive=True))]
        if not matches:
            raise UsageError(f"No file matches '{pattern}'.",
                             "Give existing paths, folders or globs, e.g. --files protocol.pdf papers/*.pdf")
        for match in matches:
            if match.is_dir():
                found += sorted(p for p in match.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                                and not any(part.startswith(".") for part in p.relative_to(match).parts))
            else:
                found.append(match)
    paths = [p.resolve() for p in found]
    if exclude is not None:
        home = exclude.resolve()
        paths = [p for p in paths if not p.is_relative_to(home)]
    return list(dict.fromkeys(paths))


class FileLibrary:
    """The documents in one agent's folder."""

    def __init__(self, agent_dir: Path) -> None:
        self.dir = agent_dir / FILES_DIR
        self.index_path = self.dir / "index.json"

    def entries(self) -> list[dict[str, Any]]:
        """The documents, each {name, kind, bytes, sha256, pages, added_at}, in the order they were added."""
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [e for e in data if isinstance(e, dict) and "name" in e] if isinstance(data, list) else []

    def add(self, paths: Iterable[Path], *, max_bytes: int) -> AddOutcome:
        """Read and copy each document; unreadable ones are skipped with their reason, the rest still added."""
        outcome = AddOutcome()
        entries = {e["name"]: e for e in self.entries()}
        for path in paths:
            try:
                document = read_document(path, max_bytes=max_bytes)
            except DocumentError as exc:
                outcome.skipped.append(f"{exc.message} {exc.hint or ''}".strip())
                continue
            digest = _sha256(path)
            if entries.get(document.name, {}).get("sha256") == digest:
                outcome.unchanged.append(document.name)
                continue
            entries[document.name] = self._store(path, document, digest)
            write_json(self.index_path, list(entries.values()))  # listed only once the copy is whole
            outcome.added.append(document.name)
        return outcome

    def remove(self, name: str) -> dict[str, Any]:
        """Take one document (and its passages) out; NotFoundError names the documents there are."""
        entries = self.entries()
        entry = next((e for e in entries if e["name"] == name), None)
        if entry is None:
            names = ", ".join(e["name"] for e in entries) or "none"
            raise NotFoundError(f"This agent has no file named '{name}'.", f"Its files: {names}.")
        write_json(self.index_path, [e for e in entries if e["name"] != name])  # unlisted first, then deleted
        (self.dir / name).unlink(missing_ok=True)
        self._pages_path(name).unlink(missing_ok=True)
        return entry

    def pages(self, name: str) -> list[dict[str, str]]:
        """A document's text as [{location, text}], the text quotes from it are checked against."""
        try:
            data = json.loads(self._pages_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [p for p in data if isinstance(p, dict)] if isinstance(data, list) else []

    def passages(self) -> list[Passage]:
        """Every page of every listed document, split into passages (doc = file name, location = page)."""
        found: list[Passage] = []
        for entry in self.entries():
            for page in self.pages(entry["name"]):
                found += split_passages(page.get("text", ""), doc=entry["name"], location=page.get("location", ""))
        return found

    def _store(self, path: Path, document: Document, digest: str) -> dict[str, Any]:
        self.dir.mkdir(parents=True, exist_ok=True)
        pages = self._pages_path(document.name)
        write_json(pages, [{"location": p.location, "text": p.text} for p in document.pages])
        try:
            with path.open("rb") as src, atomic_open(self.dir / document.name) as dst:
                shutil.copyfileobj(src, dst)
        except BaseException:
            if document.name not in {e["name"] for e in self.entries()}:
                pages.unlink(missing_ok=True)  # a new document: leave none of it behind
            raise
        return {"name": document.name, "kind": document.kind, "bytes": path.stat().st_size, "sha256": digest,
                "pages": len(document.pages), "added_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def _pages_path(self, name: str) -> Path:
        return self.dir / ".pages" / f"{name}.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cite_as(name: str, location: str) -> str:
    """How a file is named in a report: "protocol.pdf, p. 12" (or "notes.md, Methods")."""
    return f"{name}, {location}" if location else name


def page_text_of(url: str) -> str | None:
    """The whole text of the page a `file` source's URL points at (file:///…/files/NAME#page=N or #Heading).

    None when the URL is not one of an agent's documents or the document is gone. Quotes from a file are
    checked against this text, so a quote is verified on the page that is cited.
    """
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    path = Path(unquote(parts.path))
    if path.parent.name != FILES_DIR:
        return None
    fragment = unquote(parts.fragment)
    location = f"p. {fragment.removeprefix('page=')}" if fragment.startswith("page=") else fragment
    pages = FileLibrary(path.parent.parent).pages(path.name)
    texts = [p.get("text", "") for p in pages if p.get("location", "") == location]
    return "\n".join(texts) if texts else None


class FileSearch:
    """The `file` source: ranks the passages of an agent's documents against a query; free and offline."""

    name = "file"
    service = SERVICE
    price_per_request = 0.0

    def __init__(self, library: FileLibrary) -> None:
        self.library = library
        self._index: PassageIndex | None = None

    def index(self) -> PassageIndex:
        if self._index is None:  # built once per run; a run's documents do not change under it
            self._index = PassageIndex(self.library.passages())
        return self._index

    def search(self, query: str, *, max_results: int = 8) -> SearchResult:
        """The best pages for `query`: one Source per (document, page), its best passage as the snippet."""
        started = datetime.now(UTC)
        sources: dict[tuple[str, str], Source] = {}
        for passage, _score in self.index().rank(query, k=max_results * 3):
            key = (passage.doc, passage.location)
            if key in sources:
                continue
            sources[key] = Source(kind="file", url=self._url(passage), title=cite_as(passage.doc, passage.location),
                                  snippet=passage.text, query=query)
            if len(sources) == max_results:
                break
        latency = round((datetime.now(UTC) - started).total_seconds() * 1000)
        return SearchResult(sources=list(sources.values()),
                            usage=Usage(service=SERVICE, requests=0, latency_ms=latency))

    def _url(self, passage: Passage) -> str:
        uri = (self.library.dir / passage.doc).as_uri()
        page = passage.location.removeprefix("p. ")
        if page.isdigit():
            return f"{uri}#page={page}"  # the PDF open parameter viewers follow
        return f"{uri}#{quote(passage.location)}" if passage.location else uri
