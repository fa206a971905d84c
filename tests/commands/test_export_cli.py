"""`mia export`: each format written, then read back with a parser for that format."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fakes.finished_agent import make_finished_agent

from mia.commands.app import main

TITLES = ["Delandistrogene moxeparvovec gene therapy in ambulatory boys with DMD",
          "EMBARK: gene transfer therapy in Duchenne muscular dystrophy",
          "Givinostat for Duchenne muscular dystrophy (EPIDYS)", "FDA approves first gene therapy for DMD"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_finished_agent()


def export(capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str, *extra: str) -> Path:
    target = tmp_path / f"out.{fmt}".replace(".csljson", ".json")
    code, out, err = run(capsys, "export", "dmd-treatments", "--format", fmt, "--output", str(target), *extra)
    assert code == 0, err
    assert out == "" and f"to {target}" in err
    return target


class Page(HTMLParser):
    """What a browser would resolve: the title, every id, every link, and anything loaded from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.title, self.in_title = "", False
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (href, class)
        self.external: list[str] = []
        self.li_text: dict[str, str] = {}
        self._li: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "title":
            self.in_title = True
        if tag == "a":
            self.links.append((a.get("href", ""), a.get("class", "")))
        if tag in ("script", "link", "img", "iframe") or (tag == "link" and a.get("href")):
            self.external.append(tag)
        if tag == "li" and "id" in a:
            self._li = a["id"]
            self.li_text[self._li] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag == "li":
            self._li = None

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        if self._li:
            self.li_text[self._li] += data


def test_html_is_one_page_whose_citations_link_to_the_numbered_sources(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    page = Page()
    page.feed(export(capsys, tmp_path, "html").read_text(encoding="utf-8"))
    assert page.title == "DMD treatments" and page.external == []
    cites = [href for href, cls in page.links if cls == "cite"]
    assert cites == ["#src-1", "#src-2", "#src-3", "#src-4"]
    assert all(href[1:] in page.ids for href in cites)  # every citation lands on its source
    for n, title in enumerate(TITLES, start=1):
        assert page.li_text[f"src-{n}"].startswith(f"[{n}] {title}")
    hrefs = {href for href, _ in page.links}
    assert "https://pubmed.ncbi.nlm.nih.gov/38012345/" in hrefs
    assert "https://doi.org/10.1038/s41591-024-00001-x" in hrefs
    assert "https://clinicaltrials.gov/study/NCT05096221" in hrefs
    assert "#cite-1" in hrefs and "cite-1" in page.ids  # and back to the text
    assert "Vamorolone versus prednisone" in export(capsys, tmp_path, "html").read_text()  # also retrieved


def test_an_older_version_exports_its_own_citations(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = Page()
    page.feed(export(capsys, tmp_path, "html", "--version", "1").read_text(encoding="utf-8"))
    assert [href for href, cls in page.links if cls == "cite"] == ["#src-1", "#src-2"]
    assert set(page.li_text) == {"src-1", "src-2"}


def test_bibtex_holds_authors_title_journal_year_doi_pmid_url_and_trials_as_reports(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import bibtexparser
    import pypandoc

    path = export(capsys, tmp_path, "bibtex")
    library = bibtexparser.parse_string(path.read_text(encoding="utf-8"))
    assert not library.failed_blocks and len(library.entries) == 4
    paper = library.entries[0]
    fields = {f.key: f.value for f in paper.fields}
    assert paper.entry_type == "article" and fields["author"].startswith("Mendell, J. R. and Muntoni, F.")
    assert fields["journal"] == "Nature Medicine" and fields["year"] == "2024"
    assert fields["doi"] == "10.1038/s41591-024-00001-x" and fields["pmid"] == "38012345"
    assert fields["url"] == "https://pubmed.ncbi.nlm.nih.gov/38012345/"
    trial = {f.key: f.value for f in library.entries[1].fields}
    assert library.entries[1].entry_type == "techreport" and trial["number"] == "NCT05096221"
    csl = json.loads(pypandoc.convert_file(str(path), "csljson", format="bibtex"))  # pandoc's citeproc reads it
    assert [c["title"] for c in csl] == TITLES
    assert csl[0]["DOI"] == "10.1038/s41591-024-00001-x" and csl[0]["author"][0] == {"family": "Mendell",
                                                                                    "given": "J. R."}
    assert csl[1]["type"] == "report" and csl[1]["number"] == "NCT05096221"


def test_ris_holds_the_same_facts_for_endnote_and_zotero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import pypandoc
    import rispy

    path = export(capsys, tmp_path, "ris")
    entries = rispy.loads(path.read_text(encoding="utf-8"))
    assert [e["title"] for e in entries] == TITLES
    paper, trial = entries[0], entries[1]
    assert paper["type_of_reference"] == "JOUR" and paper["authors"][0] == "Mendell, J. R."
    assert paper["secondary_title"] == "Nature Medicine" and paper["year"] == "2024"
    assert paper["doi"] == "10.1038/s41591-024-00001-x" and paper["accession_number"] == "38012345"
    assert paper["urls"] == ["https://pubmed.ncbi.nlm.nih.gov/38012345/"]
    assert trial["type_of_reference"] == "RPRT" and trial["accession_number"] == "NCT05096221"
    csl = json.loads(pypandoc.convert_file(str(path), "csljson", format="ris"))
    assert csl[1]["author"] == [{"family": "Sarepta Therapeutics"}]  # a sponsor stays one name
    assert csl[0]["container-title"] == "Nature Medicine"


def test_csljson_renders_as_a_bibliography_in_pandoc_citeproc(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    import pypandoc

    path = export(capsys, tmp_path, "csljson")
    items = json.loads(path.read_text(encoding="utf-8"))
    assert [i["type"] for i in items] == ["article-journal", "report", "article-journal", "webpage"]
    assert items[0]["PMID"] == "38012345" and items[0]["issued"] == {"date-parts": [[2024, 5]]}
    assert items[1]["number"] == "NCT05096221"
    text = pypandoc.convert_text('---\nnocite: "@*"\n---\n', "plain", format="markdown",
                                 extra_args=["--citeproc", f"--bibliography={path}"])
    assert "Mendell, J. R." in text and "Nature Medicine" in text and "NCT05096221" in text


def test_docx_has_the_title_citations_and_linked_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import docx

    path = export(capsys, tmp_path, "docx")
    document = docx.Document(str(path))
    text = "\n".join(p.text for p in document.paragraphs)
    assert text.startswith("DMD treatments") and "ambulatory boys [1]" in text
    assert all(title in text for title in TITLES)
    rels = zipfile.ZipFile(path).read("word/_rels/document.xml.rels").decode()
    assert "https://pubmed.ncbi.nlm.nih.gov/38012345/" in rels and "https://doi.org/10.1038" in rels


def test_pdf_has_the_title_citations_and_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(export(capsys, tmp_path, "pdf").read_bytes()))
    text = " ".join((page.extract_text() or "") for page in reader.pages).replace("\n", " ")
    assert text.startswith("DMD treatments") and "ambulatory boys [1]" in text
    assert "[4] FDA approves first gene therapy for DMD" in text and "NCT05096221" in text
    links = [a.get_object() for page in reader.pages for a in page.get("/Annots", [])]
    uris = [link["/A"].get("/URI") for link in links if "/A" in link]
    assert "https://pubmed.ncbi.nlm.nih.gov/38012345/" in uris and "https://doi.org/10.1038/s41591-024-00001-x" in uris
    assert sum("/Dest" in link for link in links) >= 4  # each citation jumps to its source in the PDF


def test_the_default_file_is_named_after_the_agent_and_version(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    code, _, err = run(capsys, "export", "dmd-treatments", "--format", "ris", "--json")
    assert code == 0 and (tmp_path / "dmd-treatments-v2.ris").exists()
    assert err == ""


def test_without_the_export_extra_docx_says_the_exact_install_command(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypandoc", None)  # as if pypandoc-binary were not installed
    code, out, err = run(capsys, "export", "dmd-treatments", "--format", "docx")
    assert code == 1 and out == "" and "Traceback" not in err
    assert "pip install 'mia[export]'" in err and not list(tmp_path.glob("*.docx"))


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "odt"], "Unknown export format 'odt'"),
    (["--format", "pdf", "--output", "-"], "binary format"),
    (["--format", "html", "--version", "5"], "has no report v5"),
    (["--format", "html", "--output", "/nonexistent/dir/x.html"], "does not exist"),
])
def test_bad_export_requests_are_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str],
                                              message: str) -> None:
    code, out, err = run(capsys, "export", "dmd-treatments", *args)
    assert code == 2 and out == "" and message in err


def test_help_tells_mia_export_and_agents_export_apart(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "export", "--help")
    assert "mia agents export" in " ".join(out.split())
    _, out, _ = run(capsys, "agents", "export", "--help")
    assert "mia export AGENT" in " ".join(out.split())
