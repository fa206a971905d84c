"""Reading a person's own documents: pages of PDFs, sections of Word and Markdown, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.documents import make_broken_pdf, make_docx, make_encrypted_pdf, make_pdf, make_scanned_pdf

from mia.tools.documents import DocumentError, read_document

LIMIT = 10_000_000


def test_a_pdf_is_read_page_by_page_with_its_page_numbers(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "protocol.pdf", ["Study design and eligibility.", "",
                                               "The primary endpoint was dystrophin expression at week 48."])
    document = read_document(pdf, max_bytes=LIMIT)
    assert document.kind == "pdf" and document.name == "protocol.pdf"
    assert [p.location for p in document.pages] == ["p. 1", "p. 3"]  # the empty page 2 holds nothing to cite
    assert "dystrophin expression at week 48" in document.pages[1].text


def test_word_and_markdown_files_are_located_by_their_headings(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "notes.docx", [("Methods", "We randomised 40 boys."),
                                               ("Results", "The six-minute walk improved by 30 m.")])
    sections = read_document(docx, max_bytes=LIMIT).pages
    assert [s.location for s in sections] == ["Methods", "Results"] and "30 m" in sections[1].text
    md = tmp_path / "poster.md"
    md.write_text("Conference poster\n\n# Outcomes\n\nNo serious adverse events.\n", encoding="utf-8")
    assert [(s.location, s.text.splitlines()[-1]) for s in read_document(md, max_bytes=LIMIT).pages] == [
        ("", "Conference poster"), ("Outcomes", "No serious adverse events.")]


@pytest.mark.parametrize(("make", "expected", "hint"), [
    (lambda p: make_scanned_pdf(p), "no text layer", "OCR"),
    (lambda p: make_encrypted_pdf(p), "encrypted with a password", "unprotected copy"),
    (lambda p: make_broken_pdf(p), "not a readable PDF", "print it to a new PDF"),
])
def test_pdfs_mia_cannot_use_are_refused_with_the_reason_and_the_fix(tmp_path: Path, make, expected: str,
                                                                      hint: str) -> None:
    path = make(tmp_path / "paper.pdf")
    with pytest.raises(DocumentError) as caught:
        read_document(path, max_bytes=LIMIT)
    assert "'paper.pdf' was skipped" in caught.value.message and expected in caught.value.message
    assert hint in (caught.value.hint or "")


def test_too_large_unsupported_and_binary_files_are_refused(tmp_path: Path) -> None:
    big = make_pdf(tmp_path / "atlas.pdf", ["x " * 2000])
    with pytest.raises(DocumentError, match="mia reads documents of up to") as caught:
        read_document(big, max_bytes=1000)
    assert "files.max_mb" in (caught.value.hint or "")
    (tmp_path / "slides.pptx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DocumentError, match="not '.pptx'"):
        read_document(tmp_path / "slides.pptx", max_bytes=LIMIT)
    (tmp_path / "data.txt").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(DocumentError, match="binary data"):
        read_document(tmp_path / "data.txt", max_bytes=LIMIT)
    (tmp_path / "broken.docx").write_bytes(b"not a zip")
    with pytest.raises(DocumentError, match="not a readable Word document"):
        read_document(tmp_path / "broken.docx", max_bytes=LIMIT)


def test_a_scan_with_only_page_numbers_as_text_counts_as_having_no_text_layer(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "scan.pdf", [str(n) for n in range(1, 11)])
    with pytest.raises(DocumentError, match="no text layer"):
        read_document(pdf, max_bytes=LIMIT)
