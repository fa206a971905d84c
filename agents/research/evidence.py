"""Evidence checks in code: a claim's quote must occur in the text of the source it cites.

Text and quote are compared after normalising Unicode (NFKC), case, whitespace, quotation marks (curly,
straight, guillemets) and dashes (hyphen, en/em dash, minus). A quote may leave words out with an ellipsis
(`...` or `…`) as long as each piece is found in order and the gap is short (`MAX_GAP` characters).

A claim whose quote is found in its named source is *verified*; one found only in another retrieved
source is *re-attributed* to that source; one whose quote is empty or found nowhere is *unverified* and
is dropped from the evidence given to synthesis (it stays in evidence/claims.json, marked, so a reader can
see what was dropped and why).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_GAP = 400  # characters of source text an ellipsis may stand for
MIN_PIECE = 3  # characters; shorter pieces around an ellipsis are ignored
QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\u00b4`\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"
                                "\u2039\u203a\""), "'")
DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
ELLIPSIS_RE = re.compile(r"\s*(?:\.\s?\.\s?\.|\u2026|\[\s*(?:\.\.\.|\u2026)\s*\])\s*")


@dataclass(frozen=True)
class Found:
    """Where a quote was found: [start, end) character offsets into the original text, and in which text."""

    start: int
    end: int
    where: Hashable = None


def normalise(text: str) -> tuple[str, list[int]]:
    """The comparable form of `text` and, for each of its characters, the offset it came from in `text`."""
    out: list[str] = []
    where: list[int] = []
    space = True  # drop leading whitespace; collapse runs to one space
    for offset, char in enumerate(text):
        for c in unicodedata.normalize("NFKC", char).translate(QUOTES).translate(DASHES).casefold():
            if c.isspace():
                if not space:
                    out.append(" ")
                    where.append(offset)
                space = True
                continue
            out.append(c)
            where.append(offset)
            space = False
    if out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def _pieces(quote: str) -> list[str]:
    cleaned = quote.strip().strip("'\"\u201c\u201d\u2018\u2019\u00ab\u00bb ")
    pieces = [normalise(p)[0].strip(" .,;:") for p in ELLIPSIS_RE.split(cleaned)]
    return [p for p in pieces if len(p) >= MIN_PIECE]


def find_quote(quote: str, text: str) -> Found | None:
    """Where `quote` occurs in `text` (offsets into `text`), or None. An empty quote is never found."""
    pieces = _pieces(quote or "")
    if not pieces or not text:
        return None
    haystack, where = normalise(text)
    start = haystack.find(pieces[0])
    while start >= 0:
        end = _rest(haystack, pieces[1:], start + len(pieces[0]))
        if end is not None:
            return Found(where[start], where[end - 1] + 1)
        start = haystack.find(pieces[0], start + 1)
    return None


def _rest(haystack: str, pieces: list[str], position: int) -> int | None:
    for piece in pieces:
        found = haystack.find(piece, position, position + MAX_GAP + len(piece))
        if found < 0:
            return None
        position = found + len(piece)
    return position


def locate(quote: str, texts: Mapping[Any, str], prefer: Hashable = None) -> Found | None:
    """Find `quote` in `texts` (e.g. {source number: text} or {(number, section): text}), trying `prefer`
    first; the result's `where` names the text it was found in."""
    order = ([prefer] if prefer in texts else []) + [k for k in texts if k != prefer]
    for key in order:
        found = find_quote(quote, texts[key])
        if found is not None:
            return Found(found.start, found.end, key)
    return None


@dataclass
class QuoteCheck:
    """The claims that may go to synthesis, and the counts for --json and the run record."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    verified: int = 0
    reattributed: int = 0

    @property
    def unverified(self) -> int:
        return len(self.dropped)

    def counts(self) -> dict[str, int]:
        return {"quotes_verified": self.verified, "quotes_unverified": self.unverified,
                "claims_reattributed": self.reattributed}

    def dropped_notice(self) -> str | None:
        """What the person is told about the claims left out: a claim without any quote is not one whose
        quote was looked for and not found, and small models often give none."""
        if not self.dropped:
            return None
        missing = sum(1 for c in self.dropped if not str(c.get("quote") or "").strip())
        not_found = len(self.dropped) - missing
        if not not_found:
            why = "they gave no quote"
        elif not missing:
            why = "their quote was not found in any retrieved source"
        else:
            why = f"{missing} gave no quote and {not_found} a quote not found in any retrieved source"
        return f"{len(self.dropped)} extracted claim(s) were left out: {why}."


def check_claims(claims: list[dict[str, Any]], texts: Mapping[int, str]) -> QuoteCheck:
    """Check each claim's quote against `texts` ({source number: the text the model was shown}).

    Each returned claim carries `quote_check` (`verified`, `reattributed` with `cited_as`, or `not_found`)
    and, when found, `quote_at` ([start, end) in that source's text). Re-attributed claims count as verified.
    """
    result = QuoteCheck()
    for claim in claims:
        found = locate(str(claim.get("quote") or ""), texts, prefer=claim.get("source"))
        if found is None:
            result.dropped.append({**claim, "quote_check": "not_found"})
            continue
        result.verified += 1
        checked = {**claim, "quote_check": "verified", "quote_at": [found.start, found.end]}
        if found.where != claim.get("source"):
            result.reattributed += 1
            checked.update(source=found.where, cited_as=claim.get("source"), quote_check="reattributed")
        result.kept.append(checked)
    return result


def source_text(title: str, snippet: str) -> str:
    """The text of a source a quote may come from when only its title and snippet were retrieved."""
    return f"{title}\n{snippet}"


def check_against_sources(claims: list[dict[str, Any]], sources: list[Any]) -> QuoteCheck:
    """`check_claims` against what the extraction prompt showed of each source: its title and snippet; for
    a page of the person's own document (kind `file`), the whole text of that page."""
    return check_claims(claims, {s.number: _text_of(s) for s in sources if s.number is not None})


def _text_of(source: Any) -> str:
    if getattr(source, "kind", None) == "file":
        from mia.tools.local_files import page_text_of

        page = page_text_of(source.url)
        if page is not None:
            return source_text(source.title, page)
    return source_text(source.title, source.snippet)
