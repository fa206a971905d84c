"""Small real documents built in a test: PDFs with a text layer (fpdf2), a scanned-like PDF with none, an
encrypted PDF (pypdf), a damaged PDF, and a Word file (python-docx)."""

from __future__ import annotations

from pathlib import Path


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF whose page n holds `pages[n - 1]` as real text (Helvetica, so Latin-1 only)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF of pictures only (filled shapes where a scan's image would be): no text layer at all."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.set_fill_color(200, 200, 200)
        pdf.rect(20, 20, 170, 250, style="F")
    pdf.output(str(path))
    return path


def make_encrypted_pdf(path: Path, text: str = "Confidential protocol text on the first page.") -> Path:
    """A PDF that needs a password to open (AES-256)."""
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(path.with_suffix(".plain.pdf"), [text])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    with path.open("wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def make_broken_pdf(path: Path) -> Path:
    """The first bytes of a PDF and then nothing: a download cut short."""
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Ty")
    return path


def make_docx(path: Path, sections: list[tuple[str, str]]) -> Path:
    """A Word file with a heading and a paragraph per (heading, text)."""
    from docx import Document

    doc = Document()
    for heading, text in sections:
        doc.add_heading(heading, level=1)
        doc.add_paragraph(text)
    doc.save(str(path))
    return path
