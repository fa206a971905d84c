"""A report exported for colleagues: self-contained HTML, DOCX and PDF (pandoc, typst), and reference files.

HTML is made here (markdown-it-py); DOCX and PDF are made from that HTML by pandoc as shipped in the
`pypandoc-binary` wheel, and PDF is typeset by the `typst` wheel from pandoc's Typst output, so no system
package is needed. Both live in the optional extra `mia[export]`.
"""

from __future__ import annotations

import html
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mia.agents.research import references
from mia.errors import MiaError, UsageError
from mia.files import write_atomic
from mia.models import Source
from mia.store.reports import AgentReports

FORMATS = ("html", "docx", "pdf", "bibtex", "ris", "csljson")
EXTENSIONS = {"html": ".html", "docx": ".docx", "pdf": ".pdf", "bibtex": ".bib", "ris": ".ris", "csljson": ".json"}
INSTALL_EXPORT = "pip install 'mia[export]'"
_TAG_SPLIT = re.compile(r"(<[^>]+>)")
_CITE = re.compile(r"\[(\d{1,4})\](?!\()")
_CSS = """
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0; }
main { max-width: 46rem; margin: 2rem auto; padding: 0 1.2rem; }
h1 { font-size: 1.7rem; line-height: 1.25; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
a { color: #0b57d0; } a.cite { text-decoration: none; font-size: .85em; vertical-align: super; }
blockquote { margin: 1rem 0; padding: .4rem 1rem; background: #f6f6f8; border-left: 4px solid #bbb; }
ul.sources { list-style: none; padding-left: 0; } ul.sources li { margin: .5rem 0; }
ul.sources li:target { background: #fff7d6; } .ids a { margin-right: .6rem; font-size: .9em; }
.facts { color: #555; } .back { text-decoration: none; margin-left: .3rem; }
"""


class ExportToolMissing(MiaError):
    """A format needs the optional export tools (pandoc, typst), which are not installed."""


@dataclass
class Exported:
    """Where an export was written, in which format, of which version, with how many sources."""

    path: Path
    format: str
    version: int
    sources: int
    bytes: int


def check_format(fmt: str) -> str:
    """The normalised format name; a UsageError listing the choices when it is unknown."""
    name = fmt.strip().lower().replace("-", "")
    name = {"bib": "bibtex", "csl": "csljson", "json": "csljson", "htm": "html"}.get(name, name)
    if name not in FORMATS:
        raise UsageError(f"Unknown export format '{fmt}'.", f"Choose one of: {', '.join(FORMATS)}.")
    return name


def render_export(reports: AgentReports, fmt: str, *, version: int | None = None) -> tuple[str | bytes, int, int]:
    """Report `version` (the latest when None) in `fmt`: (text or bytes, the version, the number of sources).

    Raises UsageError (format, version), WorkspaceError (no report yet) and ExportToolMissing (docx/pdf
    without the export extra).
    """
    fmt = check_format(fmt)
    number = reports.check_version(version)
    markdown = reports.markdown(number)
    retrieved = reports.sources()
    cited = references.report_sources(markdown, retrieved)
    if fmt == "bibtex":
        return references.to_bibtex(cited), number, len(cited)
    if fmt == "ris":
        return references.to_ris(cited), number, len(cited)
    if fmt == "csljson":
        return references.to_csljson(cited), number, len(cited)
    also = _uncited(retrieved, cited) if number == reports.latest() else []
    # Back links need an anchor on each first citation, which pandoc drops: only the HTML page gets them.
    page = report_html(markdown, cited, also=also, back_links=fmt == "html")
    return (page if fmt == "html" else convert_html(page, fmt)), number, len(cited)


def export_report(reports: AgentReports, fmt: str, *, output: Path | None = None,
                  version: int | None = None, cwd: Path | None = None) -> Exported:
    """Write report `version` of an agent in `fmt` to `output` (default: `<agent>-v<N>.<ext>` in `cwd`).

    The file appears whole or not at all; errors as for render_export.
    """
    fmt = check_format(fmt)
    data, number, count = render_export(reports, fmt, version=version)
    name = f"{reports.slug}-v{number}{EXTENSIONS[fmt]}"
    target = output or (cwd or Path.cwd()) / name
    if target.is_dir():
        target = target / name
    write_atomic(target, data)
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    return Exported(path=target, format=fmt, version=number, sources=count, bytes=size)


def _uncited(retrieved: list[Source], cited: list[Source]) -> list[Source]:
    urls = {s.url for s in cited}
    return [s for s in retrieved if s.url not in urls]


def report_html(markdown: str, cited: list[Source], *, also: list[Source], back_links: bool = True) -> str:
    """One self-contained HTML page: citations link to the numbered source list, sources to PubMed/CT.gov/DOI."""
    from markdown_it import MarkdownIt

    text = markdown.split("\n## Sources", 1)[0]
    lines = text.splitlines()
    title = lines[0][2:].strip() if lines and lines[0].startswith("# ") else "Report"
    body_md = "\n".join(lines[1:]) if lines and lines[0].startswith("# ") else text
    rendered = MarkdownIt("commonmark", {"html": False}).enable("table").render(body_md)
    numbers = {s.number for s in cited if s.number is not None}
    body = link_citations(rendered, numbers)
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body><main><article>",
             f"<h1>{html.escape(title)}</h1>", body, '<section id="sources">', "<h2>Sources</h2>"]
    parts += _source_list(cited, ids=True, back=back_links) if cited else ["<p><em>No sources were cited.</em></p>"]
    if also:
        parts += ["<h2>Also retrieved</h2>", *_source_list(also, ids=False, back=False)]
    parts += ["</section>", "</article></main></body>", "</html>"]
    return "\n".join(parts) + "\n"


def link_citations(rendered: str, numbers: set[int]) -> str:
    """Turn each [n] in the text (not in tags, links or code) into a link to source n; the first one gets an id."""
    seen: set[int] = set()
    out: list[str] = []
    depth = 0  # inside <a> or <code>
    for piece in _TAG_SPLIT.split(rendered):
        if piece.startswith("<"):
            tag = piece[1:].split()[0].rstrip(">").lower() if len(piece) > 2 else ""
            if tag in ("a", "code", "pre"):
                depth += 1
            elif tag in ("/a", "/code", "/pre"):
                depth = max(0, depth - 1)
            out.append(piece)
            continue
        if depth:
            out.append(piece)
            continue

        def link(match: re.Match[str]) -> str:
            n = int(match.group(1))
            if n not in numbers:
                return match.group(0)
            anchor = "" if n in seen else f' id="cite-{n}"'
            seen.add(n)
            return f'<a class="cite" href="#src-{n}"{anchor}>[{n}]</a>'

        out.append(_CITE.sub(link, piece))
    return "".join(out)


def _source_list(sources: list[Source], *, ids: bool, back: bool) -> list[str]:
    items = ['<ul class="sources">']
    for s in sources:
        anchor = f' id="src-{s.number}"' if ids and s.number is not None else ""
        label = f"[{s.number}] " if ids and s.number is not None else ""
        facts = html.escape(_facts(s))
        extra = " · ".join(f'<a href="{html.escape(url)}">{html.escape(name)}</a>' for name, url in references.links(s))
        to_text = f' <a class="back" href="#cite-{s.number}" title="back to the text">↩</a>' if anchor and back else ""
        items.append(f'<li{anchor}>{label}<a href="{html.escape(s.url)}">{html.escape(s.title)}</a>'
                     f' <span class="facts">— {facts}</span> <span class="ids">{extra}</span>{to_text}</li>')
    items.append("</ul>")
    return items


def _facts(source: Source) -> str:
    """Kind, authors, journal, date and trial facts, in one short line."""
    entry = references.source_entry(source)
    facts = entry.split(" — ", 1)[1] if " — " in entry else ""
    who = ", ".join(source.authors[:3]) + (" et al." if len(source.authors) > 3 else "")
    lead = "; ".join(part for part in (who, source.journal or "") if part)
    return f"{lead}; {facts}" if lead else facts


def convert_html(page: str, fmt: str) -> bytes:
    """DOCX or PDF bytes from the HTML page (pandoc; typst for PDF); ExportToolMissing without the extra."""
    pypandoc = _pypandoc(fmt)
    if fmt == "docx":
        with tempfile.TemporaryDirectory(prefix="mia-export-") as tmp:
            out = Path(tmp) / "report.docx"
            pypandoc.convert_text(page, "docx", format="html", outputfile=str(out))
            return out.read_bytes()
    try:
        import typst
    except ImportError:
        raise _missing("PDF", "typst") from None
    markup = pypandoc.convert_text(page, "typst", format="html")
    preamble = ('#set page(paper: "a4", margin: 2cm)\n#set text(size: 10pt)\n'
                "#show link: set text(fill: rgb(\"#0b57d0\"))\n")
    pdf: bytes = typst.compile((preamble + markup).encode("utf-8"))
    return pdf


def _pypandoc(fmt: str) -> Any:
    try:
        import pypandoc

        pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        raise _missing(fmt.upper(), "pandoc") from None
    return pypandoc


def _missing(what: str, tool: str) -> ExportToolMissing:
    return ExportToolMissing(f"{what} export needs {tool}, which comes with mia's optional export tools "
                             "(not installed).",
                             f"Install them with: {INSTALL_EXPORT}   "
                             "(from a source checkout: pip install -e '.[export]')")
