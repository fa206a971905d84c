"""Open-access full text from Europe PMC: `GET {base}/{PMCID}/fullTextXML` (JATS XML), split into sections.

Europe PMC's REST API serves the full text of open-access articles it holds as JATS XML at
`/webservices/rest/{PMCID}/fullTextXML` and answers 404 when it has none (Europe PMC RESTful Web Service
reference, "fullTextXML"). Sections are JATS `<sec>` elements with a `<title>`; nested sections are named
"Results > Adverse events". Figures, tables and references are left out: extraction quotes prose.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import httpx

from mia.errors import ServiceError
from mia.tools.http import RateLimiter, RetryPolicy
from mia.tools.search import ServiceClient, clean

PMCID_RE = re.compile(r"^PMC\d+$", re.IGNORECASE)
SKIP = {"fig", "table-wrap", "ref-list", "table", "graphic", "media", "supplementary-material", "disp-formula"}
MAX_XML_BYTES = 8_000_000


class EuropePMCFullText(ServiceClient):
    """Fetches an article's full text by PMCID; keyless, shares Europe PMC's rate."""

    name = "fulltext"
    service = "Europe PMC"
    setting = "europepmc.base_url"
    rate = (10.0, 10)

    def __init__(self, *, http: httpx.Client, base_url: str, limiter: RateLimiter | None = None,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__(http=http, base_url=base_url, limiter=limiter, retry=retry)

    def fetch_xml(self, pmcid: str) -> bytes | None:
        """The JATS XML of `pmcid`, or None when Europe PMC has no open full text for it (HTTP 404).

        Raises ServiceError for other failures (the caller treats them as "read the abstract instead").
        """
        if not PMCID_RE.match(pmcid):
            raise ValueError(f"not a PMCID: {pmcid!r}")
        calls = self.calls()
        try:
            response = calls.send("GET", f"{pmcid.upper()}/fullTextXML")
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        if len(response.content) > MAX_XML_BYTES:
            raise calls.unexpected(f"a full text of {len(response.content):,} bytes for {pmcid}")
        return response.content


def sections(xml: bytes) -> list[tuple[str, str]]:
    """(section name, plain text) pairs of a JATS article: the abstract, then each body section in order.

    Returns [] for XML that cannot be parsed or has no body.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return []
    out: list[tuple[str, str]] = []
    abstract = root.find(".//front//abstract")
    if abstract is not None and (text := _paragraphs(abstract)):
        out.append(("Abstract", text))
    body = root.find(".//body")
    if body is None:
        return out
    loose = _paragraphs(body, direct_only=True)
    if loose:
        out.append(("Body", loose))
    for sec in body.findall("sec"):
        _walk(sec, [], out)
    return out


def _walk(sec: ET.Element, trail: list[str], out: list[tuple[str, str]]) -> None:
    heading = sec.find("title")
    title = clean("".join(heading.itertext())) if heading is not None else ""
    path = [*trail, title] if title else trail
    text = _paragraphs(sec, direct_only=True)
    if text:
        out.append((" > ".join(path) or "Body", text))
    for child in sec.findall("sec"):
        _walk(child, path, out)


def _paragraphs(element: ET.Element, *, direct_only: bool = False) -> str:
    found = element.findall("p") if direct_only else element.iter("p")
    texts = [_text(p) for p in found]
    return "\n\n".join(t for t in texts if t)


def _text(element: ET.Element) -> str:
    parts: list[str] = []

    def visit(node: ET.Element) -> None:
        if node.tag in SKIP:
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            visit(child)
            if child.tail:
                parts.append(child.tail)

    visit(element)
    return clean("".join(parts))
