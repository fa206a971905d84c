"""A report's sources as people reuse them: the full Markdown list, and reference-manager formats."""

from __future__ import annotations

import json
import re
from typing import Any

from mia.agents.research.numbering import first_appearance
from mia.agents.research.report import source_entry
from mia.models import Source


def cited_numbers(report: str, sources: list[Source]) -> list[int]:
    """The source numbers the report's text cites, in order of first appearance."""
    body = report.split("\n## Sources", 1)[0]
    return first_appearance(body, {s.number for s in sources if s.number is not None})


def sources_markdown(slug: str, sources: list[Source], report: str) -> str:
    """Every retrieved source with its link: those the report cites first, then the rest."""
    cited = set(cited_numbers(report, sources))
    used = [s for s in sources if s.number in cited]
    rest = [s for s in sources if s.number not in cited]
    parts = [f"# Sources: {slug}", "", f"_{len(sources)} retrieved · {len(used)} cited in the report_", ""]
    if used:
        parts += [f"## Cited in the report ({len(used)})", "", *(source_entry(s) for s in used), ""]
    if rest:
        parts += [f"## Also retrieved ({len(rest)})", "", *(source_entry(s) for s in rest), ""]
    if not sources:
        parts += ["_sources.json lists no sources._", ""]
    return "\n".join(parts).rstrip() + "\n"


# --- the sources a report version cites ------------------------------------------------------

_LISTED = re.compile(r"^- \[(\d+)\] \[(.+?)\]\((\S+?)\)", re.MULTILINE)


def report_sources(report: str, sources: list[Source]) -> list[Source]:
    """The sources a report version lists under '## Sources', numbered as there, with the facts of sources.json.

    An older version may number differently from the latest sources.json, so sources are matched by URL
    first and by number only when the URL is unknown. A report without such a list (a digest) gives every
    source of sources.json.
    """
    section = report.split("\n## Sources", 1)[1] if "\n## Sources" in report else ""
    listed = _LISTED.findall(section)
    if not listed:
        return list(sources)
    by_url = {s.url: s for s in sources}
    by_number = {s.number: s for s in sources}
    out = []
    for number, title, url in listed:
        known = by_url.get(url) or by_number.get(int(number))
        if known is not None and known.url != url and url in by_url:
            known = by_url[url]
        if known is None or (known.url != url and known.title.replace("[", "(").replace("]", ")") != title):
            known = Source(kind="web", url=url, title=title)
        out.append(known.model_copy(update={"number": int(number)}))
    return out


# --- names, dates and keys ---------------------------------------------------------------------

_INITIALS = re.compile(r"^[A-Z]{1,4}$")


def split_name(name: str) -> tuple[str, str] | None:
    """'Mendell JR' -> ('Mendell', 'J. R.'); None for a group name such as 'DMD Cardiac Registry Group'."""
    parts = name.split()
    if len(parts) >= 2 and _INITIALS.match(parts[-1]):
        return " ".join(parts[:-1]), " ".join(f"{c}." for c in parts[-1])
    return None


def date_parts(date: str | None) -> list[int]:
    """'2024-05-02' -> [2024, 5, 2]; '2024' -> [2024]; [] when there is no year."""
    match = re.match(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", date or "")
    if not match:
        return []
    return [int(part) for part in match.groups() if part]


def cite_key(source: Source, taken: set[str]) -> str:
    """A readable, unique key: first author's family name + year ('mendell2024'), else kind + number."""
    family = ""
    if source.authors:
        split = split_name(source.authors[0])
        family = split[0] if split else source.authors[0]
    elif source.kind == "trial" and source.identifier:
        family = source.identifier
    base = re.sub(r"[^a-z0-9]", "", family.lower()) or f"{source.kind}{source.number or ''}"
    year = date_parts(source.date)[:1]
    key = f"{base}{year[0] if year else ''}"
    candidate, n = key, 0
    while candidate in taken:
        n += 1
        candidate = f"{key}{chr(ord('a') + n - 1) if n <= 26 else n}"
    taken.add(candidate)
    return candidate


def pmid_of(source: Source) -> str | None:
    """The PMID of a PubMed or Europe PMC source, when it has one."""
    ident = source.identifier or ""
    return ident if source.kind in ("pubmed", "europepmc") and ident.isdigit() else None


def nct_of(source: Source) -> str | None:
    """The NCT id of a trial."""
    ident = (source.identifier or "").upper()
    return ident if source.kind == "trial" and re.fullmatch(r"NCT\d{8}", ident) else None


def links(source: Source) -> list[tuple[str, str]]:
    """(label, URL) pairs for PubMed, ClinicalTrials.gov and DOI, where the source has the id."""
    out: list[tuple[str, str]] = []
    if pmid := pmid_of(source):
        out.append((f"PubMed {pmid}", f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"))
    if nct := nct_of(source):
        out.append((f"ClinicalTrials.gov {nct}", f"https://clinicaltrials.gov/study/{nct}"))
    if source.doi:
        out.append((f"doi:{source.doi}", f"https://doi.org/{source.doi}"))
    return out


# --- CSL-JSON ----------------------------------------------------------------------------------

def csl_item(source: Source, key: str) -> dict[str, Any]:
    """One CSL-JSON item (CSL 1.0.2 variables): papers as article-journal, trials as reports with the NCT id."""
    item: dict[str, Any] = {"id": key, "title": source.title, "URL": source.url}
    if source.kind in ("pubmed", "europepmc"):
        item["type"] = "article-journal"
        if source.journal:
            item["container-title"] = source.journal
    elif source.kind == "trial":
        item.update({"type": "report", "genre": "Clinical trial registration", "number": nct_of(source) or
                     source.identifier, "archive": "ClinicalTrials.gov",
                     "publisher": source.sponsor or "ClinicalTrials.gov"})
    else:
        item["type"] = "webpage"
    authors = []
    for name in source.authors:
        split = split_name(name)
        authors.append({"family": split[0], "given": split[1]} if split else {"literal": name})
    if not authors and source.kind == "trial" and source.sponsor:
        authors.append({"literal": source.sponsor})
    if authors:
        item["author"] = authors
    if parts := date_parts(source.date):
        item["issued"] = {"date-parts": [parts]}
    if source.doi:
        item["DOI"] = source.doi
    if pmid := pmid_of(source):
        item["PMID"] = pmid
    return item


def to_csljson(sources: list[Source]) -> str:
    """The sources as a CSL-JSON array (what Zotero, pandoc --citeproc and citeproc-js read)."""
    taken: set[str] = set()
    return json.dumps([csl_item(s, cite_key(s, taken)) for s in sources], indent=2, ensure_ascii=False) + "\n"


# --- BibTeX (bibtexparser) ---------------------------------------------------------------------

_LATEX_SPECIAL = re.compile(r"([&%#$_{}])")


def _tex(text: str) -> str:
    """Text with LaTeX's special characters escaped (URLs and DOIs are left as they are)."""
    return _LATEX_SPECIAL.sub(r"\\\1", text)


def _bib_author(name: str) -> str:
    split = split_name(name)
    return f"{split[0]}, {split[1]}" if split else "{" + _tex(name) + "}"


def to_bibtex(sources: list[Source]) -> str:
    """The sources as BibTeX: papers @article, trials @techreport numbered by NCT id, web pages @misc.

    Written with bibtexparser (v2), the library Zotero-, JabRef- and pandoc-readable BibTeX is usually made with.
    """
    import bibtexparser
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    taken: set[str] = set()
    for source in sources:
        fields: list[tuple[str, str]] = []
        if source.authors:
            fields.append(("author", " and ".join(_bib_author(a) for a in source.authors)))
        elif source.kind == "trial" and source.sponsor:
            fields.append(("author", "{" + _tex(source.sponsor) + "}"))
        fields.append(("title", "{" + _tex(source.title) + "}"))
        kind = {"pubmed": "article", "europepmc": "article", "trial": "techreport"}.get(source.kind, "misc")
        if kind == "article" and source.journal:
            fields.append(("journal", _tex(source.journal)))
        if kind == "techreport":
            fields += [("institution", _tex(source.sponsor or "ClinicalTrials.gov")),
                       ("type", "Clinical trial registration"), ("number", nct_of(source) or source.identifier or "")]
        parts = date_parts(source.date)
        if parts:
            fields.append(("year", str(parts[0])))
        if len(parts) > 1:
            fields.append(("month", str(parts[1])))
        if source.doi:
            fields.append(("doi", source.doi))
        if pmid := pmid_of(source):
            fields.append(("pmid", pmid))
        fields.append(("url", source.url))
        if source.kind == "web":
            fields.append(("howpublished", "\\url{" + source.url + "}"))
        library.add(Entry(kind, cite_key(source, taken), [Field(k, v) for k, v in fields]))
    return str(bibtexparser.write_string(library))


# --- RIS (rispy) -------------------------------------------------------------------------------

def to_ris(sources: list[Source]) -> str:
    """The sources as RIS (EndNote, Zotero, Mendeley): JOUR for papers, RPRT for trials, ELEC for web pages.

    Written with rispy. PMIDs and NCT ids go in AN (accession number) and, for Zotero, as 'PMID: ...' in N1.
    """
    import rispy

    class PlainRisWriter(rispy.RisWriter):
        """No '1.' line before each record: pandoc's RIS reader (and strict importers) reject it."""

        def set_header(self, count: int) -> str:
            return ""

    entries = []
    for source in sources:
        kind = {"pubmed": "JOUR", "europepmc": "JOUR", "trial": "RPRT"}.get(source.kind, "ELEC")
        entry: dict[str, Any] = {"type_of_reference": kind, "title": source.title, "urls": [source.url]}
        # "Family, Given"; a group or a sponsor ends with a comma, RIS's way of saying "no given name".
        authors = [", ".join(split) if (split := split_name(a)) else f"{a}," for a in source.authors]
        if not authors and source.kind == "trial" and source.sponsor:
            authors = [f"{source.sponsor},"]
        if authors:
            entry["authors"] = authors
        if source.journal and kind == "JOUR":
            entry["secondary_title"] = source.journal
        parts = date_parts(source.date)
        if parts:
            entry["year"] = str(parts[0])
            entry["date"] = "/".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts)) + \
                ("/" * (3 - len(parts)) if len(parts) < 3 else "")
        if source.doi:
            entry["doi"] = source.doi
        notes = []
        if pmid := pmid_of(source):
            entry["accession_number"] = pmid
            notes.append(f"PMID: {pmid}")
        if nct := nct_of(source):
            entry["accession_number"] = nct
            entry["publisher"] = source.sponsor or "ClinicalTrials.gov"
            entry["type_of_work"] = "Clinical trial registration"
            entry["number"] = nct
            notes.append(f"ClinicalTrials.gov: {nct}")
        if notes:
            entry["notes"] = notes
        entries.append(entry)
    return str(rispy.dumps(entries, implementation=PlainRisWriter))
