"""Citation and identifier audit of a model-written body: nothing the run did not retrieve stays in it.

Checked, left to right, in one pass:
- `[n]`, `[1, 2]`, `[3-5]`: each number must be a retrieved source's number;
- links `[text](url)` (also `[7](url)`), bare URLs (`https://…`, `<https://…>`, `www.…`), DOIs (`10.x/…`,
  `doi:10.x/…`), PMIDs (`PMID: 123`), PMCIDs (`PMC123`) and NCT ids (`NCT01234567`), bare or in brackets
  or parentheses: each is matched (after normalising, `mia.identifiers`) against the retrieved sources.
A match becomes that source's number `[n]` (a link keeps its text; an NCT id stays readable with the
number after it); anything else is removed and the place marked with `REMOVED_MARK`. A citation written
as a link whose URL names another retrieved source than its number takes the URL's source.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from mia.identifiers import _strip_trailing, id_key, url_keys

REMOVED_MARK = " *(citation removed: not a retrieved source)*"
Resolve = Callable[[set[str]], "int | None"]

_NUMS = r"\d{1,4}(?:\s*[,;\u2013-]\s*\d{1,4})*"
_ID = (r"(?:PMID\s*:?\s*\d{1,9}|PMCID\s*:?\s*PMC\s?\d{1,9}|PMC\s?\d{3,9}|NCT\s?\d{8}"
       r"|(?:doi\s*:?\s*)?10\.\d{4,9}/[^\s\]\[()<>\"]+(?:\([^\s()]*\)[^\s\]\[()<>\"]*)*"
       r"|https?://[^\s\]\[()<>\"]+(?:\([^\s()]*\)[^\s\]\[()<>\"]*)*)")
BODY_RE = re.compile(
    r"(?P<link>!?\[(?P<ltext>[^\[\]\n]*)\]\((?P<lurl>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+\"[^\"]*\")?\))"
    rf"|(?P<group>[\[(]\s*(?P<gids>{_ID}(?:\s*[,;]\s*{_ID})*)\s*[\])])"
    r"|(?P<angle><(?P<aurl>https?://[^>\s]+)>)"
    rf"|(?P<bare>(?<![\w/.])(?:{_ID}|www\.[^\s\]\[()<>\"]+))"
    rf"|(?P<cite>\[(?P<nums>{_NUMS})\](?!\())",
    re.IGNORECASE)
_ID_RE = re.compile(_ID, re.IGNORECASE)
CITATION_RE = re.compile(rf"\[({_NUMS})\](?!\()")  # a [n] citation (group 1: the numbers), not a link


@dataclass
class Verified:
    """The body after the audit: the numbers it cites, and what was taken out."""

    text: str
    cited: list[int]
    removed: int  # [n] citations to numbers no retrieved source has
    removed_numbers: list[int]
    identifiers_removed: int = 0  # links, URLs, DOIs, PMIDs, PMCIDs, NCT ids no retrieved source carries
    identifiers_matched: int = 0  # ... that were turned into the number of the source that carries them
    removed_items: list[str] = field(default_factory=list)


def expand(group: str) -> list[int]:
    """`1, 3-5` -> [1, 3, 4, 5] (a range wider than 20 keeps only its ends)."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = re.split(r"\s*[\u2013-]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            numbers.extend(range(low, high + 1) if 0 < high - low <= 20 else [low, high])
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def keys_of(value: str) -> set[str]:
    """The identifier keys of one written identifier or URL (empty when it names nothing recognisable)."""
    value = _strip_trailing(value.strip())
    if re.match(r"(?i)^(https?://|www\.)", value):
        return url_keys(value if value.lower().startswith("http") else "https://" + value)
    key = id_key(re.sub(r"(?i)^pmcid\s*:?\s*", "", value))
    return {key} if key else set()


class _Audit:
    def __init__(self, text: str, valid: set[int], resolve: Resolve, *, keep_matched: bool = False) -> None:
        self.text, self.valid, self.resolve = text, valid, resolve
        self.keep_matched = keep_matched  # an answer keeps a matched identifier as written (no numbers)
        self.cited: list[int] = []
        self.removed_numbers: list[int] = []
        self.removed_items: list[str] = []
        self.matched = 0

    def cite(self, numbers: list[int]) -> str:
        for n in numbers:
            if n not in self.cited:
                self.cited.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers))

    def mark(self, match: re.Match[str]) -> str:
        after_space = match.start() > 0 and self.text[match.start() - 1].isspace()
        return REMOVED_MARK.lstrip() if after_space else REMOVED_MARK

    def lookup(self, value: str) -> int | None:
        keys = keys_of(value)
        number = self.resolve(keys) if keys else None
        if number is None:
            self.removed_items.append(_strip_trailing(value.strip()))
        else:
            self.matched += 1
        return number

    def __call__(self, match: re.Match[str]) -> str:
        if match.group("cite"):
            return match.group(0) if self.keep_matched else self._numbers(match)
        if self.keep_matched:
            return self._as_written(match)
        if match.group("link"):
            return self._link(match)
        if match.group("group"):
            return self._group(match)
        value = match.group("aurl") or match.group("bare")
        tail = value[len(_strip_trailing(value)):]
        number = self.lookup(value)
        if number is None:
            return self.mark(match) + tail
        readable = _strip_trailing(value) + " " if re.match(r"(?i)^NCT", value) else ""
        return readable + self.cite([number]) + tail

    def _as_written(self, match: re.Match[str]) -> str:
        if match.group("link"):
            if self.lookup(match.group("lurl")) is not None:
                return match.group(0)
            text = match.group("ltext").strip()
            return text + REMOVED_MARK if text and not keys_of(text) else self.mark(match)
        values = ([m.group(0) for m in _ID_RE.finditer(match.group("gids"))] if match.group("group")
                  else [match.group("aurl") or match.group("bare")])
        if all([self.lookup(v) is not None for v in values]):
            return match.group(0)
        tail = match.group(0)[len(_strip_trailing(match.group(0))):] if not match.group("group") else ""
        return self.mark(match) + tail

    def _numbers(self, match: re.Match[str]) -> str:
        numbers = expand(match.group("nums"))
        good = [n for n in numbers if n in self.valid]
        self.removed_numbers.extend(n for n in numbers if n not in self.valid)
        kept = self.cite(good)
        return kept if len(good) == len(numbers) else (kept + REMOVED_MARK if kept else self.mark(match))

    def _link(self, match: re.Match[str]) -> str:
        text, url = match.group("ltext").strip(), match.group("lurl")
        number = self.lookup(url)
        citation_like = not text or re.fullmatch(_NUMS, text) or bool(keys_of(text))
        if number is None:
            return self.mark(match) if citation_like else text + REMOVED_MARK
        return self.cite([number]) if citation_like else f"{text} {self.cite([number])}"

    def _group(self, match: re.Match[str]) -> str:
        ids = [m.group(0) for m in _ID_RE.finditer(match.group("gids"))]
        numbers = [self.lookup(i) for i in ids]
        good = [n for n in numbers if n is not None]
        cited = self.cite(good)
        if len(good) < len(numbers):
            return cited + REMOVED_MARK if cited else self.mark(match)
        if any(re.match(r"(?i)^NCT", i) for i in ids):
            return f"{match.group('group')} {cited}"  # a trial id stays readable
        return cited


def verify_body(text: str, valid: set[int], resolve: Resolve | None = None) -> Verified:
    """Audit `text`: `valid` are the retrieved sources' numbers, `resolve(keys)` the number of the retrieved
    source carrying any of those identifier keys (None: not retrieved). Without `resolve` every identifier
    and link is removed: nothing can be matched."""
    audit = _Audit(text, valid, resolve or (lambda keys: None))
    body = BODY_RE.sub(audit, text)
    return Verified(text=body, cited=audit.cited, removed=len(audit.removed_numbers),
                    removed_numbers=audit.removed_numbers, identifiers_removed=len(audit.removed_items),
                    identifiers_matched=audit.matched, removed_items=audit.removed_items)


def keys_in(text: str) -> set[str]:
    """Every identifier key written anywhere in `text` (URLs, DOIs, PMIDs, PMCIDs, NCT ids)."""
    keys: set[str] = set()
    for match in _ID_RE.finditer(text):
        keys |= keys_of(match.group(0))
    for match in re.finditer(r"(?i)\bwww\.[^\s\]\[()<>\"]+", text):
        keys |= keys_of(match.group(0))
    return keys


def audit_answer(text: str, known: set[str]) -> Verified:
    """Audit a chat answer: a link or identifier none of `known` (the keys of what the conversation's tools
    returned and the person wrote) names is removed and marked; the rest stays as written."""
    audit = _Audit(text, set(), lambda keys: 1 if keys & known else None, keep_matched=True)
    body = BODY_RE.sub(audit, text)
    return Verified(text=body, cited=[], removed=0, removed_numbers=[], identifiers_removed=len(audit.removed_items),
                    identifiers_matched=audit.matched, removed_items=audit.removed_items)


def removal_note(citations: int, identifiers: int) -> str | None:
    """The report's note about what the audit removed, or None when nothing was."""
    parts = []
    if citations:
        parts.append(f"{citations} citation(s)")
    if identifiers:
        parts.append(f"{identifiers} link(s) or identifier(s)")
    if not parts:
        return None
    return (f"**Citation check:** mia removed {' and '.join(parts)} to sources this run never retrieved; "
            "the places are marked in the text.")
