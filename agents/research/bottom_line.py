"""The report's bottom line: a one-line verdict (yes / no / uncertain) with citations, or a short answer.

Synthesis is asked to open with `**Bottom line:** ...`; this module finds that line in what the model wrote,
moves it to the top when the model put it elsewhere, and reads the verdict from it (the eval scores it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERDICTS = ("yes", "no", "uncertain")
# "maybe", "unclear" and friends are the model's words for uncertain.
_SYNONYMS = {"yes": "yes", "no": "no", "uncertain": "uncertain", "maybe": "uncertain", "unclear": "uncertain",
             "inconclusive": "uncertain", "unknown": "uncertain", "possibly": "uncertain", "partly": "uncertain",
             "partially": "uncertain", "mixed": "uncertain"}
_LINE = re.compile(r"^[ \t]*(?:[>*-][ \t]*)?(?:#{1,4}[ \t]*)?\**[ \t]*bottom[ \t]+line[ \t]*:?[ \t]*\**[ \t]*:?"
                   r"[ \t]*(?P<rest>.*)$", re.IGNORECASE | re.MULTILINE)
_FIRST_WORD = re.compile(r"^[\s*_\"'`(\[]*([A-Za-z]+)")
BOTTOM_LINE_LABEL = "**Bottom line:**"


@dataclass
class BottomLine:
    """The bottom line of a report: `verdict` is yes, no, uncertain or None (an answer, not a verdict)."""

    verdict: str | None
    text: str  # the line after the label, e.g. "Yes — two trials show ... [2][4]"


def verdict_of(text: str) -> str | None:
    """yes / no / uncertain when `text` starts with such a word, else None."""
    match = _FIRST_WORD.match(text)
    return _SYNONYMS.get(match.group(1).lower()) if match else None


def find_bottom_line(text: str) -> BottomLine | None:
    """The first `Bottom line:` line in `text` (a report or its body), or None when there is none."""
    match = _LINE.search(text)
    if not match:
        return None
    rest = match.group("rest").strip()
    if not rest:  # the label on a line of its own (a heading): the answer is the next non-blank line
        following = text[match.end():].lstrip("\n").split("\n\n", 1)[0].strip()
        rest = " ".join(following.split())
    return BottomLine(verdict=verdict_of(rest), text=rest)


def lead_with_bottom_line(body: str) -> str:
    """`body` with its bottom line as the first paragraph, in mia's form; unchanged when it has none."""
    match = _LINE.search(body)
    if not match:
        return body
    line = find_bottom_line(body)
    assert line is not None
    if not match.group("rest").strip():  # heading form: drop the heading and the paragraph under it
        after = body[match.end():].lstrip("\n")
        paragraph, _, remainder = after.partition("\n\n")
        rest_of_body = (body[: match.start()] + remainder).strip()
    else:
        rest_of_body = (body[: match.start()] + body[match.end():]).strip()
    return f"{BOTTOM_LINE_LABEL} {line.text}\n\n{rest_of_body}".rstrip() + "\n"
