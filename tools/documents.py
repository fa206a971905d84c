"""Reading a person's own documents (PDF, DOCX, Markdown, plain text) into text with its location.

PDF text comes from pypdf, page by page, so every passage keeps its page number ("p. 12"); DOCX from
python-docx, paragraph by paragraph, located by the heading it stands under (Word files carry no page
numbers: pages are decided by whatever program lays the document out). Markdown and text files are located by
their headings in the same way. A document mia cannot read raises DocumentError with a one-paragraph reason and
what to do about it; the caller skips that file and keeps the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mia.errors import MiaError

SUFFIXES = {".pdf": "pdf", ".docx": "docx", ".md": "markdown", ".markdown": "markdown", ".txt": "text",
            ".text": "text"}
MIN_TEXT_CHARS = 20  # a PDF whose pages hold fewer characters than this on average has no real text layer
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


class DocumentError(MiaError):
    """A local document cannot be read (unsupported, too large, scanned, encrypted, broken)."""


@dataclass
class Page:
    """A stretch of a document's text and where it stands: "p. 12" for a PDF page, a heading otherwise."""

    location: str
    text: str


@dataclass
class Document:
    """A document read into text: its file name, kind (pdf, docx, markdown, text) and pages or sections."""

    name: str
    kind: str
    pages: list[Page]

    @property
    def chars(self) -> int:
        return sum(len(p.text) for p in self.pages)


def document_kind(path: Path) -> str:
    """The kind of document `path` is, by its suffix; DocumentError for anything mia does not read."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DocumentError(
            f"'{path.name}' was skipped: mia reads PDF, DOCX, Markdown and plain-text files, not "
            f"'{path.suffix or 'files without a suffix'}'.",
            "Save or export it as PDF, DOCX, Markdown (.md) or text (.txt) and add it again.")
    return kind


def read_document(path: Path, *, max_bytes: int) -> Document:
    """Read `path` into pages of text. Raises DocumentError (message + hint) when it cannot be used."""
    kind = document_kind(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"'{path}' was skipped: it cannot be read ({exc.strerror or exc}).",
                            "Check the path and its permissions.") from None
    if size > max_bytes:
        raise DocumentError(
            f"'{path.name}' was skipped: it is {size / 1e6:.1f} MB and mia reads documents of up to "
            f"{max_bytes / 1e6:.0f} MB.", "Split it into parts, or raise the limit with "
            "`mia config set files.max_mb N`.")
    reader = {"pdf": _read_pdf, "docx": _read_docx}.get(kind, _read_text)
    read = reader(path)
    document = Document(name=path.name, kind=kind, pages=[p for p in read if p.text.strip()])
    # A scan often carries a few stray characters per page (page numbers, a stamp): judge by the average.
    if document.chars < (MIN_TEXT_CHARS * max(len(read), 1) if kind == "pdf" else 1):
        if kind == "pdf":
            raise DocumentError(
                f"'{path.name}' was skipped: its pages have no text layer (a scanned document or pictures of "
                "text), so there is nothing mia can search or quote.",
                "Run it through OCR first (for example `ocrmypdf in.pdf out.pdf`) and add the result.")
        raise DocumentError(f"'{path.name}' was skipped: it holds no text.", "Check that it is the right file.")
    return document


def _read_pdf(path: Path) -> list[Page]:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    broken = DocumentError(f"'{path.name}' was skipped: it is not a readable PDF (damaged or incomplete).",
                           "Open it in a PDF viewer; if it opens there, print it to a new PDF and add that.")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes about damaged files are not for people
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):  # an empty user password opens many "protected" PDFs
            raise FileNotDecryptedError("password required")
        return [Page(f"p. {n}", page.extract_text() or "") for n, page in enumerate(reader.pages, start=1)]
    except (FileNotDecryptedError, DependencyError):
        raise DocumentError(f"'{path.name}' was skipped: it is encrypted with a password.",
                            "Save an unprotected copy (for example `qpdf --decrypt --password=... in.pdf out.pdf`) "
                            "and add that.") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        raise broken from None  # pypdf meets damaged files with assorted exceptions
    except OSError as exc:
        raise DocumentError(f"'{path.name}' was skipped: it cannot be read ({exc.strerror or exc}).",
                            "Check the file and its permissions.") from None


def _read_docx(path: Path) -> list[Page]:
    import zipfile

    from docx import Document as open_docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = open_docx(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise DocumentError(f"'{path.name}' was skipped: it is not a readable Word document (damaged, "
                            "password-protected, or an old .doc renamed).",
                            "Open it in a word processor, save it again as .docx (without a password), "
                            "and add that.") from None
    sections: list[Page] = []
    heading, lines = "", list[str]()
    for paragraph in doc.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.lower().startswith(("heading", "title")) and paragraph.text.strip():
            sections.append(Page(heading, "\n\n".join(lines)))
            heading, lines = paragraph.text.strip()[:80], []
        lines.append(paragraph.text)
    for table in doc.tables:
        lines.extend(" | ".join(cell.text for cell in row.cells) for row in table.rows)
    sections.append(Page(heading, "\n\n".join(lines)))
    return sections


def _read_text(path: Path) -> list[Page]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("latin-1")  # never fails; old exports are often Windows-1252/Latin-1
    except OSError as exc:
        raise DocumentError(f"'{path.name}' was skipped: it cannot be read ({exc.strerror or exc}).",
                            "Check the file and its permissions.") from None
    if "\x00" in text:
        raise DocumentError(f"'{path.name}' was skipped: it is binary data, not text.",
                            "Add the document itself (PDF, DOCX, Markdown or text).")
    sections: list[Page] = []
    heading, lines = "", list[str]()
    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match:
            sections.append(Page(heading, "\n".join(lines)))
            heading, lines = match.group(1)[:80], []
        lines.append(line)
    sections.append(Page(heading, "\n".join(lines)))
    return sections
