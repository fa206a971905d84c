"""One normal form for the identifiers of documents: URLs, DOIs, PMIDs, PMCIDs and NCT ids.

A *key* is a string such as ``pmid:38999999``, ``pmcid:PMC1234567``, ``doi:10.1056/nejmoa2033034``,
``nct:NCT01234567`` or ``url:example.org/path?a=1``. Two documents that share a key are the same
document: the keys dedupe sources across services, verify identifiers written in a report, and compare
sources between runs. The id inside a PubMed, PMC, Europe PMC, doi.org or clinicaltrials.gov URL is a
key of that URL too, so ``https://pubmed.ncbi.nlm.nih.gov/38999999/`` and ``PMID: 38999999`` match.

URL and id forms followed: NCBI "PubMed Help" (pubmed.ncbi.nlm.nih.gov/PMID/), "PMC article
identifiers" (PMCID = "PMC" + digits; pmc.ncbi.nlm.nih.gov/articles/PMCID/ and the older
www.ncbi.nlm.nih.gov/pmc/articles/PMCID/), the DOI Handbook §2.4 and §3.8 (DOIs are case-insensitive;
resolver https://doi.org/DOI), ClinicalTrials.gov's NCT number ("NCT" + 8 digits; /study/NCT… and the
classic /ct2/show/NCT…), Europe PMC article URLs (europepmc.org/article/SOURCE/ID, /abstract/MED/ID).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "igshid",
                   "yclid", "ref_src", "spm", "sc_campaign", "trk", "cmpid", "icid"}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")

DOI_RE = re.compile(r"\b10\.\d{4,9}/(?:[^\s\"<>\]\[(){}]|\([^\s()]*\))+", re.IGNORECASE)
PMID_RE = re.compile(r"\bPMID\s*:?\s*(\d{1,9})\b", re.IGNORECASE)
PMCID_RE = re.compile(r"\bPMC\s?(\d{3,9})\b", re.IGNORECASE)
NCT_RE = re.compile(r"\bNCT\s?(\d{8})\b", re.IGNORECASE)

_PUBMED_PATH = re.compile(r"^/(?:pubmed/)?(\d{1,9})$")
_PMC_PATH = re.compile(r"/(?:pmc/)?articles/(PMC\d+)", re.IGNORECASE)
_EPMC_PATH = re.compile(r"^/(?:article|abstract|api/fulltextRepo)/(MED|PMC|PPR|AGR|CBA|CTX|ETH|HIR|PAT)/"
                        r"([A-Za-z0-9]+)", re.IGNORECASE)
_NCT_PATH = re.compile(r"(NCT\d{8})", re.IGNORECASE)
_DOI_IN_PATH = re.compile(r"/(?:doi/(?:(?:abs|full|pdf|epdf|reader)/)?)?(10\.\d{4,9}/.+)$", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"»”’>*_"


def _strip_trailing(value: str) -> str:
    while value and value[-1] in _TRAILING:
        if value[-1] == ")" and value.count("(") >= value.count(")"):
            break  # a DOI or URL may carry its own balanced parentheses, e.g. 10.1016/S0140-6736(20)30183-5
        value = value[:-1]
    return value


def normalize_doi(value: str) -> str | None:
    """`10.xxxx/suffix` in lower case (DOIs are case-insensitive), or None when `value` holds none.

    Accepts `doi:10…`, `https://doi.org/10…`, `dx.doi.org/…` and percent-encoded forms.
    """
    match = DOI_RE.search(unquote(value.strip()))
    if not match:
        return None
    return _strip_trailing(match.group(0)).lower() or None


def normalize_pmid(value: str) -> str | None:
    """The PMID's digits without leading zeros (`PMID: 0123` -> `123`), or None."""
    digits = re.sub(r"^\s*(?:pmid\s*:?\s*)?", "", value.strip(), flags=re.IGNORECASE)
    return str(int(digits)) if digits.isdigit() and 0 < int(digits) < 10**9 else None


def normalize_pmcid(value: str) -> str | None:
    """`PMC` + digits in upper case (`pmc 123` -> `PMC123`), or None."""
    match = re.fullmatch(r"\s*PMC\s?(\d{1,9})\s*", value, re.IGNORECASE)
    return f"PMC{int(match.group(1))}" if match else None


def normalize_nct(value: str) -> str | None:
    """`NCT` + 8 digits in upper case, or None."""
    match = re.fullmatch(r"\s*NCT\s?(\d{8})\s*", value, re.IGNORECASE)
    return f"NCT{match.group(1)}" if match else None


def normalize_url(url: str) -> str | None:
    """A URL's comparable form: no scheme, no `www.`, lower-case host, no trailing slash, no fragment,
    no tracking parameters (utm_*, fbclid, gclid, ...), remaining query parameters sorted. None if not http(s).
    """
    url = _strip_trailing(url.strip().strip("<>"))
    if url.lower().startswith("www."):
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = re.sub(r"/{2,}", "/", unquote(parts.path)).rstrip("/")
    for suffix in ("/index.html", "/index.htm", "/index.php"):
        path = path.removesuffix(suffix)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES))
    return host + path + (f"?{urlencode(query)}" if query else "")


def url_keys(url: str) -> set[str]:
    """The keys of a URL: its normal form and the document id inside it (PMID, PMCID, DOI, NCT id)."""
    normal = normalize_url(url)
    if normal is None:
        return set()
    keys = {f"url:{normal}"}
    host, _, rest = normal.partition("/")
    path = "/" + rest.split("?", 1)[0]
    query = dict(parse_qsl(urlsplit("https://" + normal).query))
    pubmed = host in ("pubmed.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov")
    if pubmed and (m := _PUBMED_PATH.match(path)) and (pmid := normalize_pmid(m.group(1))):
        keys.add(f"pmid:{pmid}")
    if host in ("pmc.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov", "europepmc.org") and (m := _PMC_PATH.search(path)):
        keys.add(f"pmcid:{normalize_pmcid(m.group(1))}")
    if host == "europepmc.org" and (m := _EPMC_PATH.match(path)):
        keys |= _epmc_keys(m.group(1).upper(), m.group(2))
    if host.endswith("clinicaltrials.gov"):
        match = _NCT_PATH.search(path) or _NCT_PATH.search(query.get("term", "") + query.get("cond", ""))
        if match and (nct := normalize_nct(match.group(1))):
            keys.add(f"nct:{nct}")
    if host in ("doi.org", "dx.doi.org") or "/10." in path:
        match = _DOI_IN_PATH.search(path)
        if match and (doi := normalize_doi(match.group(1))):
            keys.add(f"doi:{doi}")
    return keys


def _epmc_keys(source: str, ident: str) -> set[str]:
    if source == "MED" and (pmid := normalize_pmid(ident)):
        return {f"pmid:{pmid}"}
    if source == "PMC" and (pmcid := normalize_pmcid(ident)):
        return {f"pmcid:{pmcid}"}
    return {f"epmc:{source}/{ident.upper()}"}


def id_key(value: str) -> str | None:
    """The key of one identifier written any usual way (PMID, PMCID, DOI, NCT id, URL), else None.

    A bare number is taken as a PMID (that is how PubMed and Europe PMC records carry it).
    """
    value = value.strip()
    if not value:
        return None
    if re.match(r"(?i)^(https?://|www\.)", value):
        keys = sorted(url_keys(value), key=lambda k: k.startswith("url:"))
        return keys[0] if keys else None
    for prefix, normalise in (("nct", normalize_nct), ("pmcid", normalize_pmcid), ("pmid", normalize_pmid)):
        if (normal := normalise(value)) is not None:
            return f"{prefix}:{normal}"
    if (doi := normalize_doi(value)) is not None:
        return f"doi:{doi}"
    return None


def document_keys(*, url: str | None = None, identifiers: Iterable[str | None] = ()) -> set[str]:
    """Every key of one document: those of its URL and of each identifier it carries."""
    keys = url_keys(url) if url else set()
    for ident in identifiers:
        if ident and (key := id_key(ident)):
            keys.add(key)
    return keys


def strongest(keys: Iterable[str]) -> str | None:
    """The key that best names a document: an NCT id, PMID, PMCID or DOI before a URL."""
    order = ("nct:", "pmid:", "pmcid:", "doi:", "epmc:", "url:")
    ranked = sorted(keys, key=lambda k: next((i for i, p in enumerate(order) if k.startswith(p)), len(order)))
    return ranked[0] if ranked else None
