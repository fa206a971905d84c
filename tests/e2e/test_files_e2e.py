"""Research with the person's own documents, end to end: the installed mia, real PDFs, the loopback fakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fakes.documents import make_pdf, make_scanned_pdf

from .conftest import Mia


def documents(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_pdf(folder / "protocol.pdf", ["Eligibility: boys aged 4 to 7 with Duchenne muscular dystrophy.",
                                               "Primary endpoint: dystrophin expression in DMD treatments at week "
                                               "48 measured by western blot."]),
            make_pdf(folder / "poster.pdf", ["DMD treatments: the six-minute walk improved by 30 metres."])]


def test_research_with_two_local_pdfs_cites_them_by_page(mia: Mia, tmp_path: Path, mia_home: Path) -> None:
    pdfs = documents(tmp_path / "in")
    scanned = make_scanned_pdf(tmp_path / "in" / "scan.pdf")
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--sources", "pubmed,file",
                     "--files", str(pdfs[0]), "--files", str(pdfs[1]), "--files", str(scanned), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    folder = mia_home / "workspace" / "agents" / out["name"]
    report = (folder / "report.md").read_text()
    assert "'scan.pdf' was skipped: its pages have no text layer" in report  # a note at the top, with the fix
    sources = json.loads((folder / "sources.json").read_text())
    files = {s["title"]: s["number"] for s in sources if s["kind"] == "file"}
    assert {"protocol.pdf, p. 2", "poster.pdf, p. 1"} <= set(files)
    body, listing = report.split("\n## Sources", 1)
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    assert files["protocol.pdf, p. 2"] in cited
    assert re.search(rf"\[{files['protocol.pdf, p. 2']}\] \[protocol\.pdf, p\. 2\]\(file://\S+#page=2\) — Your file",
                     listing)
    claims = json.loads((folder / "evidence" / "claims.json").read_text())
    from_files = [c for c in claims if c["source"] in files.values()]
    assert from_files and {c["quote_check"] for c in from_files} == {"verified"}  # checked against the page
    assert (folder / "files" / "protocol.pdf").exists() and not (folder / "files" / "scan.pdf").exists()
    shown = json.loads(mia.run("agents", "show", out["name"], "--json").stdout)
    assert [f["name"] for f in shown["files"]] == ["protocol.pdf", "poster.pdf"] and "file" in shown["sources"]


def test_files_added_to_an_agent_later_are_listed_and_one_can_be_removed(mia: Mia, tmp_path: Path) -> None:
    pdfs = documents(tmp_path / "in")
    assert mia.run("research", "DMD treatments", "--depth", "quick", "--sources", "pubmed",
                   "--name", "dmd").returncode == 0
    added = mia.run("agents", "add-files", "dmd", str(tmp_path / "in"), "--json")
    assert added.returncode == 0, added.stderr
    assert sorted(json.loads(added.stdout)["added"]) == ["poster.pdf", "protocol.pdf"]
    shown = mia.run("agents", "show", "dmd")
    assert "file protocol.pdf · 2 page(s) · " in shown.stdout
    assert "file" in json.loads(mia.run("agents", "show", "dmd", "--json").stdout)["sources"]
    rerun = mia.run("agents", "rerun", "dmd", "--json")
    assert rerun.returncode == 0, rerun.stderr
    sources = json.loads((Path(json.loads(rerun.stdout)["report_path"]).parent / "sources.json").read_text())
    assert {"protocol.pdf, p. 2", "poster.pdf, p. 1"} <= {s["title"] for s in sources if s["kind"] == "file"}
    removed = mia.run("agents", "remove-file", "dmd", "protocol.pdf")
    assert removed.returncode == 0 and "Removed 'protocol.pdf'" in removed.stderr
    assert [f["name"] for f in json.loads(mia.run("agents", "show", "dmd", "--json").stdout)["files"]] == [
        "poster.pdf"]
    missing = mia.run("agents", "remove-file", "dmd", "protocol.pdf")
    assert missing.returncode == 1 and "no file named 'protocol.pdf'" in missing.stderr
    assert "Traceback" not in missing.stderr
    nothing = mia.run("agents", "add-files", "dmd", str(tmp_path / "nowhere" / "*.pdf"))
    assert nothing.returncode == 2 and "No file matches" in nothing.stderr
    assert pdfs[0].exists()  # the person's own copy is never touched
