"""An agent's own documents: copied whole or not at all, searched by BM25, one source per page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.documents import make_encrypted_pdf, make_pdf

from mia.errors import NotFoundError, UsageError
from mia.tools.local_files import FileLibrary, FileSearch, expand_paths

LIMIT = 10_000_000


def two_pdfs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_pdf(folder / "protocol.pdf", ["Eligibility: boys aged 4 to 7 with DMD.",
                                               "The primary endpoint was dystrophin expression at week 48."]),
            make_pdf(folder / "poster.pdf", ["Six-minute walk distance improved by 30 metres versus placebo."])]


def test_documents_are_copied_listed_and_searched_with_their_page(tmp_path: Path) -> None:
    library = FileLibrary(tmp_path / "agent")
    outcome = library.add(two_pdfs(tmp_path / "in"), max_bytes=LIMIT)
    assert outcome.added == ["protocol.pdf", "poster.pdf"] and not outcome.skipped
    assert [(e["name"], e["kind"], e["pages"]) for e in library.entries()] == [("protocol.pdf", "pdf", 2),
                                                                              ("poster.pdf", "pdf", 1)]
    assert (tmp_path / "agent" / "files" / "protocol.pdf").read_bytes()[:5] == b"%PDF-"
    result = FileSearch(library).search("dystrophin expression endpoint", max_results=3)
    best = result.sources[0]
    assert best.kind == "file" and best.title == "protocol.pdf, p. 2"
    assert best.url.endswith("/files/protocol.pdf#page=2") and "week 48" in best.snippet
    assert result.usage.cost_usd == 0


def test_an_unreadable_document_is_skipped_and_the_others_are_still_added(tmp_path: Path) -> None:
    paths = [*two_pdfs(tmp_path / "in"), make_encrypted_pdf(tmp_path / "in" / "locked.pdf")]
    outcome = FileLibrary(tmp_path / "agent").add(paths, max_bytes=LIMIT)
    assert outcome.added == ["protocol.pdf", "poster.pdf"]
    assert len(outcome.skipped) == 1 and "'locked.pdf' was skipped: it is encrypted" in outcome.skipped[0]
    assert not (tmp_path / "agent" / "files" / "locked.pdf").exists()


def test_adding_the_same_document_again_changes_nothing(tmp_path: Path) -> None:
    library = FileLibrary(tmp_path / "agent")
    paths = two_pdfs(tmp_path / "in")
    library.add(paths, max_bytes=LIMIT)
    again = library.add(paths, max_bytes=LIMIT)
    assert again.added == [] and again.unchanged == ["protocol.pdf", "poster.pdf"]


def test_a_copy_that_fails_half_way_leaves_no_file_and_no_listing(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    library = FileLibrary(tmp_path / "agent")
    calls = {"n": 0}

    def fail_midway(src, dst, *args):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        dst.write(src.read(100))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mia.tools.local_files.shutil.copyfileobj", fail_midway)
    with pytest.raises(OSError):
        library.add(two_pdfs(tmp_path / "in"), max_bytes=LIMIT)
    assert calls["n"] == 1 and library.entries() == []
    assert not [p for p in (tmp_path / "agent" / "files").rglob("*") if p.is_file()]


def test_removing_a_document_removes_its_passages(tmp_path: Path) -> None:
    library = FileLibrary(tmp_path / "agent")
    library.add(two_pdfs(tmp_path / "in"), max_bytes=LIMIT)
    library.remove("protocol.pdf")
    assert [e["name"] for e in library.entries()] == ["poster.pdf"]
    assert not (tmp_path / "agent" / "files" / "protocol.pdf").exists()
    assert FileSearch(library).search("dystrophin expression", max_results=3).sources == []
    with pytest.raises(NotFoundError, match="no file named 'protocol.pdf'") as caught:
        library.remove("protocol.pdf")
    assert "poster.pdf" in (caught.value.hint or "")
    assert json.loads(library.index_path.read_text())[0]["name"] == "poster.pdf"


def test_paths_globs_and_folders_expand_to_readable_files(tmp_path: Path) -> None:
    pdfs = two_pdfs(tmp_path / "papers")
    (tmp_path / "papers" / "sub").mkdir()
    (tmp_path / "papers" / "sub" / "notes.md").write_text("# Notes\n\ntext\n")
    (tmp_path / "papers" / "image.png").write_bytes(b"\x89PNG")
    assert expand_paths([str(tmp_path / "papers" / "*.pdf")]) == sorted(p.resolve() for p in pdfs)
    folder = expand_paths([str(tmp_path / "papers")])
    assert {p.name for p in folder} == {"protocol.pdf", "poster.pdf", "notes.md"}
    with pytest.raises(UsageError, match="No file matches"):
        expand_paths([str(tmp_path / "missing" / "*.pdf")])


def test_a_folder_that_holds_mias_own_home_does_not_add_mias_files(tmp_path: Path) -> None:
    two_pdfs(tmp_path / "work")
    home = tmp_path / "work" / "mia-home"
    (home / "workspace" / "agents" / "a").mkdir(parents=True)
    (home / "workspace" / "agents" / "a" / "report.md").write_text("# Report\n")
    names = {p.name for p in expand_paths([str(tmp_path / "work")], exclude=home)}
    assert names == {"protocol.pdf", "poster.pdf"}
